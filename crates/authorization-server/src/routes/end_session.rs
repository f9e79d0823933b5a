//! `GET|POST /end_session`: RP-initiated logout (OpenID Connect RP-Initiated
//! Logout 1.0).
//!
//! The browser session at this server ends (its row is deleted and the
//! cookie cleared), whatever the parameters say. The browser goes back to
//! the client only to a `post_logout_redirect_uri` registered for that
//! client, compared byte for byte, with `state` passed through; the client
//! is named by `client_id` or by the `aud` of an `id_token_hint` we signed,
//! and both must agree. Anything else gets the "you are signed out" page:
//! never an open redirect.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::params::Params;
use tessera_core::redirect_uri;

use super::FormBody;
use super::flow::{self, Via};
use crate::error::{OrInternal, WebError};
use crate::state::AppState;
use crate::{id_tokens, pages, session};

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    handle(&state, &headers, &params, Via::Get)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, WebError> {
    handle(&state, &headers, &Params::parse(&body), Via::Post).await
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    via: Via,
) -> Result<Response, WebError> {
    if let Some(s) = session::load(state, headers).await.or_page()? {
        state.store.delete_session(&s.id_hash).await.or_page()?;
        tracing::info!("browser session ended by RP-initiated logout");
    }
    let mut response = match return_address(state, params).await? {
        Some(location) => flow::redirect(&location, via),
        None => pages::render(
            StatusCode::OK,
            "logged_out.html",
            minijinja::context! {
                title => "Signed out",
                base => state.config.base_path(),
            },
        ),
    };
    if let Some(cookie) = clear_cookie(state) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Where to send the browser, if anywhere: only a URI registered for the
/// client the request names (consistently).
async fn return_address(state: &AppState, params: &Params) -> Result<Option<String>, WebError> {
    let single = |name| params.single(name).ok().flatten();
    let Some(uri) = single("post_logout_redirect_uri") else {
        return Ok(None);
    };
    let hinted = match single("id_token_hint") {
        Some(hint) => match id_tokens::verify_own_id_token(state, hint) {
            Some(claims) => Some(claims.aud),
            // A hint we cannot verify names no one we could trust.
            None => return Ok(None),
        },
        None => None,
    };
    let client_id = match (single("client_id"), hinted.as_deref()) {
        (Some(named), Some(aud)) if named != aud => return Ok(None),
        (Some(named), _) => named,
        (None, Some(aud)) => aud,
        (None, None) => return Ok(None),
    };
    let Some(client) = state.store.client(client_id).await.or_page()? else {
        return Ok(None);
    };
    if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
        return Ok(None);
    }
    Ok(Some(match single("state") {
        Some(state) => redirect_uri::with_response_params(uri, &[("state", state)]),
        None => uri.to_owned(),
    }))
}

/// Expires the session cookie at once.
fn clear_cookie(state: &AppState) -> Option<HeaderValue> {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        session::cookie_name(state),
        secure
    ))
    .ok()
}
