//! Signing keys over time: generated, sealed at rest, published ahead of use,
//! active, superseded, retired.
//!
//! ```text
//! created_at ───────▶ activates_at ──────────▶ (next key activates) ──────▶ retired_at
//!   pending: in the     active: signs new        superseded: still in the      gone from
//!   JWKS, signs nothing  tokens                   JWKS for the tokens it        the JWKS
//!                                                 signed                        and the ring
//! ```
//!
//! The store keeps `created_at`, `activates_at` and `retired_at`. When a key
//! was superseded is not stored: it is the `activates_at` of the next live key
//! that has activated, so every process derives the same answer from the same
//! rows with its own clock, and no write is needed when time passes.
//!
//! The rules, and who enforces them:
//! - **Encrypted at rest**: a private key reaches the store only sealed with
//!   AES-256-GCM under the key-encryption key, the kid as associated data (so
//!   a sealed key cannot be moved to another row). [`KeyManager::rotate`]
//!   first proves the key-encryption key opens every live key, so a process
//!   with the wrong key cannot add one the others cannot read.
//! - **Published before use**: [`KeyManager::rotate`] sets `activates_at` a
//!   pre-publication window ahead (unless told to activate at once), and the
//!   JWKS lists every live key, pending ones included.
//! - **Kept until the tokens it signed expire**: [`KeyManager::retire`]
//!   refuses the active key and any key superseded less than the access-token
//!   lifetime plus the reload interval ago (the reload interval bounds how
//!   long a server that has not yet seen an immediate rotation may go on
//!   signing with the old key).
//! - **Every node agrees without talking**: the active key is the newest live
//!   key (by `activates_at`, then `created_at`, then insertion order) whose
//!   `activates_at` has passed. A [`KeyRing`] computes it from its cached key
//!   set and the clock at each signature, so a pre-published successor takes
//!   over at the same second everywhere; the cache itself is reloaded every
//!   reload interval and as soon as a cached successor activates.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tessera_core::UnixTime;
use tessera_core::jwt::{KeyError, SigningAlgorithm, SigningKey};
use tessera_core::redirect_uri::Mode;
use tessera_core::secrets::{self, Randomness, RandomnessUnavailable};
use tessera_store::{PURPOSE_ACCESS_TOKEN, PURPOSE_ID_TOKEN, Store, StoreError, StoredSigningKey};
use tokio::sync::{Mutex, Notify, OnceCell, watch};

use crate::clock::Clock;
use crate::config::ServerConfig;

/// Default pre-publication window: a new key is in the JWKS this long before
/// it signs anything. Longer than the JWKS's `max-age` (300 s), so resources
/// that cache the set have it before they meet a token signed with it.
pub const DEFAULT_PREPUBLICATION_SECS: i64 = 3600;
/// Default interval between reloads of the key set from the store.
pub const DEFAULT_RELOAD_INTERVAL_SECS: i64 = 30;

/// `encryption` of a sealed key: AES-256-GCM, nonce || ciphertext || tag.
const SEALED: &str = "A256GCM";
/// `encryption` of a key written in clear before keys were sealed.
const CLEAR: &str = "none";
/// Where development mode keeps its generated key-encryption key.
pub const DEV_KEK_SETTING: &str = "signing_key_encryption_key";

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Random(#[from] RandomnessUnavailable),
    #[error(
        "key_encryption_key must be the base64 of exactly 32 random bytes (for example the output of `openssl rand -base64 32`)"
    )]
    InvalidEncryptionKey,
    #[error(
        "no key_encryption_key configured: with an https issuer, signing keys are stored encrypted under a key from the configuration; set key_encryption_key or TESSERA_KEY_ENCRYPTION_KEY to the base64 of 32 random bytes (`openssl rand -base64 32`)"
    )]
    MissingEncryptionKey,
    #[error(
        "signing key `{kid}` cannot be decrypted with the configured key_encryption_key: the keys in this database were sealed under another key (in development mode without key_encryption_key, a generated key kept in the database), or the stored key was altered"
    )]
    WrongEncryptionKey { kid: String },
    #[error("signing key `{kid}` is stored corrupt: {what}")]
    Corrupt { kid: String, what: String },
    #[error("no signing key `{0}`")]
    NoSuchKey(String),
    #[error("signing key `{0}` is already retired")]
    AlreadyRetired(String),
    #[error(
        "signing key `{0}` is the active signing key: rotate first, then retire it once the tokens it signed have expired"
    )]
    StillActive(String),
    #[error(
        "signing key `{kid}` may have signed access tokens that are still valid: it can be retired from {} (when it stopped signing plus the access-token lifetime and the key reload interval)",
        format_utc(*retirable_at)
    )]
    StillVerifying { kid: String, retirable_at: UnixTime },
    #[error(
        "signing key `{kid}` activates at {}, too soon to withdraw: a server may already be signing with it; let it activate, rotate again, and retire it once its tokens have expired",
        format_utc(*activates_at)
    )]
    ActivatesSoon { kid: String, activates_at: UnixTime },
    #[error("no signing key is active")]
    NoActiveKey,
    #[error("sealing a signing key failed")]
    Seal,
}

/// The key-encryption key: 32 bytes for AES-256-GCM. Never printed.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

impl KeyEncryptionKey {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Standard base64 (what `openssl rand -base64 32` prints), surrounding
    /// whitespace ignored. The error never repeats the input.
    pub fn from_base64(text: &str) -> Result<Self, KeysError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| KeysError::InvalidEncryptionKey)?;
        Ok(Self(
            bytes
                .try_into()
                .map_err(|_| KeysError::InvalidEncryptionKey)?,
        ))
    }

    /// A separate key for another purpose, named by `label`
    /// (HMAC-SHA-256 of the label under this key): what it seals can never
    /// be opened as a signing key, nor the other way round.
    pub fn derive(&self, label: &[u8]) -> Self {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.0);
        let mut out = [0u8; 32];
        out.copy_from_slice(aws_lc_rs::hmac::sign(&key, label).as_ref());
        Self(out)
    }

    fn aead(&self) -> Result<LessSafeKey, KeysError> {
        let key =
            UnboundKey::new(&AES_256_GCM, &self.0).map_err(|_| KeysError::InvalidEncryptionKey)?;
        Ok(LessSafeKey::new(key))
    }

    /// Seals `plaintext` for the row of `kid`: a random 96-bit nonce (keys
    /// are sealed a handful of times per key-encryption key, far from the
    /// birthday bound), then ciphertext and tag.
    pub fn seal(
        &self,
        kid: &str,
        plaintext: &[u8],
        rng: &dyn Randomness,
    ) -> Result<Vec<u8>, KeysError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)?;
        let mut in_out = plaintext.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| KeysError::Seal)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Opens what [`KeyEncryptionKey::seal`] sealed for `kid`.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, KeysError> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(KeysError::Corrupt {
                kid: kid.to_owned(),
                what: "sealed key too short".into(),
            });
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeysError::Corrupt {
            kid: kid.to_owned(),
            what: "nonce".into(),
        })?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .aead()?
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer)
            .map_err(|_| KeysError::WrongEncryptionKey {
                kid: kid.to_owned(),
            })?;
        Ok(plaintext.to_vec())
    }
}

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

/// Where a key is in its life at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not yet signing.
    Pending,
    /// Signing new tokens.
    Active,
    /// Published for the tokens it signed; signs nothing new.
    Superseded,
    /// Neither published nor used.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Superseded => "superseded",
            Self::Retired => "retired",
        }
    }
}

/// A key as an operator sees it (no private part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub algorithm: String,
    /// `access_token` or `id_token`.
    pub purpose: String,
    pub state: KeyState,
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    /// When the next key activated (superseded keys only).
    pub superseded_at: Option<UnixTime>,
    /// When [`KeyManager::retire`] accepts it (superseded keys only).
    pub retirable_at: Option<UnixTime>,
    pub retired_at: Option<UnixTime>,
}

/// The order in which keys take over: the active key is the last live key
/// in this order whose `activates_at` has passed. Sorts are stable and the
/// store lists keys in insertion order, so of two keys made in the same
/// second the one made last wins, the same on every node.
fn activation_order(activates_at: UnixTime, created_at: UnixTime) -> (UnixTime, UnixTime) {
    (activates_at, created_at)
}

/// Which chain a key belongs to: one key of each chain is active. Access
/// tokens have one chain (rotating to another algorithm is a rotation); ID
/// tokens one per algorithm, since each client picks its own algorithm and
/// OIDC requires RS256 whatever signs access tokens.
fn chain_of(k: &StoredSigningKey) -> (&str, &str) {
    if k.purpose == PURPOSE_ID_TOKEN {
        (PURPOSE_ID_TOKEN, k.algorithm.as_str())
    } else {
        (PURPOSE_ACCESS_TOKEN, "")
    }
}

/// Each key's state at `now`, in activation order. `retire_margin` is how
/// long after a key stops signing it must stay published.
fn schedule(records: &[StoredSigningKey], now: UnixTime, retire_margin: i64) -> Vec<KeyInfo> {
    let mut chains: Vec<(&str, &str)> = records.iter().map(chain_of).collect();
    chains.sort_unstable();
    chains.dedup();
    let mut all: Vec<KeyInfo> = Vec::new();
    for chain in chains {
        let members: Vec<StoredSigningKey> = records
            .iter()
            .filter(|k| chain_of(k) == chain)
            .cloned()
            .collect();
        all.extend(schedule_chain(&members, now, retire_margin));
    }
    // Stable: within a chain the order computed above is kept.
    all.sort_by_key(|k| activation_order(k.activates_at, k.created_at));
    all
}

/// [`schedule`] for the keys of one chain.
fn schedule_chain(records: &[StoredSigningKey], now: UnixTime, retire_margin: i64) -> Vec<KeyInfo> {
    let mut sorted: Vec<&StoredSigningKey> = records.iter().collect();
    sorted.sort_by_key(|k| activation_order(k.activates_at, k.created_at));
    // Retired keys take no part: a key withdrawn while pending never
    // superseded anything. (A retired key that did sign for a while was
    // superseded itself, so leaving it out only makes its predecessor's
    // supersession look later: the safe direction.)
    let live: Vec<&StoredSigningKey> = sorted
        .iter()
        .copied()
        .filter(|k| k.retired_at.is_none())
        .collect();
    let active = live.iter().rposition(|k| k.activates_at <= now);
    let mut live_states: HashMap<&str, (KeyState, Option<UnixTime>)> = HashMap::new();
    for (i, k) in live.iter().enumerate() {
        let state = if Some(i) == active {
            KeyState::Active
        } else if k.activates_at > now {
            KeyState::Pending
        } else {
            KeyState::Superseded
        };
        // Only a key that activated before the active one can be superseded,
        // so a later live key has activated.
        let superseded_at = (state == KeyState::Superseded)
            .then(|| {
                live[i + 1..]
                    .iter()
                    .find(|n| n.activates_at <= now)
                    .map(|n| n.activates_at)
            })
            .flatten();
        live_states.insert(k.kid.as_str(), (state, superseded_at));
    }
    sorted
        .iter()
        .map(|k| {
            let (state, superseded_at) = live_states
                .get(k.kid.as_str())
                .copied()
                .unwrap_or((KeyState::Retired, None));
            KeyInfo {
                kid: k.kid.clone(),
                algorithm: k.algorithm.clone(),
                purpose: k.purpose.clone(),
                state,
                created_at: k.created_at,
                activates_at: k.activates_at,
                superseded_at,
                retirable_at: superseded_at.map(|at| at.saturating_add(retire_margin)),
                retired_at: k.retired_at,
            }
        })
        .collect()
}

/// Whether `info` may be retired at `now`.
fn check_retirable(info: &KeyInfo, now: UnixTime, reload_interval: i64) -> Result<(), KeysError> {
    let kid = info.kid.clone();
    match info.state {
        KeyState::Retired => Err(KeysError::AlreadyRetired(kid)),
        KeyState::Active => Err(KeysError::StillActive(kid)),
        // A pending key has signed nothing, so withdrawing it is safe, unless
        // it activates before every server has reloaded and seen it go.
        KeyState::Pending if info.activates_at <= now.saturating_add(reload_interval) => {
            Err(KeysError::ActivatesSoon {
                kid,
                activates_at: info.activates_at,
            })
        }
        KeyState::Pending => Ok(()),
        KeyState::Superseded => match info.retirable_at {
            Some(at) if at <= now => Ok(()),
            at => Err(KeysError::StillVerifying {
                kid,
                retirable_at: at.unwrap_or(UnixTime::MAX),
            }),
        },
    }
}

/// A live key, decrypted.
#[derive(Debug, Clone)]
struct LiveKey {
    activates_at: UnixTime,
    created_at: UnixTime,
    /// Signs ID tokens (of its algorithm) rather than access tokens.
    id_token: bool,
    key: Arc<SigningKey>,
}

/// Key operations against the store: listing, rotating, retiring, loading.
/// Shared by the server's [`KeyRing`] and the `tessera keys` commands.
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

impl KeyManager {
    pub fn new(store: Arc<dyn Store>, rng: Arc<dyn Randomness>, config: &ServerConfig) -> Self {
        Self {
            store,
            rng,
            mode: config.mode(),
            policy: config.keys.clone(),
            access_token_lifetime: config.lifetimes.access_token,
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

    /// The key-encryption key: the configured one; in development mode
    /// without one, a generated key kept in the store's settings; in
    /// production mode without one, an error.
    async fn encryption_key(&self) -> Result<&KeyEncryptionKey, KeysError> {
        self.encryption_key
            .get_or_try_init(|| async {
                if let Some(key) = &self.policy.encryption_key {
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
                Ok(KeyEncryptionKey(bytes))
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
        let records = self.store.signing_keys().await?;
        Ok(schedule(&records, now, self.retire_margin()))
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
        self.list(now)
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or(KeysError::NoSuchKey(kid))
    }

    /// Retires `kid` if no live token can depend on it (see [`KeysError`]
    /// for each refusal).
    pub async fn retire(&self, kid: &str, now: UnixTime) -> Result<KeyInfo, KeysError> {
        let info = self
            .list(now)
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| KeysError::NoSuchKey(kid.to_owned()))?;
        check_retirable(&info, now, self.policy.reload_interval_secs)?;
        if !self.store.retire_signing_key(kid, now).await? {
            return Err(KeysError::AlreadyRetired(kid.to_owned()));
        }
        Ok(KeyInfo {
            state: KeyState::Retired,
            retired_at: Some(now),
            ..info
        })
    }

    /// Generates, seals and stores a key; returns its kid.
    async fn create(
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
        let sealed = encryption_key.seal(&kid, &der, self.rng.as_ref())?;
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
    async fn load(
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
                id_token: record.purpose == PURPOSE_ID_TOKEN,
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
                let der = encryption_key.open(&record.kid, &record.private_key)?;
                Ok(SigningKey::from_pkcs8(record.kid.clone(), algorithm, &der)?)
            }
            CLEAR => {
                let key =
                    SigningKey::from_pkcs8(record.kid.clone(), algorithm, &record.private_key)?;
                let sealed =
                    encryption_key.seal(&record.kid, &record.private_key, self.rng.as_ref())?;
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

/// The key set a server holds in memory: live keys in activation order.
#[derive(Debug)]
struct Snapshot {
    keys: Vec<LiveKey>,
    /// The key active when loaded: what signs should the clock ever read
    /// earlier than that.
    loaded_active: Arc<SigningKey>,
    loaded_at: UnixTime,
}

impl Snapshot {
    fn new(keys: Vec<LiveKey>, now: UnixTime) -> Result<Self, KeysError> {
        let loaded_active = keys
            .iter()
            .rev()
            .find(|k| !k.id_token && k.activates_at <= now)
            .map(|k| k.key.clone())
            .ok_or(KeysError::NoActiveKey)?;
        Ok(Self {
            keys,
            loaded_active,
            loaded_at: now,
        })
    }

    fn active(&self, now: UnixTime) -> Arc<SigningKey> {
        self.keys
            .iter()
            .rev()
            .find(|k| !k.id_token && k.activates_at <= now)
            .map(|k| k.key.clone())
            .unwrap_or_else(|| self.loaded_active.clone())
    }

    /// The active ID-token key of `algorithm`, if there is one.
    fn id_token_key(&self, algorithm: SigningAlgorithm, now: UnixTime) -> Option<Arc<SigningKey>> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.id_token && k.key.algorithm() == algorithm && k.activates_at <= now)
            .map(|k| k.key.clone())
    }

    /// Due for a reload: old, or a key that was pending when loaded has
    /// activated since (the store may know more about it, such as its
    /// withdrawal, or newer keys).
    fn stale(&self, now: UnixTime, reload_interval: i64) -> bool {
        now >= self.loaded_at.saturating_add(reload_interval)
            || self
                .keys
                .iter()
                .any(|k| k.activates_at > self.loaded_at && k.activates_at <= now)
    }
}

/// The server's signing keys: a cached key set, reloaded from the store in
/// the background, from which the key to sign with is chosen by the clock.
#[derive(Clone)]
pub struct KeyRing(Arc<RingInner>);

struct RingInner {
    manager: KeyManager,
    clock: Arc<dyn Clock>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises reloads, so an older read never overwrites a newer one.
    reloading: Mutex<()>,
    /// Serialises maintenance, so two rounds never both decide to rotate.
    maintaining: Mutex<()>,
    /// Wakes the maintenance task for an early reload.
    wake: Notify,
    /// Counts completed reloads (tests wait on it instead of sleeping).
    reloads: watch::Sender<u64>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.signing_key().kid())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Loads the key set, creating a first key if none is active. Fails,
    /// rather than starting, without a key-encryption key in production mode
    /// or with one that does not open the stored keys.
    pub async fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Randomness>,
        config: &ServerConfig,
    ) -> Result<Self, KeysError> {
        let manager = KeyManager::new(store, rng, config);
        let now = clock.now();
        let mut keys = manager.load(&HashMap::new()).await?;
        if !keys.iter().any(|k| !k.id_token && k.activates_at <= now) {
            let algorithm = manager.policy.algorithm;
            let kid = manager.create(algorithm, false, now, now).await?;
            tracing::info!(%kid, %algorithm, "generated a new signing key");
            keys = manager.load(&HashMap::new()).await?;
        }
        // An ID-token key of every algorithm a client may choose, RS256
        // first of all (OIDC Core §15.1: RS256 must be supported).
        let mut created = false;
        for algorithm in [
            SigningAlgorithm::Rs256,
            SigningAlgorithm::Es256,
            SigningAlgorithm::EdDsa,
        ] {
            let present = keys
                .iter()
                .any(|k| k.id_token && k.key.algorithm() == algorithm && k.activates_at <= now);
            if !present {
                let kid = manager.create(algorithm, true, now, now).await?;
                tracing::info!(%kid, %algorithm, "generated a new ID-token signing key");
                created = true;
            }
        }
        if created {
            keys = manager.load(&HashMap::new()).await?;
        }
        let snapshot = Snapshot::new(keys, now)?;
        Ok(Self(Arc::new(RingInner {
            manager,
            clock,
            snapshot: RwLock::new(Arc::new(snapshot)),
            reloading: Mutex::new(()),
            maintaining: Mutex::new(()),
            wake: Notify::new(),
            reloads: watch::Sender::new(0),
        })))
    }

    pub fn manager(&self) -> &KeyManager {
        &self.0.manager
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        match self.0.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The current snapshot, asking the background task for a reload first
    /// if it is due (the answer does not wait for it).
    fn current(&self, now: UnixTime) -> Arc<Snapshot> {
        let snapshot = self.snapshot();
        if snapshot.stale(now, self.0.manager.policy.reload_interval_secs) {
            self.0.wake.notify_one();
        }
        snapshot
    }

    /// The key to sign with now.
    pub fn signing_key(&self) -> Arc<SigningKey> {
        let now = self.0.clock.now();
        self.current(now).active(now)
    }

    /// The key that signs ID tokens of `algorithm` now. Every algorithm has
    /// one from the start ([`KeyRing::open`]); `NoActiveKey` only if an
    /// operator withdrew it.
    pub fn id_token_key(&self, algorithm: SigningAlgorithm) -> Result<Arc<SigningKey>, KeysError> {
        let now = self.0.clock.now();
        self.current(now)
            .id_token_key(algorithm, now)
            .ok_or(KeysError::NoActiveKey)
    }

    /// The public JWKs of every live key, pending ones included.
    pub fn public_jwks(&self) -> Vec<serde_json::Value> {
        let now = self.0.clock.now();
        self.current(now)
            .keys
            .iter()
            .map(|k| k.key.public_jwk().clone())
            .collect()
    }

    /// Reloads the key set from the store. On failure the loaded set stays.
    pub async fn reload(&self) -> Result<(), KeysError> {
        let _one_at_a_time = self.0.reloading.lock().await;
        let cache: HashMap<String, Arc<SigningKey>> = self
            .snapshot()
            .keys
            .iter()
            .map(|k| (k.key.kid().to_owned(), k.key.clone()))
            .collect();
        let keys = self.0.manager.load(&cache).await?;
        let snapshot = Snapshot::new(keys, self.0.clock.now())?;
        match self.0.snapshot.write() {
            Ok(mut s) => *s = Arc::new(snapshot),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(snapshot),
        }
        self.0.reloads.send_modify(|n| *n += 1);
        Ok(())
    }

    /// A receiver that changes after every completed reload.
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.0.reloads.subscribe()
    }

    /// Rotates (see [`KeyManager::rotate`]) and reloads.
    pub async fn rotate(
        &self,
        algorithm: Option<SigningAlgorithm>,
        immediately: bool,
    ) -> Result<KeyInfo, KeysError> {
        let info = self
            .0
            .manager
            .rotate(algorithm, immediately, self.0.clock.now())
            .await?;
        self.reload().await?;
        Ok(info)
    }

    /// Retires (see [`KeyManager::retire`]) and reloads.
    pub async fn retire(&self, kid: &str) -> Result<KeyInfo, KeysError> {
        let info = self.0.manager.retire(kid, self.0.clock.now()).await?;
        self.reload().await?;
        Ok(info)
    }

    /// One round of maintenance: with a rotation interval configured, rotate
    /// when the newest key is that old and retire what no live token needs;
    /// then reload.
    pub async fn maintain(&self) -> Result<(), KeysError> {
        let _one_at_a_time = self.0.maintaining.lock().await;
        let manager = &self.0.manager;
        if let Some(interval) = manager.policy.rotation_interval_secs {
            let now = self.0.clock.now();
            let keys = manager.list(now).await?;
            // The newest live key (the list is in activation order), pending
            // or not: a rotation already under way is not repeated.
            let newest = keys
                .iter()
                .rfind(|k| k.state != KeyState::Retired && k.purpose == PURPOSE_ACCESS_TOKEN);
            if newest.is_none_or(|k| k.created_at.saturating_add(interval) <= now) {
                let info = manager.rotate(None, false, now).await?;
                tracing::info!(
                    kid = %info.kid,
                    algorithm = %info.algorithm,
                    activates_at = %format_utc(info.activates_at),
                    "scheduled rotation: new signing key published"
                );
            }
            // Each ID-token chain rotates on the same schedule.
            for algorithm in SigningAlgorithm::ALL {
                let newest = keys.iter().rfind(|k| {
                    k.state != KeyState::Retired
                        && k.purpose == PURPOSE_ID_TOKEN
                        && k.algorithm == algorithm.as_str()
                });
                if newest.is_none_or(|k| k.created_at.saturating_add(interval) <= now) {
                    let info = manager.rotate_id_token_key(algorithm, false, now).await?;
                    tracing::info!(
                        kid = %info.kid,
                        algorithm = %info.algorithm,
                        activates_at = %format_utc(info.activates_at),
                        "scheduled rotation: new ID-token signing key published"
                    );
                }
            }
            for key in keys.iter().filter(|k| {
                k.state == KeyState::Superseded && k.retirable_at.is_some_and(|at| at <= now)
            }) {
                match manager.retire(&key.kid, now).await {
                    Ok(_) => tracing::info!(
                        kid = %key.kid,
                        "retired a signing key whose tokens have all expired"
                    ),
                    // Another process got there first.
                    Err(KeysError::AlreadyRetired(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.reload().await
    }

    /// Runs maintenance every reload interval, and sooner when a request
    /// finds the key set due for a reload. Runs until dropped (aborted).
    pub async fn run(self) {
        let secs = self.0.manager.policy.reload_interval_secs.max(1);
        let period = Duration::from_secs(u64::try_from(secs).unwrap_or(1));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.0.wake.notified() => {}
            }
            if let Err(e) = self.maintain().await {
                tracing::error!(error = %e, "signing-key maintenance failed; the keys loaded before stay in use");
            }
        }
    }
}

/// `2027-01-15T08:00:00Z`: Unix time as an RFC 3339 UTC timestamp.
pub fn format_utc(t: UnixTime) -> String {
    // Howard Hinnant's civil-from-days, for the proleptic Gregorian calendar.
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::secrets::SystemRandomness;

    fn record(
        kid: &str,
        created_at: UnixTime,
        activates_at: UnixTime,
        retired_at: Option<UnixTime>,
    ) -> StoredSigningKey {
        StoredSigningKey {
            kid: kid.into(),
            algorithm: "ES256".into(),
            encryption: SEALED.into(),
            private_key: Vec::new(),
            created_at,
            activates_at,
            retired_at,
            purpose: PURPOSE_ACCESS_TOKEN.into(),
        }
    }

    fn states(
        keys: &[StoredSigningKey],
        now: UnixTime,
    ) -> Vec<(String, KeyState, Option<UnixTime>)> {
        schedule(keys, now, 100)
            .into_iter()
            .map(|k| (k.kid, k.state, k.superseded_at))
            .collect()
    }

    fn s(
        kid: &str,
        state: KeyState,
        superseded_at: Option<UnixTime>,
    ) -> (String, KeyState, Option<UnixTime>) {
        (kid.into(), state, superseded_at)
    }

    #[test]
    fn a_pre_published_key_takes_over_at_its_activation_time() {
        use KeyState::*;
        let keys = [record("k1", 0, 0, None), record("k2", 1000, 4600, None)];
        assert_eq!(
            states(&keys, 4599),
            [s("k1", Active, None), s("k2", Pending, None)]
        );
        assert_eq!(
            states(&keys, 4600),
            [s("k1", Superseded, Some(4600)), s("k2", Active, None)]
        );
        let k1 = &schedule(&keys, 4600, 100)[0];
        assert_eq!(k1.retirable_at, Some(4700));
    }

    #[test]
    fn a_withdrawn_pending_key_supersedes_nothing() {
        use KeyState::*;
        let keys = [record("k1", 0, 0, None), record("k2", 10, 100, Some(50))];
        assert_eq!(
            states(&keys, 200),
            [s("k1", Active, None), s("k2", Retired, None)]
        );
    }

    #[test]
    fn supersession_is_when_the_next_live_key_activated() {
        use KeyState::*;
        // k2 signed from 100 to 200 and was retired; k1 counts as signing
        // until 200 (later than it did): the safe direction.
        let keys = [
            record("k1", 0, 0, None),
            record("k2", 50, 100, Some(900)),
            record("k3", 150, 200, None),
        ];
        assert_eq!(
            states(&keys, 1000),
            [
                s("k1", Superseded, Some(200)),
                s("k2", Retired, None),
                s("k3", Active, None)
            ]
        );
    }

    #[test]
    fn an_immediate_key_created_after_a_pending_one_signs_until_the_pending_one_activates() {
        use KeyState::*;
        let keys = [
            record("k1", 0, 0, None),
            record("pending", 100, 3700, None),
            record("now", 200, 200, None),
        ];
        assert_eq!(
            states(&keys, 300),
            [
                s("k1", Superseded, Some(200)),
                s("now", Active, None),
                s("pending", Pending, None)
            ]
        );
        assert_eq!(
            states(&keys, 3700),
            [
                s("k1", Superseded, Some(200)),
                s("now", Superseded, Some(3700)),
                s("pending", Active, None)
            ]
        );
    }

    #[test]
    fn of_two_keys_made_in_the_same_second_the_later_one_wins() {
        use KeyState::*;
        // As the store lists them: insertion order.
        let keys = [record("b", 5, 10, None), record("a", 5, 10, None)];
        assert_eq!(
            states(&keys, 10),
            [s("b", Superseded, Some(10)), s("a", Active, None)]
        );
        // An earlier activation still comes first whatever the insertion order.
        let keys = [record("b", 5, 20, None), record("a", 6, 10, None)];
        assert_eq!(
            states(&keys, 20),
            [s("a", Superseded, Some(20)), s("b", Active, None)]
        );
    }

    #[test]
    fn retirement_rules() {
        let keys = [
            record("old", 0, 0, None),
            record("cur", 100, 1000, None),
            record("next", 2000, 5000, None),
            record("gone", 0, 0, Some(10)),
        ];
        let at = |now: UnixTime, kid: &str| {
            let info = schedule(&keys, now, 600 + 30)
                .into_iter()
                .find(|k| k.kid == kid)
                .map(|k| check_retirable(&k, now, 30));
            info.map(|r| r.map_err(|e| e.to_string()))
        };
        // Superseded at 1000: retirable from 1000 + 600 + 30.
        assert!(matches!(at(1629, "old"), Some(Err(e)) if e.contains("can be retired from")));
        assert!(matches!(at(1630, "old"), Some(Ok(()))));
        assert!(matches!(at(1630, "cur"), Some(Err(e)) if e.contains("active signing key")));
        assert!(
            matches!(at(2000, "next"), Some(Ok(()))),
            "far from activation: withdrawn"
        );
        assert!(matches!(at(4970, "next"), Some(Err(e)) if e.contains("too soon")));
        assert!(matches!(at(1630, "gone"), Some(Err(e)) if e.contains("already retired")));
    }

    #[test]
    fn snapshots_choose_by_the_clock_and_know_when_to_reload() -> Result<(), KeysError> {
        let live = |kid: &str, activates_at| -> Result<LiveKey, KeysError> {
            Ok(LiveKey {
                activates_at,
                created_at: 0,
                id_token: false,
                key: Arc::new(SigningKey::generate(kid.into(), SigningAlgorithm::Es256)?.0),
            })
        };
        let snapshot = Snapshot::new(vec![live("k1", 0)?, live("k2", 500)?], 100)?;
        assert_eq!(snapshot.active(499).kid(), "k1");
        assert_eq!(snapshot.active(500).kid(), "k2");
        assert_eq!(
            snapshot.active(-5).kid(),
            "k1",
            "a clock set back keeps the loaded key"
        );
        assert!(!snapshot.stale(129, 30));
        assert!(snapshot.stale(130, 30), "reload interval");
        let snapshot = Snapshot::new(vec![live("k1", 0)?, live("k2", 110)?], 100)?;
        assert!(snapshot.stale(110, 30), "a cached successor activated");
        assert!(matches!(
            Snapshot::new(vec![live("k2", 500)?], 100),
            Err(KeysError::NoActiveKey)
        ));
        Ok(())
    }

    #[test]
    fn sealing_binds_the_key_and_the_kid() -> Result<(), KeysError> {
        let kek = KeyEncryptionKey::from_bytes([7; 32]);
        let sealed = kek.seal("k1", b"private key bytes", &SystemRandomness)?;
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(kek.open("k1", &sealed)?, b"private key bytes");
        assert!(matches!(
            kek.open("k2", &sealed),
            Err(KeysError::WrongEncryptionKey { .. })
        ));
        let other = KeyEncryptionKey::from_bytes([8; 32]);
        assert!(matches!(
            other.open("k1", &sealed),
            Err(KeysError::WrongEncryptionKey { .. })
        ));
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(kek.open("k1", &tampered).is_err());
        assert!(matches!(
            kek.open("k1", &sealed[..20]),
            Err(KeysError::Corrupt { .. })
        ));
        assert_ne!(
            sealed,
            kek.seal("k1", b"private key bytes", &SystemRandomness)?,
            "fresh nonce"
        );
        Ok(())
    }

    #[test]
    fn encryption_keys_parse_from_base64_and_never_print() {
        let text = STANDARD.encode([42u8; 32]);
        let key = KeyEncryptionKey::from_base64(&format!(" {text}\n"));
        assert!(key.is_ok());
        let shown = format!("{key:?}");
        assert!(!shown.contains(&text) && !shown.contains("42"), "{shown}");
        for bad in [
            STANDARD.encode([1u8; 16]),
            STANDARD.encode([1u8; 33]),
            "not base64!".into(),
            String::new(),
        ] {
            let err = KeyEncryptionKey::from_base64(&bad)
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(
                matches!(&err, Err(e) if e.contains("32 random bytes")),
                "{err:?}"
            );
        }
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(format_utc(-1), "1969-12-31T23:59:59Z");
    }
}
