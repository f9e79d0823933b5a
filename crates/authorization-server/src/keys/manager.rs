//! [`KeyManager`]: signing-key operations against the store (listing,
//! rotating, retiring, loading and unsealing), shared by the server's
//! [`KeyRing`](super::KeyRing) and the `tessera keys` commands. What the
//! answers mean comes from [`tessera_core::key_schedule`].

use std::collections::HashMap;
use std::sync::Arc;

use tessera_core::UnixTime;
use tessera_core::jwt::{KeyError, SigningAlgorithm, SigningKey};
use tessera_core::key_schedule::{
    self, KeyInfo, KeyPurpose, KeyRecord, KeyState, RetireRefused, activation_order,
};
use tessera_core::redirect_uri::Mode;
use tessera_core::secrets::{self, Randomness};
use tessera_store::{PURPOSE_ACCESS_TOKEN, PURPOSE_ID_TOKEN, Store, StoredSigningKey};
use tokio::sync::OnceCell;

use super::{KeyPolicy, KeysError};
use crate::sealing::KeyEncryptionKey;

/// `encryption` of a sealed key: AES-256-GCM, nonce || ciphertext || tag.
const SEALED: &str = "A256GCM";
/// `encryption` of a key written in clear before keys were sealed.
const CLEAR: &str = "none";
/// Where development mode keeps its generated key-encryption key.
pub const DEV_KEK_SETTING: &str = "signing_key_encryption_key";

/// A live key, decrypted.
#[derive(Debug, Clone)]
pub(super) struct LiveKey {
    pub(super) activates_at: UnixTime,
    pub(super) created_at: UnixTime,
    /// Signs ID tokens (of its algorithm) rather than access tokens.
    pub(super) id_token: bool,
    pub(super) key: Arc<SigningKey>,
}

/// Key operations against the store: listing, rotating, retiring, loading.
/// Shared by the server's [`KeyRing`](super::KeyRing) and the `tessera keys`
/// commands.
pub struct KeyManager {
    store: Arc<dyn Store>,
    rng: Arc<dyn Randomness>,
    mode: Mode,
    policy: KeyPolicy,
    access_token_lifetime: i64,
    encryption_key: OnceCell<KeyEncryptionKey>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The schedule's view of a stored key.
fn key_record(k: &StoredSigningKey) -> KeyRecord {
    KeyRecord {
        kid: k.kid.clone(),
        algorithm: k.algorithm.clone(),
        purpose: KeyPurpose::from_stored(&k.purpose),
        created_at: k.created_at,
        activates_at: k.activates_at,
        retired_at: k.retired_at,
    }
}

impl KeyManager {
    /// `mode` decides whether a missing key-encryption key is an error
    /// (production) or replaced by a generated one (development);
    /// `access_token_lifetime` is how long a retired key's last tokens live.
    pub fn new(
        store: Arc<dyn Store>,
        rng: Arc<dyn Randomness>,
        policy: KeyPolicy,
        mode: Mode,
        access_token_lifetime: i64,
    ) -> Self {
        Self {
            store,
            rng,
            mode,
            policy,
            access_token_lifetime,
            encryption_key: OnceCell::new(),
        }
    }

    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// How long after it stops signing a key stays published: the longest a
    /// token it signed lives, plus the longest a server may go on signing
    /// with it before its next reload shows it a key activated at once.
    fn retire_margin(&self) -> i64 {
        self.access_token_lifetime
            .saturating_add(self.policy.reload_interval_secs)
    }

    /// The key-encryption key: the configured one (refused in production
    /// mode when weak); in development mode
    /// without one, a generated key kept in the store's settings; in
    /// production mode without one, an error.
    async fn encryption_key(&self) -> Result<&KeyEncryptionKey, KeysError> {
        self.encryption_key
            .get_or_try_init(|| async {
                if let Some(key) = &self.policy.encryption_key {
                    if let Some(weakness) = key.weakness() {
                        if self.mode == Mode::Production {
                            return Err(KeysError::WeakEncryptionKey(weakness));
                        }
                        tracing::warn!(
                            weakness,
                            "key_encryption_key is weak; allowed in development mode only"
                        );
                    }
                    return Ok(key.clone());
                }
                if self.mode == Mode::Production {
                    return Err(KeysError::MissingEncryptionKey);
                }
                let mut fresh = [0u8; 32];
                self.rng.fill(&mut fresh)?;
                let stored = self.store.setting_or_init(DEV_KEK_SETTING, &fresh).await?;
                let bytes: [u8; 32] = stored.try_into().map_err(|_| KeysError::Corrupt {
                    kid: "-".into(),
                    what: format!("setting `{DEV_KEK_SETTING}` is not 32 bytes"),
                })?;
                tracing::warn!(
                    "no key_encryption_key configured: signing keys are encrypted under a generated key kept in the same database, which protects nothing; this is for development only (an https issuer requires key_encryption_key)"
                );
                Ok(KeyEncryptionKey::from_bytes(bytes))
            })
            .await
    }

    /// A key derived from the key-encryption key for another purpose (see
    /// [`KeyEncryptionKey::derive`]); in development mode without a
    /// configured key, from the generated one.
    pub async fn derived_key(&self, label: &[u8]) -> Result<KeyEncryptionKey, KeysError> {
        Ok(self.encryption_key().await?.derive(label))
    }

    /// Every key and its state at `now`, in activation order. Needs no
    /// key-encryption key.
    pub async fn list(&self, now: UnixTime) -> Result<Vec<KeyInfo>, KeysError> {
        let records: Vec<KeyRecord> = self
            .store
            .signing_keys()
            .await?
            .iter()
            .map(key_record)
            .collect();
        Ok(key_schedule::schedule(&records, now, self.retire_margin()))
    }

    /// Creates a new key, published at once and signing from `now` plus the
    /// pre-publication window (or from `now` if `immediately`, or if no key
    /// is active: then there is nothing to go on signing with).
    pub async fn rotate(
        &self,
        algorithm: Option<SigningAlgorithm>,
        immediately: bool,
        now: UnixTime,
    ) -> Result<KeyInfo, KeysError> {
        // Proves the key-encryption key opens every live key before a new
        // one is sealed under it.
        let algorithm = algorithm.unwrap_or(self.policy.algorithm);
        self.rotate_chain(algorithm, false, immediately, now).await
    }

    /// Like [`KeyManager::rotate`], for the ID-token key of `algorithm`.
    pub async fn rotate_id_token_key(
        &self,
        algorithm: SigningAlgorithm,
        immediately: bool,
        now: UnixTime,
    ) -> Result<KeyInfo, KeysError> {
        self.rotate_chain(algorithm, true, immediately, now).await
    }

    async fn rotate_chain(
        &self,
        algorithm: SigningAlgorithm,
        id_token: bool,
        immediately: bool,
        now: UnixTime,
    ) -> Result<KeyInfo, KeysError> {
        let live = self.load(&HashMap::new()).await?;
        let has_active = live.iter().any(|k| {
            k.activates_at <= now
                && k.id_token == id_token
                && (!id_token || k.key.algorithm() == algorithm)
        });
        let activates_at = if immediately || !has_active {
            now
        } else {
            now.saturating_add(self.policy.prepublication_secs)
        };
        let kid = self.create(algorithm, id_token, now, activates_at).await?;
        crate::app::events::write(
            self.store.as_ref(),
            now,
            crate::app::events::Kind::SigningKeyRotated,
            crate::app::events::About::default(),
            None,
            &format!(
                "new {} signing key {kid} ({}), signing from {activates_at}",
                algorithm.as_str(),
                if id_token {
                    "ID tokens"
                } else {
                    "access tokens"
                },
            ),
        )
        .await;
        self.list(now)
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or(KeysError::NoSuchKey(kid))
    }

    /// Retires `kid` if no live token can depend on it (see
    /// [`RetireRefused`] for each refusal).
    pub async fn retire(&self, kid: &str, now: UnixTime) -> Result<KeyInfo, KeysError> {
        let info = self
            .list(now)
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| KeysError::NoSuchKey(kid.to_owned()))?;
        key_schedule::check_retirable(&info, now, self.policy.reload_interval_secs)?;
        if !self.store.retire_signing_key(kid, now).await? {
            return Err(RetireRefused::AlreadyRetired(kid.to_owned()).into());
        }
        crate::app::events::write(
            self.store.as_ref(),
            now,
            crate::app::events::Kind::SigningKeyRetired,
            crate::app::events::About::default(),
            None,
            &format!("signing key {kid} retired: no longer published"),
        )
        .await;
        Ok(KeyInfo {
            state: KeyState::Retired,
            retired_at: Some(now),
            ..info
        })
    }

    /// Generates, seals and stores a key; returns its kid.
    pub(super) async fn create(
        &self,
        algorithm: SigningAlgorithm,
        id_token: bool,
        now: UnixTime,
        activates_at: UnixTime,
    ) -> Result<String, KeysError> {
        let encryption_key = self.encryption_key().await?;
        let kid = secrets::new_id(self.rng.as_ref())?;
        let for_generation = kid.clone();
        // RSA key generation takes long enough to keep off the async workers.
        let (_, der) =
            tokio::task::spawn_blocking(move || SigningKey::generate(for_generation, algorithm))
                .await
                .map_err(|_| KeyError::Generate)??;
        let sealed = encryption_key
            .seal(&kid, &der, self.rng.as_ref())
            .map_err(|e| KeysError::sealing(&kid, e))?;
        self.store
            .insert_signing_key(&StoredSigningKey {
                kid: kid.clone(),
                algorithm: algorithm.as_str().to_owned(),
                encryption: SEALED.to_owned(),
                private_key: sealed,
                created_at: now,
                activates_at,
                retired_at: None,
                purpose: if id_token {
                    PURPOSE_ID_TOKEN
                } else {
                    PURPOSE_ACCESS_TOKEN
                }
                .to_owned(),
            })
            .await?;
        Ok(kid)
    }

    /// Decrypts every live key, in activation order. Keys already in
    /// `cache` are taken from there (keys never change once stored).
    pub(super) async fn load(
        &self,
        cache: &HashMap<String, Arc<SigningKey>>,
    ) -> Result<Vec<LiveKey>, KeysError> {
        let encryption_key = self.encryption_key().await?;
        let mut live = Vec::new();
        for record in self.store.signing_keys().await? {
            if record.retired_at.is_some() {
                continue;
            }
            let key = match cache.get(&record.kid) {
                Some(key) => key.clone(),
                None => Arc::new(self.unseal(encryption_key, &record).await?),
            };
            live.push(LiveKey {
                activates_at: record.activates_at,
                created_at: record.created_at,
                id_token: KeyPurpose::from_stored(&record.purpose) == KeyPurpose::IdToken,
                key,
            });
        }
        live.sort_by_key(|k| activation_order(k.activates_at, k.created_at));
        Ok(live)
    }

    async fn unseal(
        &self,
        encryption_key: &KeyEncryptionKey,
        record: &StoredSigningKey,
    ) -> Result<SigningKey, KeysError> {
        let algorithm = SigningAlgorithm::parse(&record.algorithm)?;
        match record.encryption.as_str() {
            SEALED => {
                let der = encryption_key
                    .open(&record.kid, &record.private_key)
                    .map_err(|e| KeysError::sealing(&record.kid, e))?;
                Ok(SigningKey::from_pkcs8(record.kid.clone(), algorithm, &der)?)
            }
            CLEAR => {
                let key =
                    SigningKey::from_pkcs8(record.kid.clone(), algorithm, &record.private_key)?;
                let sealed = encryption_key
                    .seal(&record.kid, &record.private_key, self.rng.as_ref())
                    .map_err(|e| KeysError::sealing(&record.kid, e))?;
                if self
                    .store
                    .seal_signing_key(&record.kid, SEALED, &sealed)
                    .await?
                {
                    tracing::warn!(
                        kid = %record.kid,
                        "a signing key stored in clear by an earlier version is now encrypted; copies may remain in the database file's free pages, so rotate and retire it once its tokens have expired"
                    );
                }
                Ok(key)
            }
            other => Err(KeysError::Corrupt {
                kid: record.kid.clone(),
                what: format!("unknown encryption `{other}`"),
            }),
        }
    }
}
