//! The PostgreSQL store: several Tessera nodes share one database.
//!
//! Single use holds across nodes because it is decided by the database: a
//! code is consumed by one `UPDATE … WHERE consumed_at IS NULL RETURNING`,
//! and a refresh token rotates by a conditional `UPDATE` in the transaction
//! that stores its successor. Under READ COMMITTED a concurrent updater waits
//! for the row lock, re-checks the condition, and finds the row taken.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection as _, PgConnection, PgPool, Row};
use tessera_core::UnixTime;
use tessera_core::authorize::AuthorizationRequest;
use tessera_core::client::{Client, GrantType};
use tessera_core::grant::{CodeGrant, RefreshTokenRecord};
use tessera_core::pkce::CodeChallenge;
use tessera_core::resource::{AccessTokenFormat, Resource};
use tessera_core::scope::Scope;

use crate::purge;
use crate::rows::row_decoders;
use crate::schema::{self, Migrations};
use crate::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory-lock key of housekeeping ("tessera" in ASCII): whichever
/// node holds it purges, the others skip their turn.
const HOUSEKEEPING_LOCK: i64 = 0x0074_6573_7365_7261;

/// How to reach the database and how hard to try.
#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database`. May hold a password:
    /// never logged, never in an error.
    pub url: String,
    /// Connections this node keeps at most. Every node has its own pool, so
    /// the sum over nodes must stay under the server's `max_connections`.
    pub max_connections: u32,
    /// How long one statement may run before the server cancels it, so a
    /// stuck query turns into a 503 instead of a hung request.
    pub statement_timeout: Duration,
    /// How long a request waits for a free connection.
    pub acquire_timeout: Duration,
    /// Attempts to reach the database at start before giving up (at least 1).
    pub connect_attempts: u32,
    /// The pause between two attempts.
    pub connect_retry_delay: Duration,
    /// A schema to work in (created if missing) instead of the user's
    /// default `search_path`: lets tests, or several deployments, share one
    /// database. Letters, digits and `_` only.
    pub schema: Option<String>,
    pub migrations: Migrations,
}

impl PostgresOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            statement_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(10),
            connect_attempts: 5,
            connect_retry_delay: Duration::from_secs(2),
            schema: None,
            migrations: Migrations::Apply,
        }
    }
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("max_connections", &self.max_connections)
            .field("statement_timeout", &self.statement_timeout)
            .field("connect_attempts", &self.connect_attempts)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects (retrying as `options` say), then checks the schema version
    /// and applies or refuses pending migrations.
    pub async fn connect(options: &PostgresOptions) -> StoreResult<Self> {
        // The parse error could quote the URL, password included: say only
        // what is wrong in general.
        let mut connect = PgConnectOptions::from_str(&options.url)
            .map_err(|_| StoreError::InvalidOption("the PostgreSQL URL cannot be parsed".into()))?;
        let mut params = vec![(
            "statement_timeout",
            options.statement_timeout.as_millis().to_string(),
        )];
        if let Some(schema) = &options.schema {
            if schema.is_empty()
                || !schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(StoreError::InvalidOption(
                    "a PostgreSQL schema name is letters, digits and `_` only".into(),
                ));
            }
            params.push(("search_path", schema.clone()));
        }
        connect = connect.options(params);
        let attempts = options.connect_attempts.max(1);
        let mut attempt = 0;
        // One plain connection per attempt: the pool would itself retry a
        // refused connection until its acquire timeout, hiding the count.
        loop {
            attempt += 1;
            match PgConnection::connect_with(&connect).await {
                Ok(conn) => {
                    let _ = conn.close().await;
                    break;
                }
                Err(e) if attempt < attempts => {
                    tracing::warn!(attempt, attempts, error = %e, "PostgreSQL not reachable yet; retrying");
                    tokio::time::sleep(options.connect_retry_delay).await;
                }
                Err(e) => {
                    return Err(StoreError::Unreachable {
                        attempts,
                        source: e,
                    });
                }
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        if let Some(schema) = &options.schema {
            // Checked above to be a plain identifier.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
            )))
            .execute(&pool)
            .await?;
        }
        let mut conn = pool.acquire().await?;
        schema::prepare(&MIGRATOR, &mut *conn, options.migrations).await?;
        drop(conn);
        Ok(Self { pool })
    }

    /// The pool, for tests and maintenance that need plain SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

row_decoders!(PgRow);

const INSERT_ACCESS_TOKEN: &str = "INSERT INTO access_tokens \
     (jti, token_hash, grant_id, client_id, subject, scope, audience, auth_time, issued_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// An access token joined with its grant's revocation.
const SELECT_ACCESS_TOKEN: &str = "SELECT a.*, g.revoked_at AS grant_revoked_at \
     FROM access_tokens a LEFT JOIN grants g ON g.grant_id = a.grant_id";

const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens \
     (token_hash, grant_id, client_id, issued_at, idle_expires_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5, $6)";

fn bind_access<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    a: &'q AccessTokenRecord,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(&a.jti)
        .bind(a.token_hash.as_ref().map(TokenHash::as_str))
        .bind(&a.grant_id)
        .bind(&a.client_id)
        .bind(&a.subject)
        .bind(a.scope.to_string())
        .bind(&a.audience)
        .bind(a.auth_time)
        .bind(a.issued_at)
        .bind(a.expires_at)
}

fn bind_refresh<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    hash: &'q TokenHash,
    r: &'q NewRefreshToken,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(hash.as_str())
        .bind(&r.grant_id)
        .bind(&r.client_id)
        .bind(r.issued_at)
        .bind(r.idle_expires_at)
        .bind(r.absolute_expires_at)
}

#[async_trait]
impl Store for PostgresStore {
    async fn setting_or_init(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(initial)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("value")?)
    }

    async fn upsert_client(&self, c: &Client, now: UnixTime) -> StoreResult<()> {
        let redirect_uris = serde_json::to_string(&c.redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        let grants =
            serde_json::to_string(&grants).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let logout_uris = serde_json::to_string(&c.post_logout_redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO clients (client_id, name, secret_hash, redirect_uris, scopes, grant_types, require_pkce, \
             introspect, resource, access_token_format, id_token_signed_response_alg, post_logout_redirect_uris, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash, \
             redirect_uris = excluded.redirect_uris, scopes = excluded.scopes, grant_types = excluded.grant_types, \
             require_pkce = excluded.require_pkce, introspect = excluded.introspect, resource = excluded.resource, \
             access_token_format = excluded.access_token_format, \
             id_token_signed_response_alg = excluded.id_token_signed_response_alg, \
             post_logout_redirect_uris = excluded.post_logout_redirect_uris",
        )
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(redirect_uris)
        .bind(c.scopes.to_string())
        .bind(grants)
        .bind(c.require_pkce)
        .bind(c.introspect)
        .bind(&c.resource)
        .bind(c.access_token_format.map(AccessTokenFormat::as_str))
        .bind(c.id_token_signed_response_alg.map(|a| a.as_str()))
        .bind(logout_uris)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        sqlx::query("SELECT * FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(client_from_row)
            .transpose()
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        sqlx::query("SELECT * FROM clients ORDER BY client_id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(client_from_row)
            .collect()
    }

    async fn delete_client(&self, client_id: &str, now: UnixTime) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // Deleting a client ends everything it was given.
        sqlx::query("UPDATE grants SET revoked_at = $1, revoked_reason = 'client deleted' WHERE client_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        // Client-credentials tokens belong to no grant: revoke them directly.
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn upsert_resource(&self, r: &Resource, now: UnixTime) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO resources (identifier, name, scopes, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (identifier) DO UPDATE SET name = excluded.name, scopes = excluded.scopes",
        )
        .bind(&r.identifier)
        .bind(&r.name)
        .bind(r.scopes.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn resource(&self, identifier: &str) -> StoreResult<Option<Resource>> {
        sqlx::query("SELECT * FROM resources WHERE identifier = $1")
            .bind(identifier)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(resource_from_row)
            .transpose()
    }

    async fn resources(&self) -> StoreResult<Vec<Resource>> {
        sqlx::query("SELECT * FROM resources ORDER BY identifier")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(resource_from_row)
            .collect()
    }

    async fn delete_resource(&self, identifier: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM resources WHERE identifier = $1")
            .bind(identifier)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn access_token_by_jti(&self, jti: &str) -> StoreResult<Option<AccessTokenStatus>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_ACCESS_TOKEN} WHERE a.jti = $1"
        )))
        .bind(jti)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(access_token_from_row)
        .transpose()
    }

    async fn access_token_by_hash(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<AccessTokenStatus>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_ACCESS_TOKEN} WHERE a.token_hash = $1"
        )))
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(access_token_from_row)
        .transpose()
    }

    async fn revoke_access_token(&self, jti: &str, now: UnixTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 WHERE jti = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(jti)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_user(&self, u: &User) -> StoreResult<()> {
        let res = sqlx::query(
            "INSERT INTO users (user_id, username, password_hash, created_at, password_changed_at, claims) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&u.user_id)
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(u.created_at)
        .bind(u.created_at)
        .bind(serde_json::to_string(&u.claims).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("user {}", u.username)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    async fn delete_user(&self, username: &str, now: UnixTime) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE grants SET revoked_at = $1, revoked_reason = 'user deleted' \
             WHERE revoked_at IS NULL AND user_id = (SELECT user_id FROM users WHERE username = $2)",
        )
        .bind(now)
        .bind(username)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_user_claims(
        &self,
        username: &str,
        claims: &tessera_core::user_claims::UserClaims,
    ) -> StoreResult<bool> {
        let json = serde_json::to_string(claims).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query("UPDATE users SET claims = $1 WHERE username = $2")
            .bind(json)
            .bind(username)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE username = $3",
        )
        .bind(password_hash)
        .bind(now)
        .bind(username)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE grants SET revoked_at = $1, revoked_reason = 'password changed' \
             WHERE revoked_at IS NULL AND user_id = (SELECT user_id FROM users WHERE username = $2)",
        )
        .bind(now)
        .bind(username)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM sessions WHERE user_id = (SELECT user_id FROM users WHERE username = $1)",
        )
        .bind(username)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        let rows = sqlx::query("SELECT * FROM signing_keys ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(signing_key_from_row).collect()
    }

    async fn insert_signing_key(&self, k: &StoredSigningKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, encryption, private_key, created_at, activates_at, retired_at, purpose) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&k.kid)
        .bind(&k.algorithm)
        .bind(&k.encryption)
        .bind(&k.private_key)
        .bind(k.created_at)
        .bind(k.activates_at)
        .bind(k.retired_at)
        .bind(&k.purpose)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_session(&self, s: &Session) -> StoreResult<()> {
        insert_session(&mut *self.pool.acquire().await?, s).await
    }

    async fn session(&self, id_hash: &TokenHash, now: UnixTime) -> StoreResult<Option<Session>> {
        sqlx::query("SELECT * FROM sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(id_hash.as_str())
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    async fn replace_session(&self, old: Option<&TokenHash>, new: &Session) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_session(&mut tx, new).await?;
        if let Some(old) = old {
            sqlx::query(
                "UPDATE authorization_requests SET session_hash = $1 WHERE session_hash = $2",
            )
            .bind(new.id_hash.as_str())
            .bind(old.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(old.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn save_authorization_request(
        &self,
        id: &str,
        session: &TokenHash,
        request: &AuthorizationRequest,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        let data =
            serde_json::to_string(request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("INSERT INTO authorization_requests (id, session_hash, data, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(session.as_str())
            .bind(data)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn authorization_request(
        &self,
        id: &str,
        session: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<AuthorizationRequest>> {
        let row = sqlx::query(
            "SELECT data FROM authorization_requests WHERE id = $1 AND session_hash = $2 AND expires_at > $3",
        )
        .bind(id)
        .bind(session.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let data: String = r.try_get("data")?;
            serde_json::from_str(&data)
                .map_err(|_| StoreError::Corrupt("authorization request".into()))
        })
        .transpose()
    }

    async fn take_authorization_request(&self, id: &str, session: &TokenHash) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM authorization_requests WHERE id = $1 AND session_hash = $2")
                .bind(id)
                .bind(session.as_str())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        let row = sqlx::query("SELECT * FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(consent_from_row).transpose()
    }

    async fn save_consent(&self, c: &Consent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, redirect_uri, granted_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, \
             redirect_uri = excluded.redirect_uri, granted_at = excluded.granted_at",
        )
        .bind(&c.user_id)
        .bind(&c.client_id)
        .bind(c.scope.to_string())
        .bind(&c.redirect_uri)
        .bind(c.granted_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn issue_code(&self, g: &Grant, code_hash: &TokenHash, c: &CodeGrant) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO grants (grant_id, client_id, user_id, scope, audience, auth_time, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&g.grant_id)
        .bind(&g.client_id)
        .bind(&g.user_id)
        .bind(g.scope.to_string())
        .bind(&g.audience)
        .bind(g.auth_time)
        .bind(g.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, redirect_uri, redirect_explicit, \
             scope, audience, code_challenge, nonce, auth_time, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(code_hash.as_str())
        .bind(&c.grant_id)
        .bind(&c.client_id)
        .bind(&c.user_id)
        .bind(&c.redirect_uri)
        .bind(c.redirect_uri_explicit)
        .bind(c.scope.to_string())
        .bind(&c.audience)
        .bind(c.code_challenge.as_ref().map(|c| c.as_str()))
        .bind(&c.nonce)
        .bind(c.auth_time)
        .bind(c.issued_at)
        .bind(c.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn code_challenge_seen(
        &self,
        client_id: &str,
        challenge: &str,
        since: UnixTime,
    ) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM authorization_codes WHERE client_id = $1 AND code_challenge = $2 AND issued_at >= $3 LIMIT 1",
        )
        .bind(client_id)
        .bind(challenge)
        .bind(since)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    async fn consume_code(
        &self,
        code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<CodeConsumption> {
        // One statement: of any number of concurrent redemptions exactly one
        // sees the row come back.
        let consumed = sqlx::query(
            "UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL RETURNING *",
        )
        .bind(now)
        .bind(code_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = consumed {
            return Ok(CodeConsumption::Consumed(code_from_row(&row)?));
        }
        let used = sqlx::query("SELECT grant_id FROM authorization_codes WHERE code_hash = $1")
            .bind(code_hash.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match used {
            Some(row) => CodeConsumption::AlreadyUsed {
                grant_id: row.try_get("grant_id")?,
            },
            None => CodeConsumption::Unknown,
        })
    }

    async fn issue_tokens(
        &self,
        access: &AccessTokenRecord,
        refresh: Option<(&TokenHash, &NewRefreshToken)>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        bind_access(sqlx::query(INSERT_ACCESS_TOKEN), access)
            .execute(&mut *tx)
            .await?;
        if let Some((hash, r)) = refresh {
            bind_refresh(sqlx::query(INSERT_REFRESH_TOKEN), hash, r)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>> {
        let row = sqlx::query(
            "SELECT r.grant_id, r.client_id, g.user_id, g.scope, g.audience, g.auth_time, r.issued_at, r.idle_expires_at, \
             r.absolute_expires_at, r.rotated_at, g.revoked_at \
             FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id WHERE r.token_hash = $1",
        )
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(refresh_token_from_row).transpose()
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
        let mut tx = self.pool.begin().await?;
        let rotated = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $1, child_hash = $2, retry_until = $3, retry_sealed = $4 \
             WHERE token_hash = $5 AND rotated_at IS NULL \
             AND grant_id IN (SELECT grant_id FROM grants WHERE revoked_at IS NULL)",
        )
        .bind(now)
        .bind(new_hash.as_str())
        .bind(retry.map(|r| r.until))
        .bind(retry.map(|r| r.sealed.as_slice()))
        .bind(old.as_str())
        .execute(&mut *tx)
        .await?;
        if rotated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        bind_access(sqlx::query(INSERT_ACCESS_TOKEN), access)
            .execute(&mut *tx)
            .await?;
        bind_refresh(sqlx::query(INSERT_REFRESH_TOKEN), new_hash, new)
            .execute(&mut *tx)
            .await?;
        // `old` is now used: the copy of the answer that produced it goes.
        sqlx::query(
            "UPDATE refresh_tokens SET retry_sealed = NULL, retry_until = NULL WHERE child_hash = $1",
        )
        .bind(old.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn refresh_retry(&self, old: &TokenHash, now: UnixTime) -> StoreResult<Option<Vec<u8>>> {
        let row = sqlx::query(
            "SELECT p.retry_sealed FROM refresh_tokens p \
             JOIN refresh_tokens c ON c.token_hash = p.child_hash \
             JOIN grants g ON g.grant_id = p.grant_id \
             WHERE p.token_hash = $1 AND p.retry_sealed IS NOT NULL AND p.retry_until > $2 \
             AND c.rotated_at IS NULL AND g.revoked_at IS NULL",
        )
        .bind(old.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("retry_sealed")).transpose()?)
    }

    async fn revoke_grant(&self, grant_id: &str, now: UnixTime, reason: &str) -> StoreResult<()> {
        sqlx::query("UPDATE grants SET revoked_at = $1, revoked_reason = $2 WHERE grant_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(reason)
            .bind(grant_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn grant(&self, grant_id: &str) -> StoreResult<Option<Grant>> {
        sqlx::query("SELECT * FROM grants WHERE grant_id = $1")
            .bind(grant_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(grant_from_row)
            .transpose()
    }

    async fn record_security_event(&self, e: &SecurityEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO security_events (at, kind, client_id, user_id, grant_id, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.at)
        .bind(&e.kind)
        .bind(&e.client_id)
        .bind(&e.user_id)
        .bind(&e.grant_id)
        .bind(&e.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn security_events(&self, limit: u32) -> StoreResult<Vec<SecurityEvent>> {
        sqlx::query("SELECT * FROM security_events ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(security_event_from_row)
            .collect()
    }

    async fn purge_expired(&self, now: UnixTime, batch: u32) -> StoreResult<Option<PurgeReport>> {
        // A session-level advisory lock: one node purges at a time, and a
        // node that dies mid-way releases it with its connection.
        let mut conn = self.pool.acquire().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(HOUSEKEEPING_LOCK)
            .fetch_one(&mut *conn)
            .await?;
        if !locked {
            return Ok(None);
        }
        // On the locking connection itself: with a pool of one, waiting for
        // a second connection would wait for ever.
        let purged = purge_batches(&mut conn, now, batch).await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(HOUSEKEEPING_LOCK)
            .execute(&mut *conn)
            .await;
        if unlocked.is_err() {
            // Never hand a connection that may still hold the lock back to
            // the pool: closing it releases the lock.
            conn.close_on_drop();
        }
        purged.map(Some)
    }

    async fn retire_signing_key(&self, kid: &str, now: UnixTime) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
        )
        .bind(now)
        .bind(kid)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn seal_signing_key(
        &self,
        kid: &str,
        encryption: &str,
        private_key: &[u8],
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE signing_keys SET encryption = $1, private_key = $2 WHERE kid = $3 AND encryption = 'none'",
        )
        .bind(encryption)
        .bind(private_key)
        .bind(kid)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Housekeeping's batches, each statement at most `batch` rows.
async fn purge_batches(
    conn: &mut PgConnection,
    now: UnixTime,
    batch: u32,
) -> StoreResult<PurgeReport> {
    let mut report = PurgeReport::default();
    for (sql, counter) in purge::statements("ctid", "$1", "$2", |id, select| {
        format!("{id} = ANY(ARRAY({select}))")
    }) {
        loop {
            let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(now)
                .bind(i64::from(batch))
                .execute(&mut *conn)
                .await?
                .rows_affected();
            *counter(&mut report) += done;
            if done < u64::from(batch) {
                break;
            }
        }
    }
    Ok(report)
}

async fn insert_session(conn: &mut sqlx::PgConnection, s: &Session) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, csrf_token, user_id, auth_time, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(s.id_hash.as_str())
    .bind(&s.csrf_token)
    .bind(&s.user_id)
    .bind(s.auth_time)
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}
