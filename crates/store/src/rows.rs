//! Turning rows into values, shared by both backends: the column names and
//! the Rust types they decode to are the same in SQLite and PostgreSQL (the
//! SQL that produces the rows is not, and stays in each backend).

/// Defines the row decoders for one backend's row type.
macro_rules! row_decoders {
    ($row:ty) => {
        fn scope_of(s: String) -> StoreResult<Scope> {
            Scope::parse(&s).map_err(|_| StoreError::Corrupt("stored scope".into()))
        }

        fn client_from_row(row: &$row) -> StoreResult<Client> {
            let redirect_uris: Vec<String> = serde_json::from_str(row.try_get("redirect_uris")?)
                .map_err(|_| StoreError::Corrupt("client redirect_uris".into()))?;
            let grant_names: Vec<String> = serde_json::from_str(row.try_get("grant_types")?)
                .map_err(|_| StoreError::Corrupt("client grant_types".into()))?;
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
                scopes: scope_of(row.try_get("scopes")?)?,
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
                    .map_err(|_| {
                        StoreError::Corrupt("client id_token_signed_response_alg".into())
                    })?,
                post_logout_redirect_uris: serde_json::from_str(
                    row.try_get("post_logout_redirect_uris")?,
                )
                .map_err(|_| StoreError::Corrupt("client post_logout_redirect_uris".into()))?,
            })
        }

        fn user_from_row(row: &$row) -> StoreResult<User> {
            Ok(User {
                user_id: row.try_get("user_id")?,
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                created_at: row.try_get("created_at")?,
                claims: serde_json::from_str(row.try_get("claims")?)
                    .map_err(|_| StoreError::Corrupt("user claims".into()))?,
            })
        }

        fn session_from_row(row: &$row) -> StoreResult<Session> {
            Ok(Session {
                id_hash: TokenHash::from_stored(row.try_get("id_hash")?),
                csrf_token: row.try_get("csrf_token")?,
                user_id: row.try_get("user_id")?,
                auth_time: row.try_get("auth_time")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        }

        fn code_from_row(row: &$row) -> StoreResult<CodeGrant> {
            Ok(CodeGrant {
                grant_id: row.try_get("grant_id")?,
                client_id: row.try_get("client_id")?,
                user_id: row.try_get("user_id")?,
                redirect_uri: row.try_get("redirect_uri")?,
                redirect_uri_explicit: row.try_get("redirect_explicit")?,
                scope: scope_of(row.try_get("scope")?)?,
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

        fn grant_from_row(row: &$row) -> StoreResult<Grant> {
            Ok(Grant {
                grant_id: row.try_get("grant_id")?,
                client_id: row.try_get("client_id")?,
                user_id: row.try_get("user_id")?,
                scope: scope_of(row.try_get("scope")?)?,
                audience: row.try_get("audience")?,
                auth_time: row.try_get("auth_time")?,
                created_at: row.try_get("created_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        }

        fn security_event_from_row(row: &$row) -> StoreResult<SecurityEvent> {
            Ok(SecurityEvent {
                at: row.try_get("at")?,
                kind: row.try_get("kind")?,
                client_id: row.try_get("client_id")?,
                user_id: row.try_get("user_id")?,
                grant_id: row.try_get("grant_id")?,
                detail: row.try_get("detail")?,
            })
        }

        fn access_token_from_row(row: &$row) -> StoreResult<AccessTokenStatus> {
            Ok(AccessTokenStatus {
                record: AccessTokenRecord {
                    jti: row.try_get("jti")?,
                    token_hash: row
                        .try_get::<Option<String>, _>("token_hash")?
                        .map(TokenHash::from_stored),
                    grant_id: row.try_get("grant_id")?,
                    client_id: row.try_get("client_id")?,
                    subject: row.try_get("subject")?,
                    scope: scope_of(row.try_get("scope")?)?,
                    audience: row.try_get("audience")?,
                    auth_time: row.try_get("auth_time")?,
                    issued_at: row.try_get("issued_at")?,
                    expires_at: row.try_get("expires_at")?,
                },
                revoked_at: row.try_get("revoked_at")?,
                grant_revoked_at: row.try_get("grant_revoked_at")?,
            })
        }

        fn resource_from_row(row: &$row) -> StoreResult<Resource> {
            Ok(Resource {
                identifier: row.try_get("identifier")?,
                name: row.try_get("name")?,
                scopes: scope_of(row.try_get("scopes")?)?,
            })
        }

        fn refresh_token_from_row(r: &$row) -> StoreResult<RefreshTokenRecord> {
            Ok(RefreshTokenRecord {
                grant_id: r.try_get("grant_id")?,
                client_id: r.try_get("client_id")?,
                user_id: r.try_get("user_id")?,
                scope: scope_of(r.try_get("scope")?)?,
                audience: r.try_get("audience")?,
                auth_time: r.try_get("auth_time")?,
                issued_at: r.try_get("issued_at")?,
                idle_expires_at: r.try_get("idle_expires_at")?,
                absolute_expires_at: r.try_get("absolute_expires_at")?,
                rotated_at: r.try_get("rotated_at")?,
                grant_revoked_at: r.try_get("revoked_at")?,
            })
        }

        fn consent_from_row(r: &$row) -> StoreResult<Consent> {
            Ok(Consent {
                user_id: r.try_get("user_id")?,
                client_id: r.try_get("client_id")?,
                scope: scope_of(r.try_get("scope")?)?,
                redirect_uri: r.try_get("redirect_uri")?,
                granted_at: r.try_get("granted_at")?,
            })
        }

        fn signing_key_from_row(r: &$row) -> StoreResult<StoredSigningKey> {
            Ok(StoredSigningKey {
                kid: r.try_get("kid")?,
                algorithm: r.try_get("algorithm")?,
                encryption: r.try_get("encryption")?,
                private_key: r.try_get("private_key")?,
                created_at: r.try_get("created_at")?,
                activates_at: r.try_get("activates_at")?,
                retired_at: r.try_get("retired_at")?,
                purpose: r.try_get("purpose")?,
            })
        }
    };
}

pub(crate) use row_decoders;
