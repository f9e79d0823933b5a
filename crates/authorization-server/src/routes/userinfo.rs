//! `GET|POST /userinfo`: the OIDC UserInfo endpoint (OIDC Core §5.3).
//!
//! A bearer-token endpoint like any protected resource, so it finds the
//! token and answers refusals exactly as the guard crate does (RFC 6750:
//! header, or a form-body `access_token` on POST; never the query string).
//! The token must be one we issued to a user, still standing, with the
//! `openid` scope; the claims released follow its scope.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::id_token::OPENID;
use tessera_core::user_claims;
use tessera_protected_resource::{GuardError, bearer_error_response, bearer_token};

use crate::state::AppState;
use crate::tokens::{self, FoundToken, Hint};

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
    let token = token?;
    let unavailable = |e: tessera_store::StoreError| GuardError::Unavailable(e.to_string());
    let found = tokens::find(state, token.expose(), Hint::AccessToken)
        .await
        .map_err(unavailable)?;
    let Some(FoundToken::Access(status)) = found else {
        return Err(GuardError::InvalidToken("the access token is not valid"));
    };
    let now = state.now();
    let record = &status.record;
    if status.revoked_at.is_some() || status.grant_revoked_at.is_some() {
        return Err(GuardError::InvalidToken("the access token was revoked"));
    }
    if now >= record.expires_at {
        return Err(GuardError::InvalidToken("the access token has expired"));
    }
    // Client-credentials tokens have no user, so no UserInfo.
    if record.grant_id.is_none() || !record.scope.contains(OPENID) {
        return Err(GuardError::InsufficientScope {
            scope: OPENID.to_owned(),
        });
    }
    let user = state
        .store
        .user(&record.subject)
        .await
        .map_err(unavailable)?
        .ok_or(GuardError::InvalidToken("the user no longer exists"))?;
    let body = user_claims::released(&user.user_id, &user.username, &user.claims, &record.scope);
    let mut r = axum::Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}
