//! The token panel's buttons, and what happens when the refresh token stops
//! working.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_client::observe::observed;
use tessera_client::{Error as ClientError, TokenKind};

use crate::Printer;
use crate::dance::{Channel, DanceLog, Flow, Lane, NewStep, RefreshCause};
use crate::error::PrinterError;
use crate::pages::message_with_csrf;
use crate::sessions::BrowserSession;

/// Whether a refresh error ends what the session holds: the refresh token
/// is refused, or the refreshed ID token is about someone else.
pub(super) fn ends_authorization(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::ReauthorizationRequired | ClientError::IdentityChanged { .. }
    )
}

/// The refresh token no longer works (or the refresh named another user):
/// the tokens are dropped and the page says why, with the button that
/// starts the authorization again.
pub(super) fn reauthorization_required(
    state: &mut BrowserSession,
    dance: &DanceLog,
    csrf: &str,
    why: &ClientError,
) -> Response {
    state.tokens = None;
    state.access_token_forgotten = false;
    state.revoked = false;
    dance.became(Flow::Ended);
    let (note, message) = match why {
        ClientError::IdentityChanged { .. } => (
            format!("{why}: the new tokens are not used, the old ones are dropped, and the user must sign in again"),
            "The authorization server's new ID token is about someone else than the person who signed in, so the printer did not use the new tokens and dropped the old ones. Sign in again to keep printing.",
        ),
        _ => (
            "the authorization server refused the refresh token (invalid_grant): the tokens are dropped and the user must authorize again".to_owned(),
            "The authorization server no longer accepts the printer's refresh token: it was revoked, it expired, or your grant ended. To keep printing, the printer has to ask for your permission again.",
        ),
    };
    dance.record(
        NewStep::new(
            Lane::Client,
            Lane::Client,
            Channel::Local,
            "authorization has ended",
        )
        .note(note)
        .failed(true),
    );
    message_with_csrf(
        StatusCode::OK,
        "Please authorize the printer again",
        message,
        Some("Authorize again"),
        csrf,
    )
}

/// `POST /tokens/refresh`: refresh now.
pub async fn refresh(
    State(printer): State<Printer>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PrinterError> {
    let Some(session) = printer.sessions().find(&headers) else {
        return Ok(super::see_other("/", None));
    };
    super::check_csrf(&session, &body)?;
    let dance = session.dance.clone();
    let mut state = session.state.lock().await;
    let Some(tokens) = state.tokens.clone() else {
        return Ok(super::see_other("/", None));
    };
    dance.begin(Flow::Refresh(RefreshCause::Button));
    dance.record(
        NewStep::new(
            Lane::Browser,
            Lane::Client,
            Channel::Front,
            "POST /tokens/refresh",
        )
        .note("the user presses “Refresh now”"),
    );
    let client = printer.client().await?;
    match observed(super::observer(&printer, &dance), client.refresh(&tokens)).await {
        Ok(fresh) => {
            state.tokens = Some(fresh);
            state.access_token_forgotten = false;
            state.notice = Some("New tokens from the authorization server.".into());
            dance.continues_with_photos();
            Ok(super::see_other("/photos", None))
        }
        Err(e) if ends_authorization(&e) => Ok(reauthorization_required(
            &mut state,
            &dance,
            &session.csrf,
            &e,
        )),
        Err(e) => Err(PrinterError::AuthorizationServer(e)),
    }
}

/// `POST /tokens/forget`: drop the access token so the next call shows the
/// refresh path.
pub async fn forget(
    State(printer): State<Printer>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PrinterError> {
    let Some(session) = printer.sessions().find(&headers) else {
        return Ok(super::see_other("/", None));
    };
    super::check_csrf(&session, &body)?;
    let mut state = session.state.lock().await;
    if state.tokens.is_some() {
        session.dance.begin(Flow::Forget);
        session.dance.record(
            NewStep::new(
                Lane::Browser,
                Lane::Client,
                Channel::Front,
                "POST /tokens/forget",
            )
            .note("the user presses “Forget the access token”"),
        );
        state.access_token_forgotten = true;
        state.notice = Some("The access token is forgotten; the next call refreshes first.".into());
        session.dance.record(
            NewStep::new(
                Lane::Client,
                Lane::Client,
                Channel::Local,
                "access token forgotten",
            )
            .note("the refresh token is kept"),
        );
    }
    Ok(super::see_other("/", None))
}

/// `POST /tokens/revoke`: RFC 7009 revocation of the refresh token (which
/// ends the grant at the AS). The printer keeps the now-useless refresh
/// token, marked revoked in the token panel, and forgets the access token,
/// so the next call shows the refused refresh and the new authorization.
pub async fn revoke(
    State(printer): State<Printer>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PrinterError> {
    let Some(session) = printer.sessions().find(&headers) else {
        return Ok(super::see_other("/", None));
    };
    super::check_csrf(&session, &body)?;
    let dance = session.dance.clone();
    let mut state = session.state.lock().await;
    let Some(tokens) = state.tokens.clone() else {
        return Ok(super::see_other("/", None));
    };
    dance.begin(Flow::Revoke);
    dance.record(
        NewStep::new(
            Lane::Browser,
            Lane::Client,
            Channel::Front,
            "POST /tokens/revoke",
        )
        .note("the user presses “Revoke”"),
    );
    let client = printer.client().await?;
    let (token, kind) = match &tokens.refresh_token {
        Some(r) => (r.clone(), TokenKind::Refresh),
        None => (tokens.access_token.clone(), TokenKind::Access),
    };
    observed(
        super::observer(&printer, &dance),
        client.revoke(&token, kind),
    )
    .await
    .map_err(PrinterError::AuthorizationServer)?;
    state.access_token_forgotten = true;
    state.revoked = true;
    state.notice = Some(
        "Revoked at the authorization server. The next call needs a refresh, which the server will refuse."
            .into(),
    );
    Ok(super::see_other("/", None))
}
