//! User passwords: Argon2id with a random salt, run off the async threads.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed")]
    Hash,
    #[error("the password hashing task failed")]
    Join,
}

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
