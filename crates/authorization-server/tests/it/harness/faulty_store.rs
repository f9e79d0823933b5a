//! `FaultyStore`: a [`Store`] that fails chosen methods on demand, as a
//! broken database would, to test that failures never read as success.

use std::sync::Arc;

use tessera_store::Store;

/// The store methods a storage failure at revocation or introspection goes
/// through: the token lookups and the two revocation writes.
pub const TOKEN_STORE_METHODS: &[&str] = &[
    "refresh_token",
    "access_token_by_jti",
    "access_token_by_hash",
    "revoke_grant",
    "revoke_access_token",
];

/// A [`Store`] that delegates every method to the real store, except
/// that while failures are switched on the chosen methods fail as a broken
/// database would (`StoreError::Corrupt("injected failure")`).
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    failing: std::sync::atomic::AtomicBool,
    methods: std::sync::Mutex<Vec<&'static str>>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            failing: std::sync::atomic::AtomicBool::new(false),
            methods: std::sync::Mutex::new(TOKEN_STORE_METHODS.to_vec()),
        }
    }

    /// From now on, `methods` fail (and only they).
    pub fn fail(&self, methods: &[&'static str]) {
        *self.methods.lock().unwrap_or_else(|p| p.into_inner()) = methods.to_vec();
        self.failing
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every method works again.
    pub fn heal(&self) {
        self.failing
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    fn check(&self, method: &str) -> tessera_store::StoreResult<()> {
        let failing = self.failing.load(std::sync::atomic::Ordering::SeqCst)
            && self
                .methods
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&method);
        if failing {
            Err(tessera_store::StoreError::Corrupt(
                "injected failure".into(),
            ))
        } else {
            Ok(())
        }
    }
}

mod faulty_store_impl {
    use super::FaultyStore;
    use tessera_core::UnixTime;
    use tessera_core::authorize::AuthorizationRequest;
    use tessera_core::client::Client;
    use tessera_core::grant::{CodeGrant, RefreshTokenRecord};
    use tessera_core::resource::Resource;
    use tessera_store::*;

    #[async_trait::async_trait]
    impl Store for FaultyStore {
        async fn setting_or_init(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>> {
            self.check("setting_or_init")?;
            self.inner.setting_or_init(name, initial).await
        }
        async fn upsert_client(&self, client: &Client, now: UnixTime) -> StoreResult<()> {
            self.check("upsert_client")?;
            self.inner.upsert_client(client, now).await
        }
        async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
            self.check("client")?;
            self.inner.client(client_id).await
        }
        async fn clients(&self) -> StoreResult<Vec<Client>> {
            self.check("clients")?;
            self.inner.clients().await
        }
        async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
            self.check("delete_client")?;
            self.inner.delete_client(client_id).await
        }
        async fn upsert_resource(&self, resource: &Resource, now: UnixTime) -> StoreResult<()> {
            self.check("upsert_resource")?;
            self.inner.upsert_resource(resource, now).await
        }
        async fn resource(&self, identifier: &str) -> StoreResult<Option<Resource>> {
            self.check("resource")?;
            self.inner.resource(identifier).await
        }
        async fn resources(&self) -> StoreResult<Vec<Resource>> {
            self.check("resources")?;
            self.inner.resources().await
        }
        async fn delete_resource(&self, identifier: &str) -> StoreResult<bool> {
            self.check("delete_resource")?;
            self.inner.delete_resource(identifier).await
        }
        async fn create_user(&self, user: &User) -> StoreResult<()> {
            self.check("create_user")?;
            self.inner.create_user(user).await
        }
        async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
            self.check("user_by_username")?;
            self.inner.user_by_username(username).await
        }
        async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
            self.check("user")?;
            self.inner.user(user_id).await
        }
        async fn users(&self) -> StoreResult<Vec<User>> {
            self.check("users")?;
            self.inner.users().await
        }
        async fn delete_user(&self, username: &str) -> StoreResult<bool> {
            self.check("delete_user")?;
            self.inner.delete_user(username).await
        }
        async fn set_user_claims(
            &self,
            username: &str,
            claims: &tessera_core::user_claims::UserClaims,
        ) -> StoreResult<bool> {
            self.check("set_user_claims")?;
            self.inner.set_user_claims(username, claims).await
        }
        async fn set_password(
            &self,
            username: &str,
            password_hash: &str,
            now: UnixTime,
        ) -> StoreResult<bool> {
            self.check("set_password")?;
            self.inner.set_password(username, password_hash, now).await
        }
        async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
            self.check("signing_keys")?;
            self.inner.signing_keys().await
        }
        async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()> {
            self.check("insert_signing_key")?;
            self.inner.insert_signing_key(key).await
        }
        async fn create_session(&self, session: &Session) -> StoreResult<()> {
            self.check("create_session")?;
            self.inner.create_session(session).await
        }
        async fn session(
            &self,
            id_hash: &TokenHash,
            now: UnixTime,
        ) -> StoreResult<Option<Session>> {
            self.check("session")?;
            self.inner.session(id_hash, now).await
        }
        async fn replace_session(&self, old: Option<&TokenHash>, new: &Session) -> StoreResult<()> {
            self.check("replace_session")?;
            self.inner.replace_session(old, new).await
        }
        async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()> {
            self.check("delete_session")?;
            self.inner.delete_session(id_hash).await
        }
        async fn save_authorization_request(
            &self,
            id: &str,
            session: &TokenHash,
            request: &AuthorizationRequest,
            expires_at: UnixTime,
        ) -> StoreResult<()> {
            self.check("save_authorization_request")?;
            self.inner
                .save_authorization_request(id, session, request, expires_at)
                .await
        }
        async fn authorization_request(
            &self,
            id: &str,
            session: &TokenHash,
            now: UnixTime,
        ) -> StoreResult<Option<AuthorizationRequest>> {
            self.check("authorization_request")?;
            self.inner.authorization_request(id, session, now).await
        }
        async fn take_authorization_request(
            &self,
            id: &str,
            session: &TokenHash,
        ) -> StoreResult<bool> {
            self.check("take_authorization_request")?;
            self.inner.take_authorization_request(id, session).await
        }
        async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
            self.check("consent")?;
            self.inner.consent(user_id, client_id).await
        }
        async fn save_consent(&self, consent: &Consent) -> StoreResult<()> {
            self.check("save_consent")?;
            self.inner.save_consent(consent).await
        }
        async fn issue_code(
            &self,
            grant: &Grant,
            code_hash: &TokenHash,
            code: &CodeGrant,
        ) -> StoreResult<()> {
            self.check("issue_code")?;
            self.inner.issue_code(grant, code_hash, code).await
        }
        async fn code_challenge_seen(
            &self,
            client_id: &str,
            challenge: &str,
            since: UnixTime,
        ) -> StoreResult<bool> {
            self.check("code_challenge_seen")?;
            self.inner
                .code_challenge_seen(client_id, challenge, since)
                .await
        }
        async fn consume_code(
            &self,
            code_hash: &TokenHash,
            now: UnixTime,
        ) -> StoreResult<CodeConsumption> {
            self.check("consume_code")?;
            self.inner.consume_code(code_hash, now).await
        }
        async fn issue_tokens(
            &self,
            access: &AccessTokenRecord,
            refresh: Option<(&TokenHash, &NewRefreshToken)>,
        ) -> StoreResult<()> {
            self.check("issue_tokens")?;
            self.inner.issue_tokens(access, refresh).await
        }
        async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>> {
            self.check("refresh_token")?;
            self.inner.refresh_token(hash).await
        }
        async fn rotate_refresh_token(
            &self,
            old: &TokenHash,
            now: UnixTime,
            access: &AccessTokenRecord,
            new_hash: &TokenHash,
            new: &NewRefreshToken,
            retry: Option<&RefreshRetry>,
        ) -> StoreResult<bool> {
            self.check("rotate_refresh_token")?;
            self.inner
                .rotate_refresh_token(old, now, access, new_hash, new, retry)
                .await
        }
        async fn refresh_retry(
            &self,
            old: &TokenHash,
            now: UnixTime,
        ) -> StoreResult<Option<Vec<u8>>> {
            self.check("refresh_retry")?;
            self.inner.refresh_retry(old, now).await
        }
        async fn purge_expired(
            &self,
            now: UnixTime,
            batch: u32,
        ) -> StoreResult<Option<PurgeReport>> {
            self.check("purge_expired")?;
            self.inner.purge_expired(now, batch).await
        }
        async fn access_token_by_jti(&self, jti: &str) -> StoreResult<Option<AccessTokenStatus>> {
            self.check("access_token_by_jti")?;
            self.inner.access_token_by_jti(jti).await
        }
        async fn access_token_by_hash(
            &self,
            hash: &TokenHash,
        ) -> StoreResult<Option<AccessTokenStatus>> {
            self.check("access_token_by_hash")?;
            self.inner.access_token_by_hash(hash).await
        }
        async fn revoke_access_token(&self, jti: &str, now: UnixTime) -> StoreResult<()> {
            self.check("revoke_access_token")?;
            self.inner.revoke_access_token(jti, now).await
        }
        async fn revoke_grant(
            &self,
            grant_id: &str,
            now: UnixTime,
            reason: &str,
        ) -> StoreResult<()> {
            self.check("revoke_grant")?;
            self.inner.revoke_grant(grant_id, now, reason).await
        }
        async fn grant(&self, grant_id: &str) -> StoreResult<Option<Grant>> {
            self.check("grant")?;
            self.inner.grant(grant_id).await
        }
        async fn record_security_event(&self, event: &SecurityEvent) -> StoreResult<()> {
            self.check("record_security_event")?;
            self.inner.record_security_event(event).await
        }
        async fn security_events(&self, limit: u32) -> StoreResult<Vec<SecurityEvent>> {
            self.check("security_events")?;
            self.inner.security_events(limit).await
        }
        async fn retire_signing_key(&self, kid: &str, now: UnixTime) -> StoreResult<bool> {
            self.check("retire_signing_key")?;
            self.inner.retire_signing_key(kid, now).await
        }
        async fn seal_signing_key(
            &self,
            kid: &str,
            encryption: &str,
            private_key: &[u8],
        ) -> StoreResult<bool> {
            self.check("seal_signing_key")?;
            self.inner
                .seal_signing_key(kid, encryption, private_key)
                .await
        }
    }
}
