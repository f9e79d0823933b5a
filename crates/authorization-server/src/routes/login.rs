//! `GET|POST /login`: the login page and form; the use case is
//! [`crate::app::authorization::sign_in`].

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::params::Params;

use super::FormBody;
use super::redirect::{self, Via};
use super::source::SourceAddress;
use crate::app::authorization::sign_in::{self, LoginForm, SignIn};
use crate::app::authorization::{Pending, pending};
use crate::error::WebError;
use crate::state::AppState;
use crate::{pages, session};

const LOGIN_FAILED: &str = "Incorrect username or password.";

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let request_id = params.single("request").ok().flatten();
    match pending(
        &state,
        session::cookie(&state, &headers),
        request_id,
        state.now(),
    )
    .await
    {
        Ok(p) => {
            let hint = p.request.login_hint.as_deref().unwrap_or_default();
            render(&state, &p, hint, None, StatusCode::OK)
        }
        Err(e) => WebError::from_app_page(e).into_response(),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    SourceAddress(source): SourceAddress,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, WebError> {
    let params = Params::parse(&body);
    // Refused before anything is counted or written: a field sent twice,
    // or holding a NUL or bytes that are not UTF-8, is no sign-in attempt.
    if params.first_repeated().is_some() || params.first_malformed().is_some() {
        return Err(WebError::bad_request_page(
            "The sign-in form was sent with a repeated or malformed field.",
        ));
    }
    let field = |name| params.single(name).ok().flatten();
    let form = LoginForm {
        request_id: field("request"),
        csrf_token: field("csrf_token"),
        username: field("username").unwrap_or_default(),
        password: field("password").unwrap_or_default().to_owned(),
        source,
    };
    let username = form.username;
    match sign_in::sign_in(&state, session::cookie(&state, &headers), form)
        .await
        .map_err(WebError::from_app_page)?
    {
        SignIn::Failed(p) => Ok(render(
            &state,
            &p,
            username,
            Some(LOGIN_FAILED),
            StatusCode::UNAUTHORIZED,
        )),
        // The same page for a blocked account and a blocked address, for a
        // known and an unknown username (no enumeration through the
        // throttle), with the wait in words and in `Retry-After`.
        SignIn::Throttled {
            pending,
            retry_after,
        } => Ok(retry_later(
            render(
                &state,
                &pending,
                username,
                Some(&format!(
                    "Too many failed sign-in attempts. Try again in {} s.",
                    retry_after.max(1)
                )),
                StatusCode::TOO_MANY_REQUESTS,
            ),
            retry_after,
        )),
        SignIn::Busy {
            pending,
            retry_after,
        } => Ok(retry_later(
            render(
                &state,
                &pending,
                username,
                Some(&format!(
                    "The server is busy. Try again in {} s.",
                    retry_after.max(1)
                )),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            retry_after,
        )),
        SignIn::Done { next, session: raw } => {
            let mut response = redirect::to(&state, &next, Via::Post);
            if let Some(cookie) = session::set_cookie(&state, &raw) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
    }
}

/// `response` with `Retry-After: secs` (at least one second).
fn retry_later(mut response: Response, secs: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

fn render(
    state: &AppState,
    p: &Pending,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    pages::render(
        status,
        "login.html",
        minijinja::context! {
            title => "Sign in",
            base => state.config.base_path(),
            client_name => p.client.name,
            csrf_token => p.session.csrf_token,
            request_id => p.request_id,
            username,
            error,
        },
    )
}
