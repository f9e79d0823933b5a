//! Everything a request handler needs, built once at start.

use std::ops::Deref;
use std::sync::Arc;

use tessera_core::jwt::{KeyError, SigningKey};
use tessera_core::secrets::{self, ClientSecretHasher, Randomness, RandomnessUnavailable};
use tessera_store::{Store, StoreError};

use crate::brute_force::BruteForceGuard;
use crate::config::ServerConfig;
use crate::keys::{KeyManager, KeyRing, KeysError};
use crate::password_slots::PasswordSlots;
use crate::passwords::{self, PasswordError};
use crate::refresh_retry::{ROOT_LABEL, RetrySealer};
use tessera_runtime::Clock;

/// The name under which the HMAC key for client secrets is stored.
const CLIENT_SECRET_KEY_SETTING: &str = "client_secret_hmac_key";

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Random(#[from] RandomnessUnavailable),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Keys(#[from] KeysError),
}

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub config: ServerConfig,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Randomness>,
    pub client_secrets: ClientSecretHasher,
    /// The signing keys: which one signs now, which ones are published.
    pub keys: KeyRing,
    /// Seals the answers kept for the refresh retry window.
    pub refresh_retry: RetrySealer,
    pub brute_force: BruteForceGuard,
    /// Rate budgets per address and per client (`crate::budgets`).
    pub budgets: crate::budgets::Budgets,
    /// The bound on Argon2 work for logins (slots, a short queue, reused
    /// memory).
    pub password_slots: PasswordSlots,
    /// An Argon2id hash of a random password: unknown usernames are checked
    /// against it so a failed login costs the same whether or not the user
    /// exists.
    pub dummy_password_hash: String,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("issuer", &self.config.issuer())
            .finish_non_exhaustive()
    }
}

/// Loads the server's HMAC key for client secrets, creating it on first start.
pub async fn client_secret_hasher(
    store: &dyn Store,
    rng: &dyn Randomness,
) -> Result<ClientSecretHasher, InitError> {
    let mut fresh = [0u8; 32];
    rng.fill(&mut fresh)?;
    let key = store
        .setting_or_init(CLIENT_SECRET_KEY_SETTING, &fresh)
        .await?;
    Ok(ClientSecretHasher::new(&key))
}

impl AppState {
    pub async fn new(
        store: Arc<dyn Store>,
        config: ServerConfig,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Randomness>,
    ) -> Result<Self, InitError> {
        tessera_core::jwt::install_crypto_provider();
        let client_secrets = client_secret_hasher(store.as_ref(), rng.as_ref()).await?;

        let manager = KeyManager::new(
            store.clone(),
            rng.clone(),
            config.keys.clone(),
            config.mode(),
            config.lifetimes.access_token,
        );
        let keys = KeyRing::open(manager, clock.clone()).await?;
        let refresh_retry = RetrySealer::new(keys.manager().derived_key(ROOT_LABEL).await?);

        let dummy = secrets::new_opaque_token(rng.as_ref())?;
        let dummy_password_hash = passwords::hash(dummy.expose().to_owned()).await?;

        Ok(Self(Arc::new(Inner {
            brute_force: BruteForceGuard::new(config.brute_force),
            budgets: crate::budgets::Budgets::new(config.budgets),
            password_slots: PasswordSlots::new(config.password_hashing),
            store,
            config,
            clock,
            rng,
            client_secrets,
            keys,
            refresh_retry,
            dummy_password_hash,
        })))
    }

    pub fn now(&self) -> tessera_core::UnixTime {
        self.clock.now()
    }

    /// The key to sign with now.
    pub fn signing_key(&self) -> Arc<SigningKey> {
        self.keys.signing_key()
    }

    /// The public JWKs of every published key (pending ones included).
    pub fn public_jwks(&self) -> Vec<serde_json::Value> {
        self.keys.public_jwks()
    }

    /// [`AppState::signing_key`] at the request's time `now`.
    pub fn signing_key_at(&self, now: tessera_core::UnixTime) -> Arc<SigningKey> {
        self.keys.signing_key_at(now)
    }
}
