//! The browser flow's use cases (RFC 6749 §4.1.1–§4.1.2; OIDC Core §3.1.2):
//! [`start`] answers `/authorize`, [`sign_in`] the login form, [`consent`]
//! the consent page and form. Each reads the clock once, decides through
//! the core (`authorize::validate`, `AuthorizationRequest::accepts_login`,
//! `consent::covers`) and says where the browser goes [`Next`]. Logins
//! pass the login throttle (`throttle.rs`) and the bound on password
//! hashing ([`crate::password_slots`]).

pub mod consent;
mod issue;
mod pending;
pub mod sign_in;
pub mod start;
mod throttle;

use std::net::IpAddr;

use tessera_core::UnixTime;
use tessera_store::Session;

pub use pending::{Pending, pending};

use super::{AppError, FlowRefusal};
use crate::app::error::OrUnavailable;
use crate::state::AppState;

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Back to the client at its trusted redirect URI, with a code or an
    /// error (and `state` and `iss`): the full `Location`.
    Client(String),
    /// The login page for the parked request with this id.
    Login(String),
    /// The consent page for the parked request with this id.
    Consent(String),
}

/// After a login, or for a browser already signed in: the code at once if
/// remembered consent covers the request, otherwise the consent page. A
/// login older than the request allows goes back to the login page.
async fn continue_authorization(
    state: &AppState,
    session: &Session,
    p: &Pending,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<Next, AppError> {
    let (Some(user_id), Some(auth_time)) = (session.user_id.as_deref(), session.auth_time) else {
        return Err(FlowRefusal::NotSignedIn.into());
    };
    if !p.request.accepts_login(auth_time, &session.id_hash) {
        return Ok(Next::Login(p.request_id.clone()));
    }
    if consent::remembered_covers(state, user_id, &p.client, &p.request).await? {
        if !state
            .store
            .take_authorization_request(&p.request_id, &session.id_hash)
            .await
            .or_unavailable()?
        {
            return Err(FlowRefusal::AlreadyAnswered.into());
        }
        let location = issue::code(
            state,
            &p.request,
            user_id,
            auth_time,
            &p.request.scope,
            source,
            now,
        )
        .await?;
        return Ok(Next::Client(location));
    }
    Ok(Next::Consent(p.request_id.clone()))
}
