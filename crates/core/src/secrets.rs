//! Randomness, opaque tokens, and how secrets are kept at rest.
//!
//! Codes, refresh tokens and session ids are 256 random bits, base64url
//! encoded (43 characters, all in RFC 6749's VSCHAR set). The store only ever
//! sees [`TokenHash`]es of them, so a leaked database yields nothing usable.
//! Client secrets are high-entropy too, so they are kept as an HMAC-SHA-256
//! under a server key and compared in constant time; a slow password hash
//! would buy nothing against 256-bit secrets and would cap the token endpoint.

use std::fmt;

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A source of cryptographically secure random bytes. Injected so the core
/// has no randomness of its own: the operating system's is
/// `tessera_runtime::SystemRandomness`.
pub trait Randomness: Send + Sync {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomnessUnavailable>;
}

#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomnessUnavailable;

/// A string that must never be logged: its `Debug` and `Display` are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// 256 random bits, base64url without padding (43 characters).
pub fn new_opaque_token(rng: &dyn Randomness) -> Result<SecretString, RandomnessUnavailable> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes)?;
    Ok(SecretString(URL_SAFE_NO_PAD.encode(bytes)))
}

/// A random identifier that is not secret (a key id, a grant id, a `jti`):
/// 128 bits, base64url.
pub fn new_id(rng: &dyn Randomness) -> Result<String, RandomnessUnavailable> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 of an opaque token, base64url: what the store keeps and looks
/// up by, so lookups never compare secrets byte by byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes())))
    }
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Keeps client secrets as HMAC-SHA-256 under a server key.
#[derive(Clone)]
pub struct ClientSecretHasher {
    key: hmac::Key,
}

impl fmt::Debug for ClientSecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecretHasher(<key redacted>)")
    }
}

/// Configured client secrets must be at least this long (docs/conformance.md
/// decisions); generated ones are 43 characters of base64url (256 bits).
pub const MIN_CLIENT_SECRET_LEN: usize = 32;

impl ClientSecretHasher {
    pub fn new(server_key: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, server_key),
        }
    }

    pub fn hash(&self, secret: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, secret.as_bytes()))
    }

    /// Constant-time check of `secret` against a stored hash.
    pub fn verify(&self, secret: &str, stored: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(stored) {
            Ok(tag) => hmac::verify(&self.key, secret.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    /// Bytes that differ on every call, every byte value in turn (the core
    /// has no randomness of its own, not even in tests).
    struct Counting(AtomicU8);

    impl Randomness for Counting {
        fn fill(&self, dest: &mut [u8]) -> Result<(), RandomnessUnavailable> {
            for b in dest {
                *b = self.0.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
    }

    /// Also issue 12 item 2: generated secrets (client secrets included)
    /// use only RFC 3986 unreserved characters, so no client has to
    /// form-encode them; eight tokens cover every byte value.
    #[test]
    fn opaque_tokens_are_256_bits_of_vschar() -> Result<(), RandomnessUnavailable> {
        let rng = Counting(AtomicU8::new(0));
        for _ in 0..8 {
            let t = new_opaque_token(&rng)?;
            assert_eq!(t.expose().len(), 43);
            assert!(
                t.expose()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
        }
        let t = new_opaque_token(&rng)?;
        assert_ne!(t, new_opaque_token(&rng)?);
        Ok(())
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let s = SecretString::new("hunter2hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }

    #[test]
    fn client_secret_hash_verifies_only_the_right_secret() {
        let h = ClientSecretHasher::new(b"server key");
        let stored = h.hash("correct horse battery staple 0123456789");
        assert!(h.verify("correct horse battery staple 0123456789", &stored));
        assert!(!h.verify("correct horse battery staple 012345678", &stored));
        assert!(
            !ClientSecretHasher::new(b"other key")
                .verify("correct horse battery staple 0123456789", &stored)
        );
        assert!(!h.verify("x", "not base64 !"));
    }
}
