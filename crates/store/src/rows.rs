//! Records in and out of rows, shared by both backends: binding a record to
//! its `INSERT`, decoding a row into a record, and running a statement.
//!
//! The `where` clause lists the Rust types the shared SQL binds and reads;
//! Rust does not carry a trait's `where` clauses over to the code using the
//! trait, so `shared.rs` repeats the same list on its `Store` impl.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use sqlx::{ColumnIndex, Decode, Encode, Executor, Row, Type};
use tessera_core::UnixTime;
use tessera_core::client::{Client, GrantType};
use tessera_core::grant::{CodeGrant, RefreshTokenRecord};
use tessera_core::pkce::CodeChallenge;
use tessera_core::resource::{AccessTokenFormat, Resource};
use tessera_core::scope::Scope;

use crate::dialect::{Dialect, Query, SqlStore};
use crate::*;

/// A value as JSON text, for the columns that hold JSON.
pub(crate) fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Decodes one row into a record.
pub(crate) type Decoder<DB, T> = fn(&<DB as sqlx::Database>::Row) -> StoreResult<T>;

impl<DB: Dialect> SqlStore<DB>
where
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
    // --- running statements -----------------------------------------------

    /// The row `q` finds, if any, decoded.
    pub(crate) async fn optional<T>(
        &self,
        q: Query<DB>,
        decode: Decoder<DB, T>,
    ) -> StoreResult<Option<T>> {
        q.fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    /// Every row `q` finds, decoded.
    pub(crate) async fn all<T>(&self, q: Query<DB>, decode: Decoder<DB, T>) -> StoreResult<Vec<T>> {
        q.fetch_all(&self.pool).await?.iter().map(decode).collect()
    }

    /// Runs `q`; whether it changed a row.
    pub(crate) async fn changed(&self, q: Query<DB>) -> StoreResult<bool> {
        Ok(DB::rows_affected(&q.execute(&self.pool).await?) > 0)
    }

    /// Runs `q`.
    pub(crate) async fn run(&self, q: Query<DB>) -> StoreResult<()> {
        q.execute(&self.pool).await?;
        Ok(())
    }

    // --- records into statements ------------------------------------------

    /// Stores the client, or updates it (its `created_at` stays).
    pub(crate) fn write_client(c: &Client, now: UnixTime) -> StoreResult<Query<DB>> {
        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        Ok(sqlx::query(
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
        .bind(json_text(&c.redirect_uris)?)
        .bind(c.scopes.to_string())
        .bind(json_text(&grants)?)
        .bind(c.require_pkce)
        .bind(c.introspect)
        .bind(&c.resource)
        .bind(c.access_token_format.map(AccessTokenFormat::as_str))
        .bind(c.id_token_signed_response_alg.map(|a| a.as_str()))
        .bind(json_text(&c.post_logout_redirect_uris)?)
        .bind(now))
    }

    pub(crate) fn write_user(u: &User) -> StoreResult<Query<DB>> {
        Ok(sqlx::query(
            "INSERT INTO users (user_id, username, password_hash, created_at, password_changed_at, claims) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&u.user_id)
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(u.created_at)
        .bind(u.created_at)
        .bind(json_text(&u.claims)?))
    }

    pub(crate) fn write_signing_key(k: &StoredSigningKey) -> Query<DB> {
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
    }

    pub(crate) fn write_session(s: &Session) -> Query<DB> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, csrf_token, user_id, auth_time, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id_hash.as_str())
        .bind(&s.csrf_token)
        .bind(&s.user_id)
        .bind(s.auth_time)
        .bind(s.created_at)
        .bind(s.expires_at)
    }

    /// Stores the consent, or replaces the user's earlier one for the client.
    pub(crate) fn write_consent(c: &Consent) -> Query<DB> {
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
    }

    pub(crate) fn write_grant(g: &Grant) -> Query<DB> {
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
    }

    pub(crate) fn write_code(code_hash: &TokenHash, c: &CodeGrant) -> Query<DB> {
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
    }

    pub(crate) fn write_access_token(a: &AccessTokenRecord) -> Query<DB> {
        sqlx::query(
            "INSERT INTO access_tokens \
             (jti, token_hash, grant_id, client_id, subject, scope, audience, auth_time, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&a.jti)
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

    pub(crate) fn write_refresh_token(hash: &TokenHash, r: &NewRefreshToken) -> Query<DB> {
        sqlx::query(
            "INSERT INTO refresh_tokens \
             (token_hash, grant_id, client_id, issued_at, idle_expires_at, absolute_expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash.as_str())
        .bind(&r.grant_id)
        .bind(&r.client_id)
        .bind(r.issued_at)
        .bind(r.idle_expires_at)
        .bind(r.absolute_expires_at)
    }

    pub(crate) fn write_security_event(e: &SecurityEvent) -> Query<DB> {
        sqlx::query(
            "INSERT INTO security_events \
             (at, kind, client_id, user_id, grant_id, detail, source, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(e.at)
        .bind(&e.kind)
        .bind(&e.client_id)
        .bind(&e.user_id)
        .bind(&e.grant_id)
        .bind(&e.detail)
        .bind(&e.source)
        .bind(&e.outcome)
    }

    // --- rows into records ------------------------------------------------

    fn scope(row: &DB::Row, column: &str) -> StoreResult<Scope> {
        Scope::parse(&row.try_get::<String, _>(column)?)
            .map_err(|_| StoreError::Corrupt("stored scope".into()))
    }

    /// A column holding JSON; `what` names it in the error.
    pub(crate) fn json<T: DeserializeOwned>(
        row: &DB::Row,
        column: &str,
        what: &str,
    ) -> StoreResult<T> {
        serde_json::from_str(&row.try_get::<String, _>(column)?)
            .map_err(|_| StoreError::Corrupt(what.into()))
    }

    pub(crate) fn client_from_row(row: &DB::Row) -> StoreResult<Client> {
        let redirect_uris = Self::json(row, "redirect_uris", "client redirect_uris")?;
        let grant_names: Vec<String> = Self::json(row, "grant_types", "client grant_types")?;
        let grant_types = grant_names
            .iter()
            .map(|g| GrantType::from_str(g))
            .collect::<Result<BTreeSet<_>, _>>()
            .map_err(|_| StoreError::Corrupt("client grant_types".into()))?;
        Ok(Client {
            client_id: row.try_get("client_id")?,
            name: row.try_get("name")?,
            secret_hash: row.try_get("secret_hash")?,
            redirect_uris,
            scopes: Self::scope(row, "scopes")?,
            grant_types,
            require_pkce: row.try_get("require_pkce")?,
            introspect: row.try_get("introspect")?,
            resource: row.try_get("resource")?,
            access_token_format: row
                .try_get::<Option<String>, _>("access_token_format")?
                .map(|f| AccessTokenFormat::from_str(&f))
                .transpose()
                .map_err(|_| StoreError::Corrupt("client access_token_format".into()))?,
            id_token_signed_response_alg: row
                .try_get::<Option<String>, _>("id_token_signed_response_alg")?
                .map(|a| tessera_core::jwt::SigningAlgorithm::parse(&a))
                .transpose()
                .map_err(|_| StoreError::Corrupt("client id_token_signed_response_alg".into()))?,
            post_logout_redirect_uris: Self::json(
                row,
                "post_logout_redirect_uris",
                "client post_logout_redirect_uris",
            )?,
        })
    }

    pub(crate) fn user_from_row(row: &DB::Row) -> StoreResult<User> {
        Ok(User {
            user_id: row.try_get("user_id")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            created_at: row.try_get("created_at")?,
            claims: Self::json(row, "claims", "user claims")?,
        })
    }

    pub(crate) fn session_from_row(row: &DB::Row) -> StoreResult<Session> {
        Ok(Session {
            id_hash: TokenHash::from_stored(row.try_get("id_hash")?),
            csrf_token: row.try_get("csrf_token")?,
            user_id: row.try_get("user_id")?,
            auth_time: row.try_get("auth_time")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        })
    }

    pub(crate) fn code_from_row(row: &DB::Row) -> StoreResult<CodeGrant> {
        Ok(CodeGrant {
            grant_id: row.try_get("grant_id")?,
            client_id: row.try_get("client_id")?,
            user_id: row.try_get("user_id")?,
            redirect_uri: row.try_get("redirect_uri")?,
            redirect_uri_explicit: row.try_get("redirect_explicit")?,
            scope: Self::scope(row, "scope")?,
            audience: row.try_get("audience")?,
            code_challenge: row
                .try_get::<Option<String>, _>("code_challenge")?
                .map(CodeChallenge::from_stored),
            nonce: row.try_get("nonce")?,
            auth_time: row.try_get("auth_time")?,
            issued_at: row.try_get("issued_at")?,
            expires_at: row.try_get("expires_at")?,
        })
    }

    pub(crate) fn grant_from_row(row: &DB::Row) -> StoreResult<Grant> {
        Ok(Grant {
            grant_id: row.try_get("grant_id")?,
            client_id: row.try_get("client_id")?,
            user_id: row.try_get("user_id")?,
            scope: Self::scope(row, "scope")?,
            audience: row.try_get("audience")?,
            auth_time: row.try_get("auth_time")?,
            created_at: row.try_get("created_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    }

    pub(crate) fn security_event_from_row(row: &DB::Row) -> StoreResult<SecurityEvent> {
        Ok(SecurityEvent {
            id: Some(row.try_get("id")?),
            at: row.try_get("at")?,
            kind: row.try_get("kind")?,
            client_id: row.try_get("client_id")?,
            user_id: row.try_get("user_id")?,
            grant_id: row.try_get("grant_id")?,
            detail: row.try_get("detail")?,
            source: row.try_get("source")?,
            outcome: row.try_get("outcome")?,
        })
    }

    pub(crate) fn access_token_from_row(row: &DB::Row) -> StoreResult<AccessTokenStatus> {
        Ok(AccessTokenStatus {
            record: AccessTokenRecord {
                jti: row.try_get("jti")?,
                token_hash: row
                    .try_get::<Option<String>, _>("token_hash")?
                    .map(TokenHash::from_stored),
                grant_id: row.try_get("grant_id")?,
                client_id: row.try_get("client_id")?,
                subject: row.try_get("subject")?,
                scope: Self::scope(row, "scope")?,
                audience: row.try_get("audience")?,
                auth_time: row.try_get("auth_time")?,
                issued_at: row.try_get("issued_at")?,
                expires_at: row.try_get("expires_at")?,
            },
            revoked_at: row.try_get("revoked_at")?,
            grant_revoked_at: row.try_get("grant_revoked_at")?,
        })
    }

    pub(crate) fn resource_from_row(row: &DB::Row) -> StoreResult<Resource> {
        Ok(Resource {
            identifier: row.try_get("identifier")?,
            name: row.try_get("name")?,
            scopes: Self::scope(row, "scopes")?,
        })
    }

    pub(crate) fn refresh_token_from_row(row: &DB::Row) -> StoreResult<RefreshTokenRecord> {
        Ok(RefreshTokenRecord {
            grant_id: row.try_get("grant_id")?,
            client_id: row.try_get("client_id")?,
            user_id: row.try_get("user_id")?,
            scope: Self::scope(row, "scope")?,
            audience: row.try_get("audience")?,
            auth_time: row.try_get("auth_time")?,
            issued_at: row.try_get("issued_at")?,
            idle_expires_at: row.try_get("idle_expires_at")?,
            absolute_expires_at: row.try_get("absolute_expires_at")?,
            rotated_at: row.try_get("rotated_at")?,
            grant_revoked_at: row.try_get("revoked_at")?,
        })
    }

    pub(crate) fn consent_from_row(row: &DB::Row) -> StoreResult<Consent> {
        Ok(Consent {
            user_id: row.try_get("user_id")?,
            client_id: row.try_get("client_id")?,
            scope: Self::scope(row, "scope")?,
            redirect_uri: row.try_get("redirect_uri")?,
            granted_at: row.try_get("granted_at")?,
        })
    }

    pub(crate) fn signing_key_from_row(row: &DB::Row) -> StoreResult<StoredSigningKey> {
        Ok(StoredSigningKey {
            kid: row.try_get("kid")?,
            algorithm: row.try_get("algorithm")?,
            encryption: row.try_get("encryption")?,
            private_key: row.try_get("private_key")?,
            created_at: row.try_get("created_at")?,
            activates_at: row.try_get("activates_at")?,
            retired_at: row.try_get("retired_at")?,
            purpose: row.try_get("purpose")?,
        })
    }
}
