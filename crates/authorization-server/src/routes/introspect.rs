//! `POST /introspect`: token introspection (RFC 7662).
//!
//! Only authenticated confidential clients registered with the `introspect`
//! permission may call it (§2.1: prevents token scanning). A caller sees a
//! token as active only if the token was issued to it, or for the resource it
//! serves; anything else, like anything expired, revoked, unknown or
//! malformed, is exactly `{"active": false}` (§2.2).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_core::client::Client;
use tessera_core::error::OAuthError;

use super::back_channel::{AuthenticatedClient, Introspection};
use crate::error::{OrInternal, WebError};
use crate::state::AppState;
use crate::tokens::{self, FoundToken, Hint};

pub async fn introspect(
    State(state): State<AppState>,
    request: AuthenticatedClient<Introspection>,
) -> Result<Response, WebError> {
    handle(&state, &request).await
}

/// Whether `caller` may learn about a token of `client_id` for `audience`.
fn visible(caller: &Client, client_id: &str, audience: &str) -> bool {
    caller.client_id == client_id || caller.resource.as_deref() == Some(audience)
}

async fn handle(
    state: &AppState,
    request: &AuthenticatedClient<Introspection>,
) -> Result<Response, WebError> {
    let (caller, params) = (&request.client, &request.params);
    if caller.is_public() || !caller.introspect {
        return Err(WebError::Json {
            status: StatusCode::FORBIDDEN,
            error: OAuthError::unauthorized_client(
                "this client is not allowed to introspect tokens",
            ),
            basic_challenge: false,
            retry_after: None,
        });
    }
    let token = params
        .single("token")
        .map_err(OAuthError::from)?
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let hint = Hint::parse(params.single("token_type_hint").map_err(OAuthError::from)?);
    let now = request.received_at;
    let issuer = state.config.issuer();
    let answer = match tokens::find(state, token, hint).await.or_json()? {
        Some(FoundToken::Access(a))
            if a.revoked_at.is_none()
                && a.grant_revoked_at.is_none()
                && now < a.record.expires_at
                && visible(caller, &a.record.client_id, &a.record.audience) =>
        {
            let r = &a.record;
            let mut v = json!({
                "active": true,
                "scope": r.scope.to_string(),
                "client_id": r.client_id,
                "sub": r.subject,
                "aud": r.audience,
                "iss": issuer,
                "exp": r.expires_at,
                "iat": r.issued_at,
                "token_type": "Bearer",
                "jti": r.jti,
            });
            if let Some(t) = r.auth_time {
                v["auth_time"] = t.into();
            }
            v
        }
        Some(FoundToken::Refresh { record: r, .. })
            if r.rotated_at.is_none()
                && r.grant_revoked_at.is_none()
                && now < r.idle_expires_at.min(r.absolute_expires_at)
                && visible(caller, &r.client_id, &r.audience) =>
        {
            json!({
                "active": true,
                "scope": r.scope.to_string(),
                "client_id": r.client_id,
                "sub": r.user_id,
                "aud": r.audience,
                "iss": issuer,
                "exp": r.idle_expires_at.min(r.absolute_expires_at),
                "iat": r.issued_at,
                "token_type": "refresh_token",
            })
        }
        _ => inactive(),
    };
    let mut r = (StatusCode::OK, axum::Json(answer)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}

fn inactive() -> Value {
    json!({ "active": false })
}
