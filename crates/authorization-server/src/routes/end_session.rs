//! `GET|POST /end_session`: RP-initiated logout (OpenID Connect RP-Initiated
//! Logout 1.0).
//!
//! The browser session at this server ends (its row is deleted and the
//! cookie cleared) once the request is known to be wanted: an
//! `id_token_hint` we signed for the signed-in user, or the user's own
//! confirmation on our page (a POST with the session's CSRF token).
//! Anything else gets that confirmation page first, so another site cannot
//! sign the user out behind their back (the specification's §2: the OP
//! should ask). The browser goes back to
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
use tessera_store::Session;

use super::FormBody;
use super::redirect::{self, Via};
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
        if !wanted(state, &s, params, via) {
            return Ok(confirmation_page(state, &s, params));
        }
        state.store.delete_session(&s.id_hash).await.or_page()?;
        tracing::info!("browser session ended by RP-initiated logout");
    }
    let mut response = match return_address(state, params).await? {
        Some(location) => redirect::redirect(&location, via),
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

/// Whether ending `session` is what its user wants: a hint we signed for
/// this user, the user's confirmation from our page, or a session nobody
/// signed in to (which nothing protects).
fn wanted(state: &AppState, session: &Session, params: &Params, via: Via) -> bool {
    let single = |name| params.single(name).ok().flatten();
    let Some(user_id) = session.user_id.as_deref() else {
        return true;
    };
    let hinted = single("id_token_hint")
        .and_then(|hint| id_tokens::verify_own_id_token(state, hint))
        .is_some_and(|claims| claims.sub == user_id);
    let confirmed = via == Via::Post && session::csrf_matches(session, single("csrf_token"));
    hinted || confirmed
}

/// The parameters a confirmation carries over to its POST.
const PASSED_ON: &[&str] = &[
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
];

fn confirmation_page(state: &AppState, session: &Session, params: &Params) -> Response {
    let fields: Vec<(&str, &str)> = PASSED_ON
        .iter()
        .filter_map(|name| Some((*name, params.single(name).ok().flatten()?)))
        .collect();
    pages::render(
        StatusCode::OK,
        "logout_confirm.html",
        minijinja::context! {
            title => "Sign out?",
            base => state.config.base_path(),
            csrf_token => session.csrf_token,
            fields,
        },
    )
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
