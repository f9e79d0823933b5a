//! `GET|POST /end_session`: RP-initiated logout (OpenID Connect RP-Initiated
//! Logout 1.0); the use case, and its rules, are [`crate::app::logout`].
//! This route reads the parameters, shows the confirmation page or the
//! "signed out" page, redirects, and clears the cookie.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::params::Params;
use tessera_store::Session;

use super::FormBody;
use super::redirect::{self, Via};
use crate::app::logout::{self, LoggedOut, LogoutRequest};
use crate::error::WebError;
use crate::state::AppState;
use crate::{pages, session};

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
    if params.first_malformed().is_some() {
        return Err(WebError::bad_request_page(
            "The logout request is malformed (a parameter holds a NUL character or bytes that are not UTF-8).",
        ));
    }
    // OIDC RP-Initiated Logout §2 defers to RFC 6749 §3.1: a parameter sent
    // twice is an error, not an absent one (which signed the user out and
    // dropped the return address).
    if params.first_repeated().is_some() {
        return Err(WebError::bad_request_page(
            "The logout request is malformed (a parameter is repeated).",
        ));
    }
    let single = |name| params.single(name).ok().flatten();
    let request = LogoutRequest {
        id_token_hint: single("id_token_hint"),
        client_id: single("client_id"),
        post_logout_redirect_uri: single("post_logout_redirect_uri"),
        state: single("state"),
        // Only the POST of our confirmation page confirms.
        confirmation: (via == Via::Post).then(|| single("csrf_token")).flatten(),
    };
    let outcome = logout::end_session(state, session::cookie(state, headers), &request)
        .await
        .map_err(WebError::from_app_page)?;
    let mut response = match outcome {
        LoggedOut::Confirm(s) => return Ok(confirmation_page(state, &s, params)),
        LoggedOut::Done {
            return_to: Some(location),
        } => redirect::redirect(&location, via),
        LoggedOut::Done { return_to: None } => pages::render(
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
