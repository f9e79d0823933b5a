//! [`KeysError`]: why a signing-key operation failed. Sealing failures are
//! told with the kid of the key concerned; retirement refusals are the
//! schedule's own ([`RetireRefused`]).

use tessera_core::jwt::KeyError;
use tessera_core::key_schedule::RetireRefused;
use tessera_core::secrets::RandomnessUnavailable;
use tessera_store::StoreError;

use crate::sealing::SealError;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Random(#[from] RandomnessUnavailable),
    #[error(
        "no key_encryption_key configured: with an https issuer, signing keys are stored encrypted under a key from the configuration; set key_encryption_key or TESSERA_KEY_ENCRYPTION_KEY to the base64 of 32 random bytes (`openssl rand -base64 32`)"
    )]
    MissingEncryptionKey,
    /// Production mode refuses a key-encryption key that is not 32 random
    /// bytes ([`crate::sealing::KeyEncryptionKey::weakness`]).
    #[error(
        "key_encryption_key is weak: {0}; with an https issuer it must be 32 random bytes, in base64 (`openssl rand -base64 32`)"
    )]
    WeakEncryptionKey(&'static str),
    #[error(
        "signing key `{kid}` cannot be decrypted with the configured key_encryption_key: the keys in this database were sealed under another key (in development mode without key_encryption_key, a generated key kept in the database), or the stored key was altered"
    )]
    WrongEncryptionKey { kid: String },
    #[error("signing key `{kid}` is stored corrupt: {what}")]
    Corrupt { kid: String, what: String },
    #[error("no signing key `{0}`")]
    NoSuchKey(String),
    /// The schedule does not allow the retirement (yet).
    #[error(transparent)]
    Refused(#[from] RetireRefused),
    #[error("no signing key is active")]
    NoActiveKey,
    /// Sealing failed for a reason that is not the stored key's.
    #[error(transparent)]
    Sealing(SealError),
}

impl KeysError {
    /// A sealing failure on the key `kid`.
    pub(super) fn sealing(kid: &str, e: SealError) -> Self {
        match e {
            SealError::Corrupt(what) => Self::Corrupt {
                kid: kid.to_owned(),
                what: what.to_owned(),
            },
            SealError::WrongKey => Self::WrongEncryptionKey {
                kid: kid.to_owned(),
            },
            SealError::Random(e) => Self::Random(e),
            e @ (SealError::InvalidKey | SealError::Seal) => Self::Sealing(e),
        }
    }
}
