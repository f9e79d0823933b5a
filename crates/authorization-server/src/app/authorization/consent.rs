//! Consent: the resource owner decides what the client may do, and may grant
//! only some of the requested scopes; the decision is remembered
//! (`tessera_core::consent`).

use std::net::IpAddr;

use tessera_core::authorize::{AuthorizationRequest, RedirectError};
use tessera_core::client::Client;
use tessera_core::consent::{self, Remembered};
use tessera_core::error::{ErrorCode, OAuthError};
use tessera_core::scope::Scope;
use tessera_store::{Consent, User};

use super::pending::pending_in;
use super::{Next, Pending, issue, pending};
use crate::app::error::{AppError, FlowRefusal, OrUnavailable};
use crate::app::events::{self, About, Kind};
use crate::session;
use crate::state::AppState;

/// Whether the user's remembered consent answers `request` without asking.
pub async fn remembered_covers(
    state: &AppState,
    user_id: &str,
    client: &Client,
    request: &AuthorizationRequest,
) -> Result<bool, AppError> {
    if request.prompt.consent {
        // Asked for the page whatever is remembered: no need to look.
        return Ok(false);
    }
    let remembered = remembered(state, user_id, client).await?;
    Ok(consent::covers(remembered.as_ref(), client, request))
}

async fn remembered(
    state: &AppState,
    user_id: &str,
    client: &Client,
) -> Result<Option<Remembered>, AppError> {
    Ok(state
        .store
        .consent(user_id, &client.client_id)
        .await
        .or_unavailable()?
        .map(|c| Remembered {
            scope: c.scope,
            redirect_uri: c.redirect_uri,
        }))
}

/// What the consent page shows, or where to go instead.
#[derive(Debug)]
pub enum ConsentPage {
    Show {
        pending: Box<Pending>,
        user: Box<User>,
    },
    /// The login is older than the request allows: that login page is not
    /// skippable.
    Elsewhere(Next),
}

pub async fn page(
    state: &AppState,
    cookie: Option<&str>,
    request_id: Option<&str>,
) -> Result<ConsentPage, AppError> {
    let now = state.now();
    let p = pending(state, cookie, request_id, now).await?;
    let user_id = p
        .session
        .user_id
        .as_deref()
        .ok_or(FlowRefusal::NotSignedIn)?;
    if !p
        .session
        .auth_time
        .is_some_and(|t| p.request.accepts_login(t, &p.session.id_hash))
    {
        return Ok(ConsentPage::Elsewhere(Next::Login(p.request_id)));
    }
    let user = state
        .store
        .user(user_id)
        .await
        .or_unavailable()?
        .ok_or(FlowRefusal::NotSignedIn)?;
    Ok(ConsentPage::Show {
        pending: Box::new(p),
        user: Box::new(user),
    })
}

/// What the consent form sent.
#[derive(Debug)]
pub struct ConsentForm<'a> {
    pub request_id: Option<&'a str>,
    pub csrf_token: Option<&'a str>,
    /// `approve`, `deny`, or something else.
    pub decision: Option<&'a str>,
    /// The scopes left checked.
    pub checked: Scope,
    /// Where the form came from, for the audit trail.
    pub source: Option<IpAddr>,
}

pub async fn decide(
    state: &AppState,
    cookie: Option<&str>,
    form: ConsentForm<'_>,
) -> Result<Next, AppError> {
    let now = state.now();
    // The CSRF token is checked against the session before anything else is
    // looked at (RFC 6749 §10.12).
    let current = session::find(state, cookie, now)
        .await
        .or_unavailable()?
        .ok_or(FlowRefusal::NotSignedIn)?;
    if !session::csrf_matches(&current, form.csrf_token) {
        return Err(FlowRefusal::ConsentFormForged.into());
    }
    // The request must belong to this browser session (Dex CVE-2022-39222,
    // Hydra consent fixation).
    let p = pending_in(state, current, form.request_id, now).await?;
    let (Some(user_id), Some(auth_time)) = (p.session.user_id.clone(), p.session.auth_time) else {
        return Err(FlowRefusal::NotSignedIn.into());
    };
    if !p.request.accepts_login(auth_time, &p.session.id_hash) {
        return Ok(Next::Login(p.request_id));
    }
    let approve = match form.decision {
        Some("approve") => true,
        Some("deny") => false,
        _ => return Err(FlowRefusal::NoDecision.into()),
    };
    // Single use: a double submit finds the request gone.
    if !state
        .store
        .take_authorization_request(&p.request_id, &p.session.id_hash)
        .await
        .or_unavailable()?
    {
        return Err(FlowRefusal::AlreadyAnswered.into());
    }
    let deny = |description: &'static str| {
        Next::Client(
            RedirectError {
                redirect: p.request.redirect.clone(),
                error: OAuthError::new(ErrorCode::AccessDenied, description),
            }
            .location(state.config.issuer()),
        )
    };
    let about = About {
        client_id: Some(&p.client.client_id),
        user_id: Some(&user_id),
        grant_id: None,
        source: form.source,
    };
    if !approve {
        events::record(
            state,
            now,
            Kind::ConsentRefused,
            about,
            "the user pressed Deny",
        )
        .await;
        return Ok(deny("the user denied the request"));
    }
    let granted = consent::granted(&form.checked, &p.request);
    if granted.is_empty() {
        events::record(
            state,
            now,
            Kind::ConsentRefused,
            about,
            "the user granted none of the requested scopes",
        )
        .await;
        return Ok(deny("the user granted none of the requested scopes"));
    }
    let previous = remembered(state, &user_id, &p.client).await?;
    let remember = consent::remember(previous.as_ref(), &p.client, &p.request, &granted);
    state
        .store
        .save_consent(&Consent {
            user_id: user_id.clone(),
            client_id: p.client.client_id.clone(),
            scope: remember.scope,
            redirect_uri: remember.redirect_uri,
            granted_at: now,
        })
        .await
        .or_unavailable()?;
    events::record(
        state,
        now,
        Kind::ConsentGiven,
        about,
        &format!("granted scope {granted} of {}", p.request.scope),
    )
    .await;
    let location = issue::code(
        state,
        &p.request,
        &user_id,
        auth_time,
        &granted,
        form.source,
        now,
    )
    .await?;
    Ok(Next::Client(location))
}
