//! `POST /token`: the back channel. The client authenticates and trades a
//! code or a refresh token for tokens (RFC 6749 §3.2, §4.1.3, §5, §6).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::UnixTime;
use tessera_core::client::{Client, GrantType};
use tessera_core::error::{ErrorCode, OAuthError};
use tessera_core::grant::{self, RefreshRejection};
use tessera_core::jwt::AccessTokenClaims;
use tessera_core::params::Params;
use tessera_core::scope::Scope;
use tessera_core::secrets::{self, SecretString, TokenHash};
use tessera_core::token_request::{self, AuthenticationError, ClientAuthentication, GrantRequest};
use tessera_store::{AccessTokenRecord, CodeConsumption, NewRefreshToken};

use super::flow::record_event;
use crate::error::{OrInternal, WebError};
use crate::state::AppState;

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Even a body that cannot be read gets an OAuth-shaped answer.
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            return WebError::Json {
                status: rejection.status(),
                error: OAuthError::invalid_request(
                    "the request body is too large or could not be read",
                ),
                basic_challenge: false,
                retry_after: None,
            }
            .into_response();
        }
    };
    handle(&state, &headers, &body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Anything but POST (RFC 6749 §3.2): 405, with an OAuth-shaped body and no
/// token.
pub async fn method_not_allowed() -> Response {
    let mut r = WebError::Json {
        status: StatusCode::METHOD_NOT_ALLOWED,
        error: OAuthError::invalid_request("the token endpoint accepts only POST"),
        basic_challenge: false,
        retry_after: None,
    }
    .into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, WebError> {
    if !super::is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )
        .into());
    }
    let params = Params::parse(body);
    params.reject_repeats()?;
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let authorization = match (authorization.next(), authorization.next()) {
        (None, _) => None,
        (Some(v), None) => Some(v.to_str().map_err(|_| {
            auth_error(AuthenticationError::invalid_client(
                "malformed Authorization header",
                true,
            ))
        })?),
        (Some(_), Some(_)) => {
            return Err(
                OAuthError::invalid_request("the Authorization header was repeated").into(),
            );
        }
    };
    let credentials =
        token_request::client_authentication(authorization, &params).map_err(auth_error)?;
    let client = authenticate(state, &credentials).await?;
    match token_request::grant_request(&params)? {
        GrantRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            require_grant(&client, GrantType::AuthorizationCode)?;
            exchange_code(
                state,
                &client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
            )
            .await
        }
        GrantRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            require_grant(&client, GrantType::RefreshToken)?;
            refresh(state, &client, &refresh_token, scope.as_ref()).await
        }
        GrantRequest::ClientCredentials { .. } => {
            require_grant(&client, GrantType::ClientCredentials)?;
            Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "the client_credentials grant is not served yet",
            )
            .into())
        }
    }
}

fn auth_error(e: AuthenticationError) -> WebError {
    match WebError::json(e.error) {
        WebError::Json {
            status,
            error,
            retry_after,
            ..
        } => WebError::Json {
            status,
            basic_challenge: e.basic_attempted && status == StatusCode::UNAUTHORIZED,
            error,
            retry_after,
        },
        other => other,
    }
}

fn require_grant(client: &Client, grant: GrantType) -> Result<(), WebError> {
    if client.allows(grant) {
        Ok(())
    } else {
        Err(OAuthError::unauthorized_client(format!(
            "this client is not allowed the {grant} grant"
        ))
        .into())
    }
}

/// Authenticates the client (RFC 6749 §2.3), with brute-force protection.
async fn authenticate(
    state: &AppState,
    credentials: &ClientAuthentication,
) -> Result<Client, WebError> {
    let now = state.now();
    let client_id = credentials.client_id();
    if let Err(retry_after) = state.brute_force.check(client_id, now) {
        return Err(WebError::Json {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: OAuthError::invalid_client(
                "too many failed authentication attempts; try again later",
            ),
            basic_challenge: false,
            retry_after: Some(retry_after),
        });
    }
    let client = state.store.client(client_id).await.or_json()?;
    let authenticated = match (&client, credentials) {
        (
            Some(c),
            ClientAuthentication::Basic { secret, .. } | ClientAuthentication::Post { secret, .. },
        ) => c
            .secret_hash
            .as_deref()
            .is_some_and(|stored| state.client_secrets.verify(secret.expose(), stored)),
        (Some(c), ClientAuthentication::None { .. }) => c.is_public(),
        (None, _) => false,
    };
    match client {
        Some(c) if authenticated => {
            state.brute_force.record_success(client_id);
            Ok(c)
        }
        _ => {
            if state.brute_force.record_failure(client_id, now) {
                tracing::warn!(
                    client_id,
                    "client locked out after repeated authentication failures"
                );
                record_event(
                    state,
                    "client_authentication_lockout",
                    Some(client_id),
                    None,
                    None,
                    "too many failed client authentications; the client is locked out for a while",
                )
                .await;
            }
            Err(auth_error(AuthenticationError::invalid_client(
                "client authentication failed",
                credentials.used_basic(),
            )))
        }
    }
}

const CODE_INVALID: &str = "the authorization code is invalid, expired or already used";

async fn exchange_code(
    state: &AppState,
    client: &Client,
    code: &SecretString,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<Response, WebError> {
    let now = state.now();
    let code_grant = match state
        .store
        .consume_code(&TokenHash::of(code.expose()), now)
        .await
        .or_json()?
    {
        CodeConsumption::Unknown => return Err(OAuthError::invalid_grant(CODE_INVALID).into()),
        CodeConsumption::AlreadyUsed { grant_id } => {
            // RFC 6749 §4.1.2: a code used twice was stolen or replayed; the
            // tokens issued from it are revoked.
            state
                .store
                .revoke_grant(&grant_id, now, "authorization code replayed")
                .await
                .or_json()?;
            tracing::warn!(client_id = %client.client_id, "authorization code replayed; its grant is revoked");
            record_event(
                state,
                "authorization_code_replay",
                Some(&client.client_id),
                None,
                Some(&grant_id),
                "an authorization code was redeemed twice; every token issued from it was revoked",
            )
            .await;
            return Err(OAuthError::invalid_grant(CODE_INVALID).into());
        }
        CodeConsumption::Consumed(c) => c,
    };
    grant::check_code_redemption(
        &code_grant,
        &client.client_id,
        redirect_uri,
        code_verifier,
        now,
    )?;
    let live = state
        .store
        .grant(&code_grant.grant_id)
        .await
        .or_json()?
        .is_some_and(|g| g.revoked_at.is_none());
    if !live {
        return Err(OAuthError::invalid_grant(CODE_INVALID).into());
    }

    let (access_token, access) = access_token(
        state,
        client,
        &code_grant.grant_id,
        &code_grant.user_id,
        &code_grant.scope,
        code_grant.auth_time,
        now,
    )?;
    let refresh = if client.allows(GrantType::RefreshToken) {
        let (idle, absolute) = grant::refresh_expiry(&state.config.lifetimes, now, now);
        Some(new_refresh(
            state,
            &code_grant.grant_id,
            client,
            now,
            idle,
            absolute,
        )?)
    } else {
        None
    };
    state
        .store
        .issue_tokens(&access, refresh.as_ref().map(|(_, h, r)| (h, r)))
        .await
        .or_json()?;
    Ok(success(
        state,
        access_token,
        refresh.map(|(t, _, _)| t),
        &code_grant.scope,
    ))
}

async fn refresh(
    state: &AppState,
    client: &Client,
    token: &SecretString,
    requested: Option<&Scope>,
) -> Result<Response, WebError> {
    let now = state.now();
    let hash = TokenHash::of(token.expose());
    let record = state
        .store
        .refresh_token(&hash)
        .await
        .or_json()?
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is invalid"))?;
    let scope = match grant::check_refresh(&record, &client.client_id, requested, now) {
        Ok(scope) => scope,
        Err(RefreshRejection::Invalid(e)) => return Err(e.into()),
        Err(RefreshRejection::Reused) => {
            return Err(reuse_detected(state, client, &record.grant_id, &record.user_id).await);
        }
    };
    let (access_token, access) = access_token(
        state,
        client,
        &record.grant_id,
        &record.user_id,
        &scope,
        record.auth_time,
        now,
    )?;
    let idle = now
        .saturating_add(state.config.lifetimes.refresh_token_idle)
        .min(record.absolute_expires_at);
    let (new_token, new_hash, new) = new_refresh(
        state,
        &record.grant_id,
        client,
        now,
        idle,
        record.absolute_expires_at,
    )?;
    let rotated = state
        .store
        .rotate_refresh_token(&hash, now, &access, &new_hash, &new)
        .await
        .or_json()?;
    if !rotated {
        // Someone else rotated it between our read and our write.
        return Err(reuse_detected(state, client, &record.grant_id, &record.user_id).await);
    }
    Ok(success(state, access_token, Some(new_token), &scope))
}

/// RFC 9700 §4.14.2: a rotated refresh token presented again means two
/// parties hold it; the whole family is revoked.
async fn reuse_detected(
    state: &AppState,
    client: &Client,
    grant_id: &str,
    user_id: &str,
) -> WebError {
    let now = state.now();
    if let Err(e) = state
        .store
        .revoke_grant(grant_id, now, "refresh token reused")
        .await
    {
        tracing::error!(error = %e, "could not revoke a grant after refresh-token reuse");
        return WebError::json(OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "try again later",
        ));
    }
    tracing::warn!(client_id = %client.client_id, "refresh token reused; its family is revoked");
    record_event(
        state,
        "refresh_token_reuse",
        Some(&client.client_id),
        Some(user_id),
        Some(grant_id),
        "a rotated refresh token was presented again; the whole token family was revoked",
    )
    .await;
    OAuthError::invalid_grant("the refresh token is invalid").into()
}

#[allow(clippy::too_many_arguments)]
fn access_token(
    state: &AppState,
    client: &Client,
    grant_id: &str,
    user_id: &str,
    scope: &Scope,
    auth_time: UnixTime,
    now: UnixTime,
) -> Result<(String, AccessTokenRecord), WebError> {
    let jti = secrets::new_id(state.rng.as_ref()).or_json()?;
    let expires_at = now + state.config.lifetimes.access_token;
    let claims = AccessTokenClaims {
        iss: state.config.issuer().to_owned(),
        sub: user_id.to_owned(),
        aud: state.config.default_audience.clone(),
        client_id: client.client_id.clone(),
        scope: scope.to_string(),
        iat: now,
        exp: expires_at,
        jti: jti.clone(),
        auth_time: Some(auth_time),
    };
    let token = state.signing_key().sign_access_token(&claims).or_json()?;
    let record = AccessTokenRecord {
        jti,
        grant_id: Some(grant_id.to_owned()),
        client_id: client.client_id.clone(),
        issued_at: now,
        expires_at,
    };
    Ok((token, record))
}

fn new_refresh(
    state: &AppState,
    grant_id: &str,
    client: &Client,
    now: UnixTime,
    idle_expires_at: UnixTime,
    absolute_expires_at: UnixTime,
) -> Result<(SecretString, TokenHash, NewRefreshToken), WebError> {
    let token = secrets::new_opaque_token(state.rng.as_ref()).or_json()?;
    let hash = TokenHash::of(token.expose());
    let record = NewRefreshToken {
        grant_id: grant_id.to_owned(),
        client_id: client.client_id.clone(),
        issued_at: now,
        idle_expires_at,
        absolute_expires_at,
    };
    Ok((token, hash, record))
}

fn success(
    state: &AppState,
    access_token: String,
    refresh_token: Option<SecretString>,
    scope: &Scope,
) -> Response {
    let body = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.config.lifetimes.access_token,
        refresh_token: refresh_token.map(|t| t.expose().to_owned()),
        scope: scope.to_string(),
    };
    let mut r = (StatusCode::OK, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}
