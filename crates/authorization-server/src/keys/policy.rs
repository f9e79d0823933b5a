//! [`KeyPolicy`]: how signing keys are made, published, rotated and
//! reloaded. Part of the server configuration, which owns it; nothing here
//! knows the rest of the configuration.

use tessera_core::jwt::SigningAlgorithm;

use crate::sealing::KeyEncryptionKey;

/// Default pre-publication window: a new key is in the JWKS this long before
/// it signs anything. Longer than the JWKS's `max-age` (300 s), so resources
/// that cache the set have it before they meet a token signed with it.
pub const DEFAULT_PREPUBLICATION_SECS: i64 = 3600;
/// Default interval between reloads of the key set from the store.
pub const DEFAULT_RELOAD_INTERVAL_SECS: i64 = 30;

/// How keys are made, published, rotated and reloaded.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    /// The algorithm of the first key and of scheduled rotations.
    pub algorithm: SigningAlgorithm,
    /// How long a new key is published before it signs.
    pub prepublication_secs: i64,
    /// Rotate when the newest key is this old; `None`: only by hand.
    pub rotation_interval_secs: Option<i64>,
    /// How often a running server reloads the key set from the store.
    pub reload_interval_secs: i64,
    /// Seals private keys at rest. Required with an https issuer.
    pub encryption_key: Option<KeyEncryptionKey>,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            algorithm: SigningAlgorithm::Es256,
            prepublication_secs: DEFAULT_PREPUBLICATION_SECS,
            rotation_interval_secs: None,
            reload_interval_secs: DEFAULT_RELOAD_INTERVAL_SECS,
            encryption_key: None,
        }
    }
}
