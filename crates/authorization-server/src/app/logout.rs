//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
//!
//! The browser session ends (its row is deleted) once the request is known
//! to be wanted: an `id_token_hint` we signed for the signed-in user, or the
//! user's own confirmation on our page (a POST with the session's CSRF
//! token). Anything else gets that confirmation first, so another site
//! cannot sign the user out behind their back (the specification's §2: the
//! OP should ask). The browser goes back to the client only to a
//! `post_logout_redirect_uri` registered for that client, compared byte for
//! byte, with `state` passed through; the client is named by `client_id` or
//! by the `aud` of an `id_token_hint` we signed, and both must agree.
//! Anything else gets the "you are signed out" page: never an open redirect.

use tessera_core::UnixTime;
use tessera_core::redirect_uri;
use tessera_store::Session;

use super::error::{AppError, OrUnavailable};
use super::events::{self, About, Kind};
use crate::state::AppState;
use crate::{id_tokens, session};

/// What a logout request carries.
#[derive(Debug, Clone, Copy)]
pub struct LogoutRequest<'a> {
    pub id_token_hint: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
    /// The CSRF token of our confirmation form, when this is its POST.
    pub confirmation: Option<&'a str>,
}

/// The outcome of a logout request.
#[derive(Debug)]
pub enum LoggedOut {
    /// The user must confirm first, on a page carrying this session's CSRF
    /// token.
    Confirm(Box<Session>),
    /// Signed out (or there was no session): where to send the browser, if
    /// anywhere.
    Done { return_to: Option<String> },
}

pub async fn end_session(
    state: &AppState,
    cookie: Option<&str>,
    request: &LogoutRequest<'_>,
) -> Result<LoggedOut, AppError> {
    let now = state.now();
    if let Some(s) = session::find(state, cookie, now).await.or_unavailable()? {
        if !wanted(state, &s, request, now) {
            return Ok(LoggedOut::Confirm(Box::new(s)));
        }
        state
            .store
            .delete_session(&s.id_hash)
            .await
            .or_unavailable()?;
        if let Some(user_id) = s.user_id.as_deref() {
            events::record(
                state,
                now,
                Kind::Logout,
                About {
                    user_id: Some(user_id),
                    ..About::default()
                },
                "the browser session was ended (RP-initiated logout)",
            )
            .await;
        }
    }
    Ok(LoggedOut::Done {
        return_to: return_address(state, request, now).await?,
    })
}

/// Whether ending `session` is what its user wants: a hint we signed for
/// this user, the user's confirmation from our page, or a session nobody
/// signed in to (which nothing protects).
fn wanted(state: &AppState, session: &Session, request: &LogoutRequest<'_>, now: UnixTime) -> bool {
    let Some(user_id) = session.user_id.as_deref() else {
        return true;
    };
    let hinted = request
        .id_token_hint
        .and_then(|hint| id_tokens::verify_own_id_token(state, hint, now))
        .is_some_and(|claims| claims.sub == user_id);
    let confirmed =
        request.confirmation.is_some() && session::csrf_matches(session, request.confirmation);
    hinted || confirmed
}

/// Where to send the browser, if anywhere: only a URI registered for the
/// client the request names (consistently).
async fn return_address(
    state: &AppState,
    request: &LogoutRequest<'_>,
    now: UnixTime,
) -> Result<Option<String>, AppError> {
    let Some(uri) = request.post_logout_redirect_uri else {
        return Ok(None);
    };
    let hinted = match request.id_token_hint {
        Some(hint) => match id_tokens::verify_own_id_token(state, hint, now) {
            Some(claims) => Some(claims.aud),
            // A hint we cannot verify names no one we could trust.
            None => return Ok(None),
        },
        None => None,
    };
    let client_id = match (request.client_id, hinted.as_deref()) {
        (Some(named), Some(aud)) if named != aud => return Ok(None),
        (Some(named), _) => named,
        (None, Some(aud)) => aud,
        (None, None) => return Ok(None),
    };
    let Some(client) = state.store.client(client_id).await.or_unavailable()? else {
        return Ok(None);
    };
    if !client.post_logout_redirect_uris.iter().any(|u| u == uri) {
        return Ok(None);
    }
    Ok(Some(match request.state {
        Some(state) => redirect_uri::with_response_params(uri, &[("state", state)]),
        None => uri.to_owned(),
    }))
}
