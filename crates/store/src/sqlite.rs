//! The SQLite store: the default, embedded backend.
//!
//! WAL mode so readers never block the writer, `synchronous = FULL` so a
//! committed code or token survives a power cut, and `BEGIN IMMEDIATE` for
//! multi-statement writes so two writers never deadlock on a lock upgrade.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or
    /// `sqlite::memory:`) and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::open(url, Migrations::Apply).await
    }

    /// Opens the database at `url`; pending migrations are applied or
    /// refused as `migrations` says, and a schema newer than this binary is
    /// always refused.
    pub async fn open(url: &str, migrations: Migrations) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let mut conn = pool.acquire().await?;
        schema::prepare(&MIGRATOR, &mut *conn, migrations).await?;
        drop(conn);
        Ok(Self { pool })
    }
}

row_decoders!(SqliteRow);

const INSERT_ACCESS_TOKEN: &str = "INSERT INTO access_tokens \
     (jti, token_hash, grant_id, client_id, subject, scope, audience, auth_time, issued_at, expires_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// An access token joined with its grant's revocation.
const SELECT_ACCESS_TOKEN: &str = "SELECT a.*, g.revoked_at AS grant_revoked_at \
     FROM access_tokens a LEFT JOIN grants g ON g.grant_id = a.grant_id";

const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens \
     (token_hash, grant_id, client_id, issued_at, idle_expires_at, absolute_expires_at) VALUES (?, ?, ?, ?, ?, ?)";

fn bind_access<'q>(
    q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    a: &'q AccessTokenRecord,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
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
    q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    hash: &'q TokenHash,
    r: &'q NewRefreshToken,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    q.bind(hash.as_str())
        .bind(&r.grant_id)
        .bind(&r.client_id)
        .bind(r.issued_at)
        .bind(r.idle_expires_at)
        .bind(r.absolute_expires_at)
}

#[async_trait]
impl Store for SqliteStore {
    async fn setting_or_init(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(initial)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE name = ?")
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
        sqlx::query("SELECT * FROM clients WHERE client_id = ?")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // Deleting a client ends everything it was given.
        sqlx::query("UPDATE grants SET revoked_at = ?, revoked_reason = 'client deleted' WHERE client_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        // Client-credentials tokens belong to no grant: revoke them directly.
        sqlx::query(
            "UPDATE access_tokens SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM clients WHERE client_id = ?")
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn upsert_resource(&self, r: &Resource, now: UnixTime) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO resources (identifier, name, scopes, created_at) VALUES (?, ?, ?, ?) \
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
        sqlx::query("SELECT * FROM resources WHERE identifier = ?")
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
        let done = sqlx::query("DELETE FROM resources WHERE identifier = ?")
            .bind(identifier)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn access_token_by_jti(&self, jti: &str) -> StoreResult<Option<AccessTokenStatus>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_ACCESS_TOKEN} WHERE a.jti = ?"
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
            "{SELECT_ACCESS_TOKEN} WHERE a.token_hash = ?"
        )))
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(access_token_from_row)
        .transpose()
    }

    async fn revoke_access_token(&self, jti: &str, now: UnixTime) -> StoreResult<()> {
        sqlx::query("UPDATE access_tokens SET revoked_at = ? WHERE jti = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(jti)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_user(&self, u: &User) -> StoreResult<()> {
        let res = sqlx::query(
            "INSERT INTO users (user_id, username, password_hash, created_at, password_changed_at, claims) VALUES (?, ?, ?, ?, ?, ?)",
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
        sqlx::query("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE user_id = ?")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE grants SET revoked_at = ?, revoked_reason = 'user deleted' \
             WHERE revoked_at IS NULL AND user_id = (SELECT user_id FROM users WHERE username = ?)",
        )
        .bind(now)
        .bind(username)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM users WHERE username = ?")
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
        let done = sqlx::query("UPDATE users SET claims = ? WHERE username = ?")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE username = ?",
        )
        .bind(password_hash)
        .bind(now)
        .bind(username)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE grants SET revoked_at = ?, revoked_reason = 'password changed' \
             WHERE revoked_at IS NULL AND user_id = (SELECT user_id FROM users WHERE username = ?)",
        )
        .bind(now)
        .bind(username)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM sessions WHERE user_id = (SELECT user_id FROM users WHERE username = ?)",
        )
        .bind(username)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        let rows = sqlx::query("SELECT * FROM signing_keys ORDER BY rowid")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(signing_key_from_row).collect()
    }

    async fn insert_signing_key(&self, k: &StoredSigningKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, encryption, private_key, created_at, activates_at, retired_at, purpose) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
        sqlx::query("SELECT * FROM sessions WHERE id_hash = ? AND expires_at > ?")
            .bind(id_hash.as_str())
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    async fn replace_session(&self, old: Option<&TokenHash>, new: &Session) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        insert_session(&mut tx, new).await?;
        if let Some(old) = old {
            sqlx::query(
                "UPDATE authorization_requests SET session_hash = ? WHERE session_hash = ?",
            )
            .bind(new.id_hash.as_str())
            .bind(old.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
                .bind(old.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
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
        sqlx::query("INSERT INTO authorization_requests (id, session_hash, data, expires_at) VALUES (?, ?, ?, ?)")
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
            "SELECT data FROM authorization_requests WHERE id = ? AND session_hash = ? AND expires_at > ?",
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
            sqlx::query("DELETE FROM authorization_requests WHERE id = ? AND session_hash = ?")
                .bind(id)
                .bind(session.as_str())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        let row = sqlx::query("SELECT * FROM consents WHERE user_id = ? AND client_id = ?")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(consent_from_row).transpose()
    }

    async fn save_consent(&self, c: &Consent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, redirect_uri, granted_at) VALUES (?, ?, ?, ?, ?) \
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO grants (grant_id, client_id, user_id, scope, audience, auth_time, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            "SELECT 1 FROM authorization_codes WHERE client_id = ? AND code_challenge = ? AND issued_at >= ? LIMIT 1",
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
            "UPDATE authorization_codes SET consumed_at = ? WHERE code_hash = ? AND consumed_at IS NULL RETURNING *",
        )
        .bind(now)
        .bind(code_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = consumed {
            return Ok(CodeConsumption::Consumed(code_from_row(&row)?));
        }
        let used = sqlx::query("SELECT grant_id FROM authorization_codes WHERE code_hash = ?")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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
             FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id WHERE r.token_hash = ?",
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let rotated = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = ?, child_hash = ?, retry_until = ?, retry_sealed = ? \
             WHERE token_hash = ? AND rotated_at IS NULL \
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
            "UPDATE refresh_tokens SET retry_sealed = NULL, retry_until = NULL WHERE child_hash = ?",
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
             WHERE p.token_hash = ? AND p.retry_sealed IS NOT NULL AND p.retry_until > ? \
             AND c.rotated_at IS NULL AND g.revoked_at IS NULL",
        )
        .bind(old.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("retry_sealed")).transpose()?)
    }

    async fn revoke_grant(&self, grant_id: &str, now: UnixTime, reason: &str) -> StoreResult<()> {
        sqlx::query("UPDATE grants SET revoked_at = ?, revoked_reason = ? WHERE grant_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(reason)
            .bind(grant_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn grant(&self, grant_id: &str) -> StoreResult<Option<Grant>> {
        sqlx::query("SELECT * FROM grants WHERE grant_id = ?")
            .bind(grant_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(grant_from_row)
            .transpose()
    }

    async fn record_security_event(&self, e: &SecurityEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO security_events (at, kind, client_id, user_id, grant_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
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
        sqlx::query("SELECT * FROM security_events ORDER BY id DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(security_event_from_row)
            .collect()
    }

    async fn purge_expired(&self, now: UnixTime, batch: u32) -> StoreResult<Option<PurgeReport>> {
        // One node only: no lock needed.
        let mut report = PurgeReport::default();
        for (sql, counter) in purge::statements("rowid", "?1", "?2", |id, select| {
            format!("{id} IN ({select})")
        }) {
            loop {
                let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(now)
                    .bind(i64::from(batch))
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                *counter(&mut report) += done;
                if done < u64::from(batch) {
                    break;
                }
            }
        }
        Ok(Some(report))
    }

    async fn retire_signing_key(&self, kid: &str, now: UnixTime) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL",
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
            "UPDATE signing_keys SET encryption = ?, private_key = ? WHERE kid = ? AND encryption = 'none'",
        )
        .bind(encryption)
        .bind(private_key)
        .bind(kid)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

async fn insert_session(conn: &mut sqlx::SqliteConnection, s: &Session) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, csrf_token, user_id, auth_time, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
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
