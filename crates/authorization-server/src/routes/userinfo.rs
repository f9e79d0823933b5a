//! `GET|POST /userinfo`: the OIDC UserInfo endpoint (OIDC Core §5.3); the
//! use case is [`crate::app::userinfo::claims`]. A bearer-token endpoint
//! like any protected resource, so it finds the token and answers refusals
//! exactly as the guard crate does (RFC 6750: header, or a form-body
//! `access_token` on POST; never the query string).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_protected_resource::{GuardError, bearer_error_response, bearer_token};

use crate::app::userinfo;
use crate::state::AppState;

/// The largest form body read when looking for `access_token`.
const MAX_FORM: usize = 8 * 1024;

pub async fn userinfo(State(state): State<AppState>, req: Request<Body>) -> Response {
    let realm = state.config.issuer().to_owned();
    match answer(&state, req).await {
        Ok(r) => r,
        Err(e) => {
            if let GuardError::Unavailable(reason) = &e {
                tracing::error!(%reason, "UserInfo could not check a token");
            }
            bearer_error_response(&e, &realm)
        }
    }
}

async fn answer(state: &AppState, req: Request<Body>) -> Result<Response, GuardError> {
    let (_req, token) = bearer_token(req, true, MAX_FORM).await;
    let body = userinfo::claims(state, token?.expose()).await?;
    let mut r = axum::Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}
