//! `POST /revoke`: token revocation (RFC 7009).
//!
//! Revoking a refresh token revokes its grant: the whole family, and every
//! access token of the grant becomes inactive at introspection. Revoking an
//! access token puts its `jti` on the deny list until it expires. A token of
//! another client is left alone (answered 200 all the same, docs/conformance.md
//! decision on item 61); unknown tokens are answered 200 (§2.2). A storage
//! failure is a 503, never a 200 (fosite CVE-2020-15223).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::error::OAuthError;

use super::client_auth;
use super::{BackChannelBody, PeerIp};
use crate::error::{OrInternal, WebError};
use crate::state::AppState;
use crate::tokens::{self, FoundToken, Hint};

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: PeerIp,
    BackChannelBody(body): BackChannelBody,
) -> Result<Response, WebError> {
    handle(&state, &headers, peer, &body).await
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    peer: PeerIp,
    body: &[u8],
) -> Result<Response, WebError> {
    let params = client_auth::form(headers, body)?;
    let client = client_auth::authenticate_request(state, headers, &params, peer).await?;
    let token = params
        .single("token")
        .map_err(OAuthError::from)?
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let hint = Hint::parse(params.single("token_type_hint").map_err(OAuthError::from)?);
    let now = state.now();
    match tokens::find(state, token, hint).await.or_json()? {
        None => {}
        Some(FoundToken::Refresh { record, .. }) => {
            if record.client_id == client.client_id {
                state
                    .store
                    .revoke_grant(&record.grant_id, now, "refresh token revoked by the client")
                    .await
                    .or_json()?;
                tracing::info!(client_id = %client.client_id, "refresh token revoked; its grant is revoked");
            } else {
                tracing::warn!(client_id = %client.client_id, "a client tried to revoke another client's refresh token");
            }
        }
        Some(FoundToken::Access(status)) => {
            if status.record.client_id == client.client_id {
                state
                    .store
                    .revoke_access_token(&status.record.jti, now)
                    .await
                    .or_json()?;
                tracing::info!(client_id = %client.client_id, "access token revoked");
            } else {
                tracing::warn!(client_id = %client.client_id, "a client tried to revoke another client's access token");
            }
        }
    }
    let mut r = StatusCode::OK.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
