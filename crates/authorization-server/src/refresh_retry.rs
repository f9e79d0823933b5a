//! The refresh retry window: the answer to a refresh, kept sealed for a few
//! seconds so a client whose answer was lost (a timeout, a crashed proxy,
//! two tabs refreshing at once) gets the same pair again instead of tripping
//! reuse detection and losing the whole family.
//!
//! Each answer is sealed under its own key, derived from the parent token's
//! hash under a key derived from the key-encryption key. One key seals one
//! answer, so random nonces never meet the AES-GCM birthday bound however
//! many refreshes are served; the store holds only ciphertext.

use serde::{Deserialize, Serialize};
use tessera_core::UnixTime;
use tessera_core::secrets::{Randomness, TokenHash};

use crate::sealing::{KeyEncryptionKey, SealError};

/// The label of the derived root key.
pub const ROOT_LABEL: &[u8] = b"tessera refresh-retry v1";
/// The associated data of every sealed answer.
const AAD: &str = "refresh-retry";

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("sealing a refresh answer failed")]
    Seal(#[source] SealError),
    #[error("a kept refresh answer could not be opened")]
    Open,
    #[error("a kept refresh answer is malformed")]
    Malformed,
}

/// The answer given to a refresh, as the client received it.
#[derive(Clone, Serialize, Deserialize)]
pub struct RetryAnswer {
    pub access_token: String,
    pub refresh_token: String,
    pub scope: String,
    pub issued_at: UnixTime,
    /// The OpenID Connect ID token of that answer, when the grant has
    /// `openid`: a retry gets the very same one.
    #[serde(default)]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for RetryAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryAnswer")
            .field("scope", &self.scope)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

/// Seals and opens kept answers.
#[derive(Clone)]
pub struct RetrySealer(KeyEncryptionKey);

impl std::fmt::Debug for RetrySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetrySealer(<redacted>)")
    }
}

impl RetrySealer {
    /// `root` is the key-encryption key derived with [`ROOT_LABEL`].
    pub fn new(root: KeyEncryptionKey) -> Self {
        Self(root)
    }

    fn key_for(&self, parent: &TokenHash) -> KeyEncryptionKey {
        self.0.derive(parent.as_str().as_bytes())
    }

    pub fn seal(
        &self,
        parent: &TokenHash,
        answer: &RetryAnswer,
        rng: &dyn Randomness,
    ) -> Result<Vec<u8>, RetryError> {
        let json = serde_json::to_vec(answer).map_err(|_| RetryError::Malformed)?;
        self.key_for(parent)
            .seal(AAD, &json, rng)
            .map_err(RetryError::Seal)
    }

    pub fn open(&self, parent: &TokenHash, sealed: &[u8]) -> Result<RetryAnswer, RetryError> {
        let json = self
            .key_for(parent)
            .open(AAD, sealed)
            .map_err(|_| RetryError::Open)?;
        serde_json::from_slice(&json).map_err(|_| RetryError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_runtime::SystemRandomness;

    #[test]
    fn an_answer_opens_only_for_its_parent_and_root() -> Result<(), RetryError> {
        let sealer = RetrySealer::new(KeyEncryptionKey::from_bytes([1; 32]).derive(ROOT_LABEL));
        let answer = RetryAnswer {
            access_token: "at".into(),
            refresh_token: "rt".into(),
            scope: "a b".into(),
            issued_at: 5,
            id_token: Some("eyJ.id.token".into()),
        };
        let parent = TokenHash::of("parent");
        let sealed = sealer.seal(&parent, &answer, &SystemRandomness)?;
        assert!(!sealed.windows(2).any(|w| w == b"rt"), "no token in clear");
        assert_eq!(sealer.open(&parent, &sealed)?.refresh_token, "rt");
        assert!(sealer.open(&TokenHash::of("other"), &sealed).is_err());
        let other_root = RetrySealer::new(KeyEncryptionKey::from_bytes([2; 32]).derive(ROOT_LABEL));
        assert!(other_root.open(&parent, &sealed).is_err());
        // The signing-key key itself cannot open it either.
        assert!(
            KeyEncryptionKey::from_bytes([1; 32])
                .open(AAD, &sealed)
                .is_err()
        );
        Ok(())
    }
}
