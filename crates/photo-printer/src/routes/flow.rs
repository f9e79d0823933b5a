//! The front channel: sending the browser to the authorization server and
//! taking it back at the callback.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_client::CallbackError;
use tessera_client::observe::observed;

use crate::Printer;
use crate::dance::{Channel, Lane, NewStep, redact};
use crate::error::PrinterError;
use crate::pages::message;

/// Query parameters whose values are credentials or one-time values.
const REDACTED: &[&str] = &["state", "code", "code_challenge", "nonce"];

/// The parameters of a URL query as the dance shows them.
fn shown_params(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .map(|(k, v)| {
            let v = if REDACTED.contains(&k.as_ref()) {
                redact(&v)
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect()
}

/// `POST /start`: a new authorization request (fresh `state` and PKCE
/// verifier, kept in this browser's session), then 303 to the AS.
///
/// No CSRF token: a forged start only begins an authorization that the
/// user still has to complete at the AS, and the `state` it creates is
/// bound to this browser.
pub async fn start(
    State(printer): State<Printer>,
    headers: HeaderMap,
) -> Result<Response, PrinterError> {
    let (session, cookie) = printer.sessions().find_or_create(&headers)?;
    let client = printer.client().await?;
    let scopes: Vec<&str> = printer.config().scopes.iter().map(String::as_str).collect();
    let (url, pending) = client.begin(&scopes);
    {
        let mut state = session.state.lock().await;
        // A newer request replaces an unfinished one: its state stops working.
        state.pending = Some(pending);
        state.notice = None;
    }
    let dance = &session.dance;
    let authorize = format!("{}{}", url.origin().ascii_serialization(), url.path());
    let params = shown_params(url.query().unwrap_or_default());
    dance.record(
        NewStep::new(Lane::Browser, Lane::Client, Channel::Front, "POST /start")
            .note("the user presses “Print my photos”"),
    );
    dance.record(
        NewStep::new(
            Lane::Client,
            Lane::Browser,
            Channel::Front,
            format!("303 See Other → {authorize}"),
        )
        .params(params.clone())
        .note("a fresh state and PKCE verifier are kept in this browser's session; only the S256 challenge is sent"),
    );
    dance.record(
        NewStep::new(
            Lane::Browser,
            Lane::AuthorizationServer,
            Channel::Front,
            format!("GET {}", url.path()),
        )
        .params(params)
        .note("the browser follows the redirect to the authorization server"),
    );
    Ok(super::see_other(url.as_str(), cookie))
}

/// `GET /callback`: every check before any token request, then the code
/// exchange, then 303 away so the code leaves the address bar.
pub async fn callback(
    State(printer): State<Printer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PrinterError> {
    let query = query.unwrap_or_default();
    let Some(session) = printer.sessions().find(&headers) else {
        return Ok(refused(
            "This answer from the authorization server does not belong to an authorization started in this browser, so the printer ignored it. No token was requested.",
        ));
    };
    let dance = session.dance.clone();
    let mut state = session.state.lock().await;
    // Single use: the request in flight leaves the session before anything
    // is checked, so a replayed callback finds nothing.
    let pending = state.pending.take();

    let params = shown_params(&query);
    if pending.is_some() {
        dance.record(
            NewStep::new(
                Lane::Browser,
                Lane::AuthorizationServer,
                Channel::BrowserAndAsOnly,
                "log in and consent",
            )
            .note("the user logs in and chooses what to share at the authorization server; the password never reaches the printer"),
        );
        dance.record(
            NewStep::new(
                Lane::AuthorizationServer,
                Lane::Browser,
                Channel::Front,
                format!("302 Found → {}", printer.config().redirect_uri),
            )
            .params(params.clone()),
        );
    }
    dance.record(
        NewStep::new(Lane::Browser, Lane::Client, Channel::Front, "GET /callback").params(params),
    );

    let Some(pending) = pending else {
        dance.record(
            NewStep::new(Lane::Client, Lane::Client, Channel::Local, "callback refused")
                .note("no authorization request is in progress in this browser (state missing, reused or foreign): no token request made")
                .failed(true),
        );
        return Ok(refused(
            "This answer from the authorization server does not match an authorization in progress in this browser (it may have been used already). No token was requested.",
        ));
    };
    let client = printer.client().await?;
    // The same checks `complete` makes, run first so the diagram shows them
    // before the token request; `complete` checks again.
    if let Err(e) = tessera_client::check_callback(
        &pending,
        client
            .metadata()
            .authorization_response_iss_parameter_supported,
        &query,
    ) {
        return Ok(callback_refused(&dance, e));
    }
    dance.record(
        NewStep::new(Lane::Client, Lane::Client, Channel::Local, "state and iss checked")
            .note("state matches the request this browser started; iss is the authorization server it went to"),
    );
    let result = observed(
        super::observer(&printer, &dance),
        client.complete(pending, &query),
    )
    .await;
    match result {
        Ok(tokens) => {
            if let Some(identity) = &tokens.identity {
                dance.record(
                    NewStep::new(Lane::Client, Lane::Client, Channel::Local, "ID token verified")
                        .param("sub", identity.subject.clone())
                        .note(format!(
                            "signed by the AS's key, issued for this client, nonce as sent: {} logged in",
                            identity.display_name()
                        )),
                );
            }
            state.tokens = Some(tokens);
            state.access_token_forgotten = false;
            dance.record(
                NewStep::new(Lane::Client, Lane::Browser, Channel::Front, "303 See Other → /photos")
                    .note("tokens stay in the printer; the redirect takes the code out of the address bar"),
            );
            Ok(super::see_other("/photos", None))
        }
        Err(e) => Ok(callback_refused(&dance, e)),
    }
}

fn refused(text: &str) -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Callback refused",
        text,
        Some("Start again"),
    )
}

fn callback_refused(dance: &crate::dance::DanceLog, e: CallbackError) -> Response {
    let (status, heading, text, action) = match &e {
        CallbackError::AccessDenied => (
            StatusCode::OK,
            "No photos shared",
            "You chose not to let the printer read your photos. Nothing was shared; you can change your mind at any time.".to_owned(),
            "Try again",
        ),
        CallbackError::TokenRequest(inner) => (
            StatusCode::BAD_GATEWAY,
            "The authorization did not complete",
            format!("The printer could not trade the authorization code for tokens ({inner})."),
            "Start again",
        ),
        other => (
            StatusCode::BAD_REQUEST,
            "Callback refused",
            format!("The printer refused this answer from the authorization server: {other}. No token was requested."),
            "Start again",
        ),
    };
    let requested_token = matches!(e, CallbackError::TokenRequest(_));
    dance.record(
        NewStep::new(
            Lane::Client,
            Lane::Client,
            Channel::Local,
            "callback refused",
        )
        .note(if requested_token {
            format!("{e}")
        } else {
            format!("{e}: no token request made")
        })
        .failed(!matches!(e, CallbackError::AccessDenied)),
    );
    message(status, heading, &text, Some(action))
}
