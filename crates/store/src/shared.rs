//! The [`Store`] implementation both backends share: every statement is
//! written once, with `$n` placeholders, and runs unchanged on SQLite and
//! PostgreSQL. What differs comes from the [`Dialect`].
//!
//! Single use holds on both, and across PostgreSQL nodes, because the
//! database decides it: a code is consumed by one `UPDATE … WHERE
//! consumed_at IS NULL RETURNING`, and a refresh token rotates by a
//! conditional `UPDATE` in the transaction that stores its successor. A
//! concurrent updater waits (SQLite: for the database's one write lock;
//! PostgreSQL: for the row lock, after which READ COMMITTED re-checks the
//! condition) and finds the row taken.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, Row, Type};
use tessera_core::UnixTime;
use tessera_core::authorize::AuthorizationRequest;
use tessera_core::client::Client;
use tessera_core::grant::{CodeGrant, RefreshTokenRecord};
use tessera_core::resource::Resource;
use tessera_core::user_claims::UserClaims;

use crate::dialect::{Dialect, SqlStore};
use crate::rows::json_text;
use crate::*;

/// An access token joined with its grant's revocation.
const SELECT_ACCESS_TOKEN: &str = "SELECT a.*, g.revoked_at AS grant_revoked_at \
     FROM access_tokens a LEFT JOIN grants g ON g.grant_id = a.grant_id";

#[async_trait]
impl<DB: Dialect> Store for SqlStore<DB>
where
    // The same list as on `rows.rs`' impl: see there.
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB>,
    for<'a> &'a [u8]: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a [u8]>: Encode<'a, DB>,
    for<'a> String: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> Option<String>: Encode<'a, DB>,
    for<'a> i64: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> Option<i64>: Encode<'a, DB>,
    for<'a> bool: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> Vec<u8>: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
{
    async fn setting_or_init(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>> {
        self.run(
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(initial),
        )
        .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("value")?)
    }

    // --- clients ----------------------------------------------------------

    async fn upsert_client(&self, c: &Client, now: UnixTime) -> StoreResult<()> {
        self.run(Self::write_client(c, now)?).await
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        let q = sqlx::query("SELECT * FROM clients WHERE client_id = $1").bind(client_id);
        self.optional(q, Self::client_from_row).await
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        let q = sqlx::query("SELECT * FROM clients ORDER BY client_id");
        self.all(q, Self::client_from_row).await
    }

    async fn delete_client(&self, client_id: &str, now: UnixTime) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with(DB::BEGIN).await?;
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
        Ok(DB::rows_affected(&done) > 0)
    }

    // --- resources --------------------------------------------------------

    async fn upsert_resource(&self, r: &Resource, now: UnixTime) -> StoreResult<()> {
        self.run(
            sqlx::query(
                "INSERT INTO resources (identifier, name, scopes, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (identifier) DO UPDATE SET name = excluded.name, scopes = excluded.scopes",
            )
            .bind(&r.identifier)
            .bind(&r.name)
            .bind(r.scopes.to_string())
            .bind(now),
        )
        .await
    }

    async fn resource(&self, identifier: &str) -> StoreResult<Option<Resource>> {
        let q = sqlx::query("SELECT * FROM resources WHERE identifier = $1").bind(identifier);
        self.optional(q, Self::resource_from_row).await
    }

    async fn resources(&self) -> StoreResult<Vec<Resource>> {
        let q = sqlx::query("SELECT * FROM resources ORDER BY identifier");
        self.all(q, Self::resource_from_row).await
    }

    async fn delete_resource(&self, identifier: &str) -> StoreResult<bool> {
        self.changed(sqlx::query("DELETE FROM resources WHERE identifier = $1").bind(identifier))
            .await
    }

    // --- users ------------------------------------------------------------

    async fn create_user(&self, u: &User) -> StoreResult<()> {
        match self.run(Self::write_user(u)?).await {
            Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("user {}", u.username)))
            }
            other => other,
        }
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let q = sqlx::query("SELECT * FROM users WHERE username = $1").bind(username);
        self.optional(q, Self::user_from_row).await
    }

    async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
        let q = sqlx::query("SELECT * FROM users WHERE user_id = $1").bind(user_id);
        self.optional(q, Self::user_from_row).await
    }

    async fn users(&self) -> StoreResult<Vec<User>> {
        let q = sqlx::query("SELECT * FROM users ORDER BY username");
        self.all(q, Self::user_from_row).await
    }

    async fn delete_user(&self, username: &str, now: UnixTime) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with(DB::BEGIN).await?;
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
        Ok(DB::rows_affected(&done) > 0)
    }

    async fn set_user_claims(&self, username: &str, claims: &UserClaims) -> StoreResult<bool> {
        let q = sqlx::query("UPDATE users SET claims = $1 WHERE username = $2")
            .bind(json_text(claims)?)
            .bind(username);
        self.changed(q).await
    }

    async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with(DB::BEGIN).await?;
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
        Ok(DB::rows_affected(&done) > 0)
    }

    // --- signing keys -----------------------------------------------------

    async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        self.all(sqlx::query(DB::SIGNING_KEYS), Self::signing_key_from_row)
            .await
    }

    async fn insert_signing_key(&self, k: &StoredSigningKey) -> StoreResult<()> {
        self.run(Self::write_signing_key(k)).await
    }

    async fn retire_signing_key(&self, kid: &str, now: UnixTime) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
        )
        .bind(now)
        .bind(kid);
        self.changed(q).await
    }

    async fn seal_signing_key(
        &self,
        kid: &str,
        encryption: &str,
        private_key: &[u8],
    ) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE signing_keys SET encryption = $1, private_key = $2 WHERE kid = $3 AND encryption = 'none'",
        )
        .bind(encryption)
        .bind(private_key)
        .bind(kid);
        self.changed(q).await
    }

    // --- browser sessions and pending requests ----------------------------

    async fn create_session(&self, s: &Session) -> StoreResult<()> {
        self.run(Self::write_session(s)).await
    }

    async fn session(&self, id_hash: &TokenHash, now: UnixTime) -> StoreResult<Option<Session>> {
        let q = sqlx::query("SELECT * FROM sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(id_hash.as_str())
            .bind(now);
        self.optional(q, Self::session_from_row).await
    }

    async fn replace_session(&self, old: Option<&TokenHash>, new: &Session) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(DB::BEGIN).await?;
        Self::write_session(new).execute(&mut *tx).await?;
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
        self.run(sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash.as_str()))
            .await
    }

    async fn save_authorization_request(
        &self,
        id: &str,
        session: &TokenHash,
        request: &AuthorizationRequest,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        self.run(
            sqlx::query("INSERT INTO authorization_requests (id, session_hash, data, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(session.as_str())
                .bind(json_text(request)?)
                .bind(expires_at),
        )
        .await
    }

    async fn authorization_request(
        &self,
        id: &str,
        session: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<AuthorizationRequest>> {
        let q = sqlx::query(
            "SELECT data FROM authorization_requests WHERE id = $1 AND session_hash = $2 AND expires_at > $3",
        )
        .bind(id)
        .bind(session.as_str())
        .bind(now);
        self.optional(q, |r| Self::json(r, "data", "authorization request"))
            .await
    }

    async fn take_authorization_request(&self, id: &str, session: &TokenHash) -> StoreResult<bool> {
        let q =
            sqlx::query("DELETE FROM authorization_requests WHERE id = $1 AND session_hash = $2")
                .bind(id)
                .bind(session.as_str());
        self.changed(q).await
    }

    // --- consent ----------------------------------------------------------

    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        let q = sqlx::query("SELECT * FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id);
        self.optional(q, Self::consent_from_row).await
    }

    async fn save_consent(&self, c: &Consent) -> StoreResult<()> {
        self.run(Self::write_consent(c)).await
    }

    // --- grants, codes and tokens -----------------------------------------

    async fn issue_code(&self, g: &Grant, code_hash: &TokenHash, c: &CodeGrant) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(DB::BEGIN).await?;
        Self::write_grant(g).execute(&mut *tx).await?;
        Self::write_code(code_hash, c).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn code_challenge_seen(
        &self,
        client_id: &str,
        challenge: &str,
        since: UnixTime,
    ) -> StoreResult<bool> {
        let q = sqlx::query(
            "SELECT 1 FROM authorization_codes WHERE client_id = $1 AND code_challenge = $2 AND issued_at >= $3 LIMIT 1",
        )
        .bind(client_id)
        .bind(challenge)
        .bind(since);
        Ok(self.optional(q, |_| Ok(())).await?.is_some())
    }

    async fn consume_code(
        &self,
        code_hash: &TokenHash,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<CodeConsumption> {
        // One statement: of any number of concurrent redemptions exactly one
        // sees the row come back; only the code's own client can consume it.
        let q = sqlx::query(
            "UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND client_id = $3 AND consumed_at IS NULL RETURNING *",
        )
        .bind(now)
        .bind(code_hash.as_str())
        .bind(client_id);
        if let Some(code) = self.optional(q, Self::code_from_row).await? {
            return Ok(CodeConsumption::Consumed(code));
        }
        let q =
            sqlx::query("SELECT grant_id, client_id FROM authorization_codes WHERE code_hash = $1")
                .bind(code_hash.as_str());
        let found: Option<(String, String)> = self
            .optional(q, |r| Ok((r.try_get("grant_id")?, r.try_get("client_id")?)))
            .await?;
        Ok(match found {
            None => CodeConsumption::Unknown,
            Some((_, owner)) if owner != client_id => CodeConsumption::OtherClient,
            // Not consumed by the update above, so consumed before.
            Some((grant_id, _)) => CodeConsumption::AlreadyUsed { grant_id },
        })
    }

    async fn issue_tokens(
        &self,
        access: &AccessTokenRecord,
        refresh: Option<(&TokenHash, &NewRefreshToken)>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin_with(DB::BEGIN).await?;
        Self::write_access_token(access).execute(&mut *tx).await?;
        if let Some((hash, r)) = refresh {
            Self::write_refresh_token(hash, r).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>> {
        let q = sqlx::query(
            "SELECT r.grant_id, r.client_id, g.user_id, g.scope, g.audience, g.auth_time, r.issued_at, r.idle_expires_at, \
             r.absolute_expires_at, r.rotated_at, g.revoked_at \
             FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id WHERE r.token_hash = $1",
        )
        .bind(hash.as_str());
        self.optional(q, Self::refresh_token_from_row).await
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
        let mut tx = self.pool.begin_with(DB::BEGIN).await?;
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
        if DB::rows_affected(&rotated) != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        Self::write_access_token(access).execute(&mut *tx).await?;
        Self::write_refresh_token(new_hash, new)
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
        let q = sqlx::query(
            "SELECT p.retry_sealed FROM refresh_tokens p \
             JOIN refresh_tokens c ON c.token_hash = p.child_hash \
             JOIN grants g ON g.grant_id = p.grant_id \
             WHERE p.token_hash = $1 AND p.retry_sealed IS NOT NULL AND p.retry_until > $2 \
             AND c.rotated_at IS NULL AND g.revoked_at IS NULL",
        )
        .bind(old.as_str())
        .bind(now);
        self.optional(q, |r| Ok(r.try_get("retry_sealed")?)).await
    }

    async fn access_token_by_jti(&self, jti: &str) -> StoreResult<Option<AccessTokenStatus>> {
        let sql = format!("{SELECT_ACCESS_TOKEN} WHERE a.jti = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(jti);
        self.optional(q, Self::access_token_from_row).await
    }

    async fn access_token_by_hash(
        &self,
        hash: &TokenHash,
    ) -> StoreResult<Option<AccessTokenStatus>> {
        let sql = format!("{SELECT_ACCESS_TOKEN} WHERE a.token_hash = $1");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash.as_str());
        self.optional(q, Self::access_token_from_row).await
    }

    async fn revoke_access_token(&self, jti: &str, now: UnixTime) -> StoreResult<()> {
        let q = sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 WHERE jti = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(jti);
        self.run(q).await
    }

    async fn revoke_grant(&self, grant_id: &str, now: UnixTime, reason: &str) -> StoreResult<()> {
        let q = sqlx::query(
            "UPDATE grants SET revoked_at = $1, revoked_reason = $2 WHERE grant_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(grant_id);
        self.run(q).await
    }

    async fn grant(&self, grant_id: &str) -> StoreResult<Option<Grant>> {
        let q = sqlx::query("SELECT * FROM grants WHERE grant_id = $1").bind(grant_id);
        self.optional(q, Self::grant_from_row).await
    }

    // --- security events and housekeeping ---------------------------------

    async fn record_security_event(&self, e: &SecurityEvent) -> StoreResult<()> {
        self.run(Self::write_security_event(e)).await
    }

    async fn security_events(&self, limit: u32) -> StoreResult<Vec<SecurityEvent>> {
        let q = sqlx::query("SELECT * FROM security_events ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit));
        self.all(q, Self::security_event_from_row).await
    }

    async fn search_security_events(&self, query: &EventQuery) -> StoreResult<Vec<SecurityEvent>> {
        let q = sqlx::query(
            "SELECT * FROM security_events \
             WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR client_id = $2) \
               AND ($3 IS NULL OR kind = $3) AND at >= $4 AND id > $5 \
             ORDER BY id DESC LIMIT $6",
        )
        .bind(&query.user_id)
        .bind(&query.client_id)
        .bind(&query.kind)
        .bind(query.since.unwrap_or(i64::MIN))
        .bind(query.after_id.unwrap_or(0))
        .bind(i64::from(query.limit));
        self.all(q, Self::security_event_from_row).await
    }

    async fn purge_security_events(&self, before: UnixTime, batch: u32) -> StoreResult<u64> {
        // A batch a statement, addressed by row id like the other purges.
        let sql = format!(
            "DELETE FROM security_events WHERE {}",
            DB::rows_in(&format!(
                "SELECT {} FROM security_events WHERE at < $1 LIMIT $2",
                DB::ROW_ID
            ))
        );
        let mut total = 0;
        loop {
            let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(before)
                .bind(i64::from(batch))
                .execute(&self.pool)
                .await?;
            let done = DB::rows_affected(&done);
            total += done;
            if done < u64::from(batch) {
                return Ok(total);
            }
        }
    }

    // The statements are in `login_failures.rs`.
    async fn login_failures(&self, key: &str, now: UnixTime) -> StoreResult<Option<LoginFailures>> {
        self.failures_of(key, now).await
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<LoginFailures> {
        self.count_failure(key, now, expires_at).await
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.run(sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1").bind(key))
            .await
    }

    async fn purge_expired(&self, now: UnixTime, batch: u32) -> StoreResult<Option<PurgeReport>> {
        let Some(mut conn) = DB::lock_housekeeping(&self.pool).await? else {
            return Ok(None);
        };
        // On the locking connection itself: with a pool of one, waiting for
        // a second connection would wait for ever.
        let purged = purge::batches::<DB>(&mut conn, now, batch).await;
        DB::unlock_housekeeping(conn).await;
        purged.map(Some)
    }
}
