//! A store that asks a [`Gate`] before each call: tests use it to make
//! chosen methods fail as a broken database would (feature `test-util`).
//!
//! The delegation to the inner store is written here, beside the trait, so
//! a new `Store` method is one more line below rather than another
//! hand-written wrapper in every test harness.

use std::sync::Arc;

use async_trait::async_trait;
use tessera_core::UnixTime;
use tessera_core::authorize::AuthorizationRequest;
use tessera_core::client::Client;
use tessera_core::grant::{CodeGrant, RefreshTokenRecord};
use tessera_core::resource::Resource;
use tessera_core::user_claims::UserClaims;

use crate::*;

/// Decides whether a call goes through.
pub trait Gate: Send + Sync + 'static {
    /// Called with the name of the [`Store`] method about to run; an error
    /// is returned to the caller instead of running it.
    fn check(&self, method: &'static str) -> StoreResult<()>;
}

impl<G: Gate + ?Sized> Gate for Arc<G> {
    fn check(&self, method: &'static str) -> StoreResult<()> {
        (**self).check(method)
    }
}

/// `inner`, with every call passing `gate` first.
pub struct Gated<G> {
    inner: Arc<dyn Store>,
    gate: G,
}

impl<G: Gate> Gated<G> {
    pub fn new(inner: Arc<dyn Store>, gate: G) -> Self {
        Self { inner, gate }
    }
}

/// Implements each listed method as: ask the gate, then call `inner`.
macro_rules! gated {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        #[async_trait]
        impl<G: Gate> Store for Gated<G> {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.gate.check(stringify!($name))?;
                    self.inner.$name($($arg),*).await
                }
            )*
        }
    };
}

gated! {
    fn setting_or_init(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>>;
    fn upsert_client(&self, client: &Client, now: UnixTime) -> StoreResult<()>;
    fn client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    fn clients(&self) -> StoreResult<Vec<Client>>;
    fn delete_client(&self, client_id: &str, now: UnixTime) -> StoreResult<bool>;
    fn upsert_resource(&self, resource: &Resource, now: UnixTime) -> StoreResult<()>;
    fn resource(&self, identifier: &str) -> StoreResult<Option<Resource>>;
    fn resources(&self) -> StoreResult<Vec<Resource>>;
    fn delete_resource(&self, identifier: &str) -> StoreResult<bool>;
    fn create_user(&self, user: &User) -> StoreResult<()>;
    fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    fn user(&self, user_id: &str) -> StoreResult<Option<User>>;
    fn users(&self) -> StoreResult<Vec<User>>;
    fn delete_user(&self, username: &str, now: UnixTime) -> StoreResult<bool>;
    fn set_user_claims(&self, username: &str, claims: &UserClaims) -> StoreResult<bool>;
    fn set_password(
        &self, username: &str, password_hash: &str, now: UnixTime
    ) -> StoreResult<bool>;
    fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>>;
    fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()>;
    fn create_session(&self, session: &Session) -> StoreResult<()>;
    fn session(&self, id_hash: &TokenHash, now: UnixTime) -> StoreResult<Option<Session>>;
    fn replace_session(&self, old: Option<&TokenHash>, new: &Session) -> StoreResult<()>;
    fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()>;
    fn save_authorization_request(
        &self, id: &str, session: &TokenHash, request: &AuthorizationRequest, expires_at: UnixTime
    ) -> StoreResult<()>;
    fn authorization_request(
        &self, id: &str, session: &TokenHash, now: UnixTime
    ) -> StoreResult<Option<AuthorizationRequest>>;
    fn take_authorization_request(&self, id: &str, session: &TokenHash) -> StoreResult<bool>;
    fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>>;
    fn save_consent(&self, consent: &Consent) -> StoreResult<()>;
    fn issue_code(&self, grant: &Grant, code_hash: &TokenHash, code: &CodeGrant) -> StoreResult<()>;
    fn code_challenge_seen(
        &self, client_id: &str, challenge: &str, since: UnixTime
    ) -> StoreResult<bool>;
    fn consume_code(
        &self, code_hash: &TokenHash, client_id: &str, now: UnixTime
    ) -> StoreResult<CodeConsumption>;
    fn issue_tokens(
        &self, access: &AccessTokenRecord, refresh: Option<(&TokenHash, &NewRefreshToken)>
    ) -> StoreResult<()>;
    fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>>;
    fn rotate_refresh_token(
        &self, old: &TokenHash, now: UnixTime, access: &AccessTokenRecord, new_hash: &TokenHash,
        new: &NewRefreshToken, retry: Option<&RefreshRetry>
    ) -> StoreResult<bool>;
    fn refresh_retry(&self, old: &TokenHash, now: UnixTime) -> StoreResult<Option<Vec<u8>>>;
    fn access_token_by_jti(&self, jti: &str) -> StoreResult<Option<AccessTokenStatus>>;
    fn access_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<AccessTokenStatus>>;
    fn revoke_access_token(&self, jti: &str, now: UnixTime) -> StoreResult<()>;
    fn revoke_grant(&self, grant_id: &str, now: UnixTime, reason: &str) -> StoreResult<()>;
    fn grant(&self, grant_id: &str) -> StoreResult<Option<Grant>>;
    fn record_security_event(&self, event: &SecurityEvent) -> StoreResult<()>;
    fn security_events(&self, limit: u32) -> StoreResult<Vec<SecurityEvent>>;
    fn search_security_events(&self, query: &EventQuery) -> StoreResult<Vec<SecurityEvent>>;
    fn purge_security_events(&self, before: UnixTime, batch: u32) -> StoreResult<u64>;
    fn login_failures(&self, key: &str, now: UnixTime) -> StoreResult<Option<LoginFailures>>;
    fn record_login_failure(
        &self, key: &str, now: UnixTime, expires_at: UnixTime
    ) -> StoreResult<LoginFailures>;
    fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
    fn purge_expired(&self, now: UnixTime, batch: u32) -> StoreResult<Option<PurgeReport>>;
    fn retire_signing_key(&self, kid: &str, now: UnixTime) -> StoreResult<bool>;
    fn seal_signing_key(
        &self, kid: &str, encryption: &str, private_key: &[u8]
    ) -> StoreResult<bool>;
}
