//! Tessera's storage.
//!
//! [`Store`] is the narrow interface the authorization server needs. One
//! implementation, written once in SQL both databases accept, serves SQLite
//! ([`SqliteStore`]) and PostgreSQL ([`PostgresStore`]).
//! Two rules every implementation keeps:
//! - codes, refresh tokens and session ids arrive already hashed
//!   ([`TokenHash`]); the store never sees them in the clear;
//! - single use is enforced by one conditional statement (`UPDATE … WHERE
//!   consumed_at IS NULL RETURNING …`), never by a read followed by a write.
//!
//! Every method that hands out a code or a token commits before it returns, so
//! the server answers only with what is durably stored.

mod dialect;
#[cfg(feature = "test-util")]
mod gated;
mod login_failures;
mod open;
mod postgres;
mod purge;
mod records;
mod rows;
mod schema;
mod shared;
mod sqlite;

pub use dialect::SqlStore;
#[cfg(feature = "test-util")]
pub use gated::{Gate, Gated};
pub use open::{Backend, open};
pub use postgres::{PostgresOptions, PostgresStore};
pub use records::*;
pub use schema::Migrations;
pub use sqlite::SqliteStore;
pub use tessera_core::secrets::TokenHash;

use async_trait::async_trait;
use tessera_core::UnixTime;
use tessera_core::authorize::AuthorizationRequest;
use tessera_core::client::Client;
use tessera_core::grant::{CodeGrant, RefreshTokenRecord};
use tessera_core::resource::Resource;

/// A storage failure. The details go to the log, never to a response.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("the database could not be reached after {attempts} attempt(s): {source}")]
    Unreachable {
        attempts: u32,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "the database schema is newer than this binary: migration(s) {0:?} were applied by a newer release; run that release (or a later one) instead"
    )]
    SchemaNewer(Vec<i64>),
    #[error(
        "the database schema is older than this binary: migration(s) {0:?} are pending; run `tessera migrate` first, or start without --no-migrate"
    )]
    SchemaOlder(Vec<i64>),
    #[error("{0}")]
    InvalidOption(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The result of consuming an authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeConsumption {
    /// No such code.
    Unknown,
    /// The code was redeemed before by this client: the caller must revoke
    /// its grant.
    AlreadyUsed { grant_id: String },
    /// The code exists but was issued to another client: nothing was
    /// consumed or may be revoked (a client cannot burn or revoke another
    /// client's code).
    OtherClient,
    /// First use; the code is now consumed.
    Consumed(CodeGrant),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- settings ---------------------------------------------------------
    /// Returns the value of `name`, storing `initial` first if it is absent.
    async fn setting_or_init(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>>;

    // --- clients ----------------------------------------------------------
    async fn upsert_client(&self, client: &Client, now: UnixTime) -> StoreResult<()>;
    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    async fn clients(&self) -> StoreResult<Vec<Client>>;
    /// Deletes the client, revoking at `now` its grants and its
    /// client-credentials tokens; `false` if there was no such client.
    async fn delete_client(&self, client_id: &str, now: UnixTime) -> StoreResult<bool>;

    // --- resources (RFC 8707) ----------------------------------------------
    async fn upsert_resource(&self, resource: &Resource, now: UnixTime) -> StoreResult<()>;
    async fn resource(&self, identifier: &str) -> StoreResult<Option<Resource>>;
    async fn resources(&self) -> StoreResult<Vec<Resource>>;
    async fn delete_resource(&self, identifier: &str) -> StoreResult<bool>;

    // --- users ------------------------------------------------------------
    /// Creates a user; `Conflict` if the username is taken.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    async fn user(&self, user_id: &str) -> StoreResult<Option<User>>;
    async fn users(&self) -> StoreResult<Vec<User>>;
    /// Deletes the user, revoking their grants at `now`; `false` if there
    /// was no such user.
    async fn delete_user(&self, username: &str, now: UnixTime) -> StoreResult<bool>;
    /// Replaces the user's standard claims; `false` if there is no such user.
    async fn set_user_claims(
        &self,
        username: &str,
        claims: &tessera_core::user_claims::UserClaims,
    ) -> StoreResult<bool>;
    /// Sets a new password hash and revokes every grant of the user, so
    /// refresh tokens end with the old password (docs/conformance.md decisions).
    async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixTime,
    ) -> StoreResult<bool>;

    // --- signing keys (see also the lifecycle methods at the end) ---------
    /// Every signing key, retired ones included, in insertion order (which
    /// decides between keys made in the same second).
    async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>>;
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()>;

    // --- browser sessions -------------------------------------------------
    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    async fn session(&self, id_hash: &TokenHash, now: UnixTime) -> StoreResult<Option<Session>>;
    /// Replaces `old` (if any) by `new` in one transaction, moving the old
    /// session's pending authorization requests over: the session id rotates
    /// on login (session fixation) without losing the request in progress.
    async fn replace_session(&self, old: Option<&TokenHash>, new: &Session) -> StoreResult<()>;
    async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()>;

    // --- pending authorization requests -----------------------------------
    async fn save_authorization_request(
        &self,
        id: &str,
        session: &TokenHash,
        request: &AuthorizationRequest,
        expires_at: UnixTime,
    ) -> StoreResult<()>;
    /// The request `id`, only if it belongs to `session` and has not expired.
    async fn authorization_request(
        &self,
        id: &str,
        session: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<AuthorizationRequest>>;
    /// Removes the request; `false` if it was already gone (a double submit).
    async fn take_authorization_request(&self, id: &str, session: &TokenHash) -> StoreResult<bool>;

    // --- consent ----------------------------------------------------------
    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>>;
    async fn save_consent(&self, consent: &Consent) -> StoreResult<()>;

    // --- grants, codes and tokens -----------------------------------------
    /// Stores a new grant and its authorization code in one transaction.
    async fn issue_code(
        &self,
        grant: &Grant,
        code_hash: &TokenHash,
        code: &CodeGrant,
    ) -> StoreResult<()>;
    /// Whether `client_id` used this exact code challenge since `since`
    /// (constant-challenge detection, docs/conformance.md item 46).
    async fn code_challenge_seen(
        &self,
        client_id: &str,
        challenge: &str,
        since: UnixTime,
    ) -> StoreResult<bool>;
    /// Marks the code consumed, atomically, if it was issued to
    /// `client_id`; a code of another client is left as it is.
    async fn consume_code(
        &self,
        code_hash: &TokenHash,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<CodeConsumption>;
    /// Records an access token and, optionally, a new refresh token.
    async fn issue_tokens(
        &self,
        access: &AccessTokenRecord,
        refresh: Option<(&TokenHash, &NewRefreshToken)>,
    ) -> StoreResult<()>;
    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>>;
    /// Marks `old` rotated and stores its successor and the new access token,
    /// in one transaction. `false` if `old` was rotated concurrently: the
    /// caller treats that as reuse. With `retry`, `old` keeps the sealed
    /// answer until `retry.until` (the refresh retry window); rotating `old`
    /// also wipes the copy its own parent kept, since its child is now used.
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        now: UnixTime,
        access: &AccessTokenRecord,
        new_hash: &TokenHash,
        new: &NewRefreshToken,
        retry: Option<&RefreshRetry>,
    ) -> StoreResult<bool>;
    /// The sealed answer kept for a rotated `old`, only while the window is
    /// open, its child unused and its grant live.
    async fn refresh_retry(&self, old: &TokenHash, now: UnixTime) -> StoreResult<Option<Vec<u8>>>;
    /// An access token by `jti` (JWTs) or by hash (opaque tokens).
    async fn access_token_by_jti(&self, jti: &str) -> StoreResult<Option<AccessTokenStatus>>;
    async fn access_token_by_hash(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<AccessTokenStatus>>;
    /// Puts one access token on the deny list (RFC 7009).
    async fn revoke_access_token(&self, jti: &str, now: UnixTime) -> StoreResult<()>;
    /// Revokes a grant and with it its refresh-token family and access tokens.
    async fn revoke_grant(&self, grant_id: &str, now: UnixTime, reason: &str) -> StoreResult<()>;
    async fn grant(&self, grant_id: &str) -> StoreResult<Option<Grant>>;

    // --- security events: the audit trail (append-only) ---------------------
    async fn record_security_event(&self, event: &SecurityEvent) -> StoreResult<()>;
    /// The latest `limit` events, newest first.
    async fn security_events(&self, limit: u32) -> StoreResult<Vec<SecurityEvent>>;
    /// The events `query` selects, newest first.
    async fn search_security_events(&self, query: &EventQuery) -> StoreResult<Vec<SecurityEvent>>;
    /// Deletes events written before `before` (the retention), `batch` rows
    /// a statement; returns how many.
    async fn purge_security_events(&self, before: UnixTime, batch: u32) -> StoreResult<u64>;

    // --- failed logins (the login throttle) ---------------------------------
    /// The failed logins counted under `key`, if they still count at `now`.
    async fn login_failures(&self, key: &str, now: UnixTime) -> StoreResult<Option<LoginFailures>>;
    /// Counts one more failed login under `key` at `now`, atomically (one
    /// statement: concurrent failures on any node all count), starting again
    /// from one if the earlier count had expired; the count then lasts until
    /// `expires_at`. Returns the new count.
    async fn record_login_failure(
        &self,
        key: &str,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<LoginFailures>;
    /// Forgets the failed logins counted under `key` (a successful login).
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;

    // --- housekeeping -----------------------------------------------------
    /// Deletes codes, refresh tokens, access tokens (deny-list entries
    /// included), sessions, authorization requests and failed-login counts
    /// expired at `now`, and
    /// wipes retry copies whose window has passed: at most `batch` rows per
    /// statement, looping until none is left. `None` if another node is
    /// doing it right now (PostgreSQL advisory lock).
    async fn purge_expired(&self, now: UnixTime, batch: u32) -> StoreResult<Option<PurgeReport>>;

    // --- signing keys: lifecycle ------------------------------------------
    /// Marks the key retired at `now`, once: `false` if there is no such key
    /// or it was already retired. The caller has checked that no live token
    /// depends on it.
    async fn retire_signing_key(&self, kid: &str, now: UnixTime) -> StoreResult<bool>;
    /// Replaces a private key kept in clear (`encryption = 'none'`, written
    /// before keys were encrypted) by its sealed form. `false` if it was
    /// sealed meanwhile (by another process), which is fine.
    async fn seal_signing_key(
        &self,
        kid: &str,
        encryption: &str,
        private_key: &[u8],
    ) -> StoreResult<bool>;
}
