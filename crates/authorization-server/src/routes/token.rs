//! `POST /token`: the back channel. The client authenticates
//! ([`AuthenticatedClient`]) and trades a code, a refresh token or its own
//! credentials for tokens; the use case is [`crate::app::grants::exchange`].

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::error::OAuthError;

use super::back_channel::{AuthenticatedClient, Token};
use crate::app::grants::{self, Issued};
use crate::error::WebError;
use crate::state::AppState;

pub async fn token(
    State(state): State<AppState>,
    request: AuthenticatedClient<Token>,
) -> Result<Response, WebError> {
    let issued = grants::exchange(
        &state,
        &request.client,
        &request.params,
        request.source,
        request.received_at,
    )
    .await
    .map_err(WebError::from_app_json)?;
    Ok(answer(issued))
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

/// RFC 6749 §5.1.
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

/// The JSON answer, never cached (RFC 6749 §5.1).
fn answer(issued: Issued) -> Response {
    let body = TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        refresh_token: issued.refresh_token,
        scope: issued.scope,
        id_token: issued.id_token,
    };
    let mut r = (StatusCode::OK, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}
