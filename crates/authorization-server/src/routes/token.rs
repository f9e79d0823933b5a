//! `POST /token`: the back channel. The client authenticates and trades a
//! code, a refresh token or its own credentials for tokens (RFC 6749 §3.2,
//! §4.1.3, §4.4, §5, §6; RFC 8707 §2.2).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::UnixTime;
use tessera_core::client::{Client, GrantType};
use tessera_core::error::{ErrorCode, OAuthError};
use tessera_core::grant::{self, RefreshRejection, RefreshTokenRecord};
use tessera_core::id_token;
use tessera_core::resource;
use tessera_core::scope::Scope;
use tessera_core::secrets::{self, SecretString, TokenHash};
use tessera_core::token_request::{self, GrantRequest};
use tessera_store::{CodeConsumption, NewRefreshToken, RefreshRetry};

use super::client_auth;
use super::flow::record_event;
use super::{BackChannelBody, PeerIp};
use crate::error::{OrInternal, WebError};
use crate::id_tokens::{IdTokenRequest, mint_id_token};
use crate::refresh_retry::RetryAnswer;
use crate::state::AppState;
use crate::tokens::{AccessTokenRequest, mint_access_token};

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: PeerIp,
    BackChannelBody(body): BackChannelBody,
) -> Result<Response, WebError> {
    handle(&state, &headers, peer, &body).await
}

/// Anything but POST at a back-channel endpoint (RFC 6749 §3.2): 405, with
/// an OAuth-shaped body and no token.
pub async fn method_not_allowed() -> Response {
    let mut r = WebError::Json {
        status: StatusCode::METHOD_NOT_ALLOWED,
        error: OAuthError::invalid_request("this endpoint accepts only POST"),
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
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    peer: PeerIp,
    body: &[u8],
) -> Result<Response, WebError> {
    let params = client_auth::form(headers, body)?;
    let client = client_auth::authenticate_request(state, headers, &params, peer).await?;
    let resource = params.single("resource").map_err(OAuthError::from)?;
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
                resource,
            )
            .await
        }
        GrantRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            require_grant(&client, GrantType::RefreshToken)?;
            refresh(state, &client, &refresh_token, scope.as_ref(), resource).await
        }
        GrantRequest::ClientCredentials { scope } => {
            require_grant(&client, GrantType::ClientCredentials)?;
            client_credentials(state, &client, scope, resource).await
        }
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

/// RFC 8707 §2.2: a `resource` at the token endpoint must be one the grant
/// was issued for.
fn check_resource(requested: Option<&str>, audience: &str) -> Result<(), WebError> {
    match requested {
        Some(r) if r != audience => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "the resource is not one this grant was issued for",
        )
        .into()),
        _ => Ok(()),
    }
}

const CODE_INVALID: &str = "the authorization code is invalid, expired or already used";

async fn exchange_code(
    state: &AppState,
    client: &Client,
    code: &SecretString,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    resource: Option<&str>,
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
    check_resource(resource, &code_grant.audience)?;
    let live = state
        .store
        .grant(&code_grant.grant_id)
        .await
        .or_json()?
        .is_some_and(|g| g.revoked_at.is_none());
    if !live {
        return Err(OAuthError::invalid_grant(CODE_INVALID).into());
    }

    let (access_token, access) = mint(
        state,
        &AccessTokenRequest {
            client,
            subject: &code_grant.user_id,
            grant_id: Some(&code_grant.grant_id),
            scope: &code_grant.scope,
            audience: &code_grant.audience,
            auth_time: Some(code_grant.auth_time),
        },
        now,
    )?;
    let id_token = id_token_for(
        state,
        &code_grant.scope,
        &IdTokenRequest {
            client,
            subject: &code_grant.user_id,
            auth_time: code_grant.auth_time,
            nonce: code_grant.nonce.as_deref(),
            access_token: &access_token,
        },
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
    // Stored before the answer leaves: a crash never loses a token the
    // client was given.
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
        id_token,
    ))
}

async fn refresh(
    state: &AppState,
    client: &Client,
    token: &SecretString,
    requested: Option<&Scope>,
    resource: Option<&str>,
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
        // A rotated token again: a retry of its own client inside the
        // window, or reuse (by that client or another), which ends the family.
        Err(RefreshRejection::Reused) => {
            return retry_or_reuse(state, client, &hash, &record, requested).await;
        }
    };
    check_resource(resource, &record.audience)?;
    let (access_token, access) = mint(
        state,
        &AccessTokenRequest {
            client,
            subject: &record.user_id,
            grant_id: Some(&record.grant_id),
            scope: &scope,
            audience: &record.audience,
            auth_time: Some(record.auth_time),
        },
        now,
    )?;
    // OIDC Core §12.2: same sub and auth_time, no nonce. Decided by the
    // grant's scope, so a narrowed refresh still gets one.
    let id_token = id_token_for(
        state,
        &record.scope,
        &IdTokenRequest {
            client,
            subject: &record.user_id,
            auth_time: record.auth_time,
            nonce: None,
            access_token: &access_token,
        },
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
    let window = state.config.refresh_retry_window_secs;
    let retry = if window > 0 {
        let answer = RetryAnswer {
            access_token: access_token.clone(),
            refresh_token: new_token.expose().to_owned(),
            scope: scope.to_string(),
            issued_at: now,
            id_token: id_token.clone(),
        };
        Some(RefreshRetry {
            until: now.saturating_add(window),
            sealed: state
                .refresh_retry
                .seal(&hash, &answer, state.rng.as_ref())
                .or_json()?,
        })
    } else {
        None
    };
    let rotated = state
        .store
        .rotate_refresh_token(&hash, now, &access, &new_hash, &new, retry.as_ref())
        .await
        .or_json()?;
    if !rotated {
        // Someone else rotated it between our read and our write: a
        // concurrent retry of the same refresh, or a thief.
        return retry_or_reuse(state, client, &hash, &record, requested).await;
    }
    Ok(success(
        state,
        access_token,
        Some(new_token),
        &scope,
        id_token,
    ))
}

/// A rotated refresh token presented again by its own client. Inside the
/// retry window, with the child pair still unused and the same scope asked
/// for, the client gets that same pair again (its first answer was lost, or
/// it refreshed twice at once). Anything else is reuse.
async fn retry_or_reuse(
    state: &AppState,
    client: &Client,
    hash: &TokenHash,
    record: &RefreshTokenRecord,
    requested: Option<&Scope>,
) -> Result<Response, WebError> {
    let now = state.now();
    if state.config.refresh_retry_window_secs > 0
        && record.client_id == client.client_id
        && let Some(sealed) = state.store.refresh_retry(hash, now).await.or_json()?
    {
        let answer = state.refresh_retry.open(hash, &sealed).or_json()?;
        let wanted = match requested {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => record.scope.to_string(),
        };
        if answer.scope == wanted {
            let expires_in = state
                .config
                .lifetimes
                .access_token
                .saturating_sub(now.saturating_sub(answer.issued_at));
            tracing::info!(client_id = %client.client_id, "refresh retried within the window; the same pair is returned");
            return Ok(token_answer(
                answer.access_token,
                expires_in,
                Some(answer.refresh_token),
                answer.scope,
                answer.id_token,
            ));
        }
    }
    Err(reuse_detected(state, client, &record.grant_id, &record.user_id).await)
}

/// RFC 6749 §4.4: the client acts on its own behalf. No refresh token; the
/// subject is the client; the scope is limited to what it is registered for
/// (all of it when the request names none).
async fn client_credentials(
    state: &AppState,
    client: &Client,
    requested: Option<Scope>,
    resource: Option<&str>,
) -> Result<Response, WebError> {
    let now = state.now();
    let registered = match resource {
        Some(id) => state.store.resource(id).await.or_json()?,
        None => None,
    };
    let scope = match requested {
        Some(s) if !s.is_empty() => {
            if !s.is_subset(&client.scopes) {
                return Err(OAuthError::invalid_scope(
                    "the requested scope is not allowed for this client",
                )
                .into());
            }
            s
        }
        // Without a scope, everything the client may have, narrowed to what
        // the resource offers when one is named.
        _ => match &registered {
            Some(r) => client.scopes.intersection(&r.scopes),
            None => client.scopes.clone(),
        },
    };
    if scope.is_empty() {
        return Err(OAuthError::invalid_scope(
            "this client has no scope it may use at that resource",
        )
        .into());
    }
    let audience = resource::audience_for(
        resource,
        registered.as_ref(),
        &scope,
        &state.config.default_audience,
    )?;
    let (access_token, access) = mint(
        state,
        &AccessTokenRequest {
            client,
            subject: &client.client_id,
            grant_id: None,
            scope: &scope,
            audience: &audience,
            auth_time: None,
        },
        now,
    )?;
    state.store.issue_tokens(&access, None).await.or_json()?;
    Ok(success(state, access_token, None, &scope, None))
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

fn mint(
    state: &AppState,
    request: &AccessTokenRequest<'_>,
    now: UnixTime,
) -> Result<(String, tessera_store::AccessTokenRecord), WebError> {
    mint_access_token(state, request, now).or_json()
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

/// An ID token when the grant's scope has `openid` (OIDC Core §3.1.3.3).
fn id_token_for(
    state: &AppState,
    scope: &Scope,
    request: &IdTokenRequest<'_>,
    now: UnixTime,
) -> Result<Option<String>, WebError> {
    if !id_token::wants_id_token(scope) {
        return Ok(None);
    }
    mint_id_token(state, request, now).or_json().map(Some)
}

fn success(
    state: &AppState,
    access_token: String,
    refresh_token: Option<SecretString>,
    scope: &Scope,
    id_token: Option<String>,
) -> Response {
    token_answer(
        access_token,
        state.config.lifetimes.access_token,
        refresh_token.map(|t| t.expose().to_owned()),
        scope.to_string(),
        id_token,
    )
}

fn token_answer(
    access_token: String,
    expires_in: i64,
    refresh_token: Option<String>,
    scope: String,
    id_token: Option<String>,
) -> Response {
    let body = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token,
        scope,
        id_token,
    };
    let mut r = (StatusCode::OK, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}
