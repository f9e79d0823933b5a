//! The front channel: sending the browser to the authorization server and
//! taking it back at the callback.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_client::CallbackError;
use tessera_client::observe::{observed, redact_field};

use crate::Printer;
use crate::dance::{Channel, DanceLog, Flow, Lane, NewStep};
use crate::error::PrinterError;
use crate::pages::message;
use crate::sessions::{BrowserSession, Outcome};

/// An authorization request older than this is refused at the callback:
/// nobody takes that long to log in, and a stale `state` should not work.
const PENDING_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The error codes of RFC 6749 §4.1.2.1 and OIDC, the only ones a refusal
/// page names; anything else in `error=` is someone else's text.
const KNOWN_ERRORS: &[&str] = &[
    "invalid_request",
    "unauthorized_client",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "interaction_required",
    "login_required",
    "consent_required",
    "invalid_target",
];

/// The buttons that post to `/start`, by their label (sent as the form's
/// `button` field): the dance says which one the user pressed.
const START_BUTTONS: &[&str] = &[
    "Print my photos",
    "Authorize again",
    "Try again",
    "Start again",
];

/// The button a `/start` form names, if it is one of ours (anything else is
/// someone else's text and is not shown).
fn pressed_button(body: &[u8]) -> Option<&'static str> {
    let sent = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "button")
        .map(|(_, v)| v.into_owned())?;
    START_BUTTONS.iter().copied().find(|b| *b == sent)
}

/// The parameters of a URL query as the dance shows them.
fn shown_params(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .map(|(k, v)| {
            let shown = redact_field(&k, &v);
            (k.into_owned(), shown)
        })
        .collect()
}

/// `POST /start`: a new authorization request (fresh `state` and PKCE
/// verifier, kept in this browser's session), then 303 to the AS. The form
/// carries the session's CSRF token: a cross-site post could otherwise
/// replace the browser's session (and strand its tokens).
pub async fn start(
    State(printer): State<Printer>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PrinterError> {
    let Some(session) = printer.sessions().find(&headers) else {
        // No session yet (or it expired): the start page makes one.
        return Ok(super::see_other("/", None));
    };
    super::check_csrf(&session, &body)?;
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
    let button = pressed_button(&body);
    // The start page's button begins a sign-in; the others (after a
    // refusal, a revocation, an ended grant) authorize again.
    dance.begin(match button {
        Some("Print my photos") | None => Flow::SignIn,
        Some(_) => Flow::AuthorizeAgain,
    });
    dance.record(
        NewStep::new(Lane::Browser, Lane::Client, Channel::Front, "POST /start").note(
            match button {
                Some(label) => format!("the user presses “{label}”"),
                None => {
                    "an authorization is started (the form named none of the printer's buttons)"
                        .to_owned()
                }
            },
        ),
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
    Ok(super::see_other(url.as_str(), None))
}

/// `GET /callback`: every check before any token request, then the code
/// exchange. Every outcome is a 303 away (to `/photos`, or to `/result` with
/// the reason), so the code leaves the address bar; on success the session
/// gets a new id.
pub async fn callback(
    State(printer): State<Printer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PrinterError> {
    let query = query.unwrap_or_default();
    let Some(session) = printer.sessions().find(&headers) else {
        // No session to keep a message in: answered here, and nothing of
        // the query is used.
        return Ok(message(
            StatusCode::BAD_REQUEST,
            "Callback refused",
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
                format!("redirect → {}", printer.config().redirect_uri),
            )
            .params(params.clone()),
        );
    }
    dance.record(
        NewStep::new(Lane::Browser, Lane::Client, Channel::Front, "GET /callback").params(params),
    );

    let Some(pending) = pending else {
        return Ok(refuse(
            &mut state,
            &dance,
            "no authorization request is in progress in this browser (state missing, reused or foreign)",
            "This answer from the authorization server does not match an authorization in progress in this browser (it may have been used already). No token was requested.",
        ));
    };
    let age = printer
        .now()
        .duration_since(pending.created_at())
        .unwrap_or_default();
    if age > PENDING_LIFETIME {
        return Ok(refuse(
            &mut state,
            &dance,
            "the authorization request is older than 10 minutes",
            "This authorization took too long and has expired. No token was requested; start again.",
        ));
    }
    let client = printer.client().await?;
    // The same checks `complete` makes, run first so the diagram shows them
    // before the token request; `complete` checks again.
    let iss_required = client
        .metadata()
        .authorization_response_iss_parameter_supported;
    if let Err(e) = tessera_client::check_callback(&pending, iss_required, &query) {
        return Ok(callback_refused(&mut state, &dance, e));
    }
    dance.record(
        NewStep::new(Lane::Client, Lane::Client, Channel::Local, "state and iss checked").note(
            if iss_required {
                "state matches the request this browser started; iss is the authorization server it went to"
            } else {
                "state matches the request this browser started"
            },
        ),
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
                    NewStep::new(
                        Lane::Client,
                        Lane::Client,
                        Channel::Local,
                        "ID token and UserInfo checked",
                    )
                    .param("sub", identity.subject.clone())
                    .note(format!(
                        "the ID token is signed by the AS's key, for this client, with the nonce sent; UserInfo is about the same sub: {} logged in",
                        identity.display_name()
                    )),
                );
            }
            state.tokens = Some(tokens);
            state.access_token_forgotten = false;
            state.revoked = false;
            let (_, cookie) = printer.sessions().rotate(&session, &mut state)?;
            dance.record(
                NewStep::new(Lane::Client, Lane::Browser, Channel::Front, "303 See Other → /photos")
                    .note("tokens stay in the printer; the session gets a new id; the redirect takes the code out of the address bar"),
            );
            dance.continues_with_photos();
            Ok(super::see_other("/photos", cookie))
        }
        Err(e) => Ok(callback_refused(&mut state, &dance, e)),
    }
}

/// Records a refusal and sends the browser to `/result`, which explains it.
fn refuse(state: &mut BrowserSession, dance: &DanceLog, why: &str, text: &str) -> Response {
    dance.record(
        NewStep::new(
            Lane::Client,
            Lane::Client,
            Channel::Local,
            "callback refused",
        )
        .note(format!("{why}: no token request made"))
        .failed(true),
    );
    state.outcome = Some(Outcome {
        status: StatusCode::BAD_REQUEST.as_u16(),
        heading: "Callback refused".into(),
        message: text.into(),
        action: Some("Start again".into()),
    });
    super::see_other("/result", None)
}

fn callback_refused(state: &mut BrowserSession, dance: &DanceLog, e: CallbackError) -> Response {
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
        // Issue 12 item 3: the exchange worked, the answer did not; the
        // library revoked what it could not use.
        CallbackError::UnusableTokens { reason, revoked } => (
            StatusCode::BAD_GATEWAY,
            "The sign-in could not be used",
            format!(
                "The authorization server issued tokens, but the printer cannot use them: {reason}. {}",
                if *revoked {
                    "The printer revoked them at the authorization server, so nothing stays granted. Start again."
                } else {
                    "The printer asked the authorization server to revoke them, but that failed: the access you granted may still stand there. The printer did not keep the tokens."
                }
            ),
            "Start again",
        ),
        CallbackError::Authorization { code, .. } => (
            StatusCode::BAD_REQUEST,
            "The authorization server said no",
            if KNOWN_ERRORS.contains(&code.as_str()) {
                format!("The authorization server refused the request ({code}). No token was requested.")
            } else {
                "The authorization server refused the request. No token was requested.".to_owned()
            },
            "Start again",
        ),
        other => (
            StatusCode::BAD_REQUEST,
            "Callback refused",
            format!("The printer refused this answer from the authorization server: {other}. No token was requested."),
            "Start again",
        ),
    };
    let note = if matches!(
        e,
        CallbackError::TokenRequest(_) | CallbackError::UnusableTokens { .. }
    ) {
        e.to_string()
    } else {
        format!("{e}: no token request made")
    };
    dance.record(
        NewStep::new(
            Lane::Client,
            Lane::Client,
            Channel::Local,
            "callback refused",
        )
        .note(note)
        .failed(!matches!(e, CallbackError::AccessDenied)),
    );
    state.outcome = Some(Outcome {
        status: status.as_u16(),
        heading: heading.into(),
        message: text,
        action: Some(action.into()),
    });
    super::see_other("/result", None)
}

/// `GET /result`: the outcome a callback redirected to, shown once.
pub async fn result(State(printer): State<Printer>, headers: HeaderMap) -> Response {
    let Some(session) = printer.sessions().find(&headers) else {
        return super::see_other("/", None);
    };
    let outcome = session.state.lock().await.outcome.take();
    let Some(o) = outcome else {
        return super::see_other("/", None);
    };
    let status = StatusCode::from_u16(o.status).unwrap_or(StatusCode::BAD_REQUEST);
    crate::pages::message_with_csrf(
        status,
        &o.heading,
        &o.message,
        o.action.as_deref(),
        &session.csrf,
    )
}
