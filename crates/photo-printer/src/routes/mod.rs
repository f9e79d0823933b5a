//! The printer's handlers, one file per part of the app.

mod assets;
mod dance_view;
mod flow;
mod home;
mod photos;
mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tessera_client::Tokens;

use crate::Printer;
use crate::dance::{DanceLog, SessionObserver};
use crate::error::PrinterError;
use crate::pages::TokenPanel;
use crate::sessions::SessionHandle;

pub fn router(printer: Printer) -> Router {
    Router::new()
        .route("/", get(home::home))
        .route("/start", post(flow::start))
        .route("/callback", get(flow::callback))
        .route("/result", get(flow::result))
        .route("/photos", get(photos::photos))
        .route("/photos/{id}/image", get(photos::image))
        .route("/print", get(photos::print))
        .route("/tokens/refresh", post(tokens::refresh))
        .route("/tokens/forget", post(tokens::forget))
        .route("/tokens/revoke", post(tokens::revoke))
        .route("/dance", get(dance_view::page))
        .route("/dance/steps", get(dance_view::steps))
        .route("/dance/events", get(dance_view::events))
        .route("/dance/clear", post(dance_view::clear))
        .route("/static/printer.css", get(assets::stylesheet))
        .route("/static/dance.js", get(assets::dance_script))
        .route("/static/print.js", get(assets::print_script))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .with_state(printer)
}

/// Any other address: a page in the printer's own style that says so and
/// leads back (issue 12 item 9), not an empty body.
async fn not_found() -> Response {
    crate::pages::message(
        axum::http::StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address in the Photo Printer.",
    )
}

/// The observer that draws a session's back-channel exchanges.
fn observer(printer: &Printer, dance: &Arc<DanceLog>) -> Arc<SessionObserver> {
    Arc::new(SessionObserver::new(
        dance.clone(),
        &printer.config().photo_api,
    ))
}

/// When the browser reached the printer under another host name than its
/// redirect URI's (127.0.0.1 for localhost), a 303 to the same page there:
/// the session cookie would not come back to the callback otherwise.
fn on_canonical_host(printer: &Printer, headers: &HeaderMap, path: &str) -> Option<Response> {
    let canonical = url::Url::parse(&printer.config().redirect_uri).ok()?;
    let expected = match canonical.port() {
        Some(p) => format!("{}:{p}", canonical.host_str()?),
        None => canonical.host_str()?.to_owned(),
    };
    let host = headers.get(header::HOST)?.to_str().ok()?;
    if host.eq_ignore_ascii_case(&expected) {
        return None;
    }
    Some(see_other(
        &format!("{}{path}", canonical.origin().ascii_serialization()),
        None,
    ))
}

/// A 303 (the browser must GET the next page), with the session cookie when
/// one was just created.
fn see_other(to: &str, cookie: Option<HeaderValue>) -> Response {
    with_cookie(Redirect::to(to).into_response(), cookie)
}

fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// Checks the CSRF field of a state-changing form against the session's.
fn check_csrf(session: &SessionHandle, body: &[u8]) -> Result<(), PrinterError> {
    use subtle::ConstantTimeEq as _;
    let sent = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .ok_or(PrinterError::Csrf)?;
    if bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes())) {
        Ok(())
    } else {
        Err(PrinterError::Csrf)
    }
}

/// The token panel for the tokens a session holds; `revoked`: the user
/// revoked them (they are kept only to show the refused refresh).
fn token_panel(
    printer: &Printer,
    tokens: &Tokens,
    access_forgotten: bool,
    revoked: bool,
) -> TokenPanel {
    let requested = &printer.config().scopes;
    let access = if revoked {
        "revoked at the authorization server with the grant (the printer no longer uses it)"
            .to_owned()
    } else if access_forgotten {
        "forgotten by the printer (the next call refreshes first)".to_owned()
    } else {
        match tokens.expires_at {
            Some(at) => match at.duration_since(printer.now()) {
                Ok(left) => format!(
                    "held; expires in {} min {} s",
                    left.as_secs() / 60,
                    left.as_secs() % 60
                ),
                Err(_) => "held; expired (the next call refreshes)".to_owned(),
            },
            None => "held; no expiry given".to_owned(),
        }
    };
    TokenPanel {
        granted: tokens.scopes.clone(),
        refused: requested
            .iter()
            .filter(|s| !tokens.scopes.contains(s))
            .cloned()
            .collect(),
        access,
        refresh: match (&tokens.refresh_token, revoked) {
            (Some(_), true) => {
                "revoked at the authorization server: the next refresh will be refused".into()
            }
            (Some(_), false) => "held".into(),
            (None, _) => "none".into(),
        },
        who: tokens
            .identity
            .as_ref()
            .map(|i| i.display_name().to_owned()),
    }
}
