//! `POST /introspect`: token introspection (RFC 7662); the use case is
//! [`crate::app::introspection::introspect`], this shapes its answer.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::back_channel::{AuthenticatedClient, Introspection};
use crate::app::introspection::{self, Introspected};
use crate::app::token_status;
use crate::error::WebError;
use crate::state::AppState;

pub async fn introspect(
    State(state): State<AppState>,
    request: AuthenticatedClient<Introspection>,
) -> Result<Response, WebError> {
    let (token, hint) = super::token_and_hint(&request.params)?;
    let found =
        introspection::introspect(&state, &request.client, token, hint, request.received_at)
            .await
            .map_err(WebError::from_app_json)?;
    let issuer = state.config.issuer();
    let answer = match found {
        Introspected::Access(r) => {
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
        Introspected::Refresh(r) => json!({
            "active": true,
            "scope": r.scope.to_string(),
            "client_id": r.client_id,
            "sub": r.user_id,
            "aud": r.audience,
            "iss": issuer,
            "exp": token_status::refresh_token_expiry(&r),
            "iat": r.issued_at,
            "token_type": "refresh_token",
        }),
        Introspected::Inactive => json!({ "active": false }),
    };
    let mut r = (StatusCode::OK, axum::Json(answer)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}
