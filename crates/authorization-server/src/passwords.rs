//! User passwords: Argon2id with a random salt, run off the async threads.
//!
//! [`hash`] and [`verify`] allocate their own Argon2 memory and run
//! unbounded: for the CLI and start-up. Logins go through
//! [`crate::password_slots`], which bounds the work and reuses the memory
//! through [`verify_with_memory`].

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
};
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed")]
    Hash,
    #[error("the password hashing task failed")]
    Join,
    #[error("a stored password hash asks for more Argon2 memory than the server allows")]
    TooCostly,
}

/// The most Argon2 memory one verification may use (64 MiB; hashes made
/// here use argon2's default, 19 MiB), so the login bound in memory holds
/// whatever a stored hash says.
pub const MAX_MEMORY_BLOCKS: usize = 64 * 1024;

/// Hashes a password with Argon2id (PHC string format).
pub async fn hash(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        PasswordHasher::<PasswordHash>::hash_password(&Argon2::default(), password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|_| PasswordError::Hash)
    })
    .await
    .map_err(|_| PasswordError::Join)?
}

/// Verifies a password against a PHC string. A well-formed hash always costs
/// one full Argon2 computation, so verifying against a dummy hash for unknown
/// users takes the same time as a real check.
pub async fn verify(password: String, phc: String) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok()
    })
    .await
    .map_err(|_| PasswordError::Join)
}

/// [`verify`] on the caller's thread, in `memory` (grown to the hash's
/// memory cost if needed, then kept by the caller for the next one): the
/// same computation and answer as argon2's own `verify_password`, without
/// an allocation per call.
pub fn verify_with_memory(
    password: &[u8],
    phc: &str,
    memory: &mut Vec<Block>,
) -> Result<bool, PasswordError> {
    let hash = PasswordHash::new(phc).map_err(|_| PasswordError::Hash)?;
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(PasswordError::Hash);
    };
    let algorithm =
        Algorithm::try_from(hash.algorithm.as_str()).map_err(|_| PasswordError::Hash)?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).map_err(|_| PasswordError::Hash)?,
        None => Version::default(),
    };
    let params = Params::try_from(&hash).map_err(|_| PasswordError::Hash)?;
    let blocks = params.block_count();
    if blocks > MAX_MEMORY_BLOCKS {
        return Err(PasswordError::TooCostly);
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    let work = memory.get_mut(..blocks).ok_or(PasswordError::Hash)?;
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, work)
        .map_err(|_| PasswordError::Hash)?;
    Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifying_in_reused_memory_agrees_with_argon2() {
        let phc = hash("correct horse".into()).await.unwrap();
        let mut memory = Vec::new();
        assert!(verify_with_memory(b"correct horse", &phc, &mut memory).unwrap());
        let kept = memory.len();
        assert_eq!(kept, Params::DEFAULT.block_count());
        assert!(!verify_with_memory(b"correct horsf", &phc, &mut memory).unwrap());
        assert!(verify_with_memory(b"correct horse", &phc, &mut memory).unwrap());
        assert_eq!(memory.len(), kept, "the memory is reused, not grown");
        assert!(verify("correct horse".into(), phc.clone()).await.unwrap());
        assert!(verify_with_memory(b"x", "not a hash", &mut memory).is_err());
    }
}
