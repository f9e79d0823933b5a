//! `POST /revoke`: token revocation (RFC 7009); the use case is
//! [`crate::app::revocation::revoke`].

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::back_channel::{AuthenticatedClient, Revocation};
use crate::app::revocation;
use crate::error::WebError;
use crate::state::AppState;

pub async fn revoke(
    State(state): State<AppState>,
    request: AuthenticatedClient<Revocation>,
) -> Result<Response, WebError> {
    let (token, hint) = super::token_and_hint(&request.params)?;
    revocation::revoke(
        &state,
        &request.client,
        token,
        hint,
        request.source,
        request.received_at,
    )
    .await
    .map_err(WebError::from_app_json)?;
    let mut r = StatusCode::OK.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
