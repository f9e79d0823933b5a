//! The login form: the resource owner authenticates with the authorization
//! server directly; the client never sees the password.
//!
//! In order: the parked request and the form's CSRF token; the login
//! throttle (a blocked account or address is refused before any password
//! work); a place among the password-hashing slots (none free: busy); the
//! throttle again (failures counted while this login waited); one Argon2
//! verification, against a dummy hash for an unknown username. Known and
//! unknown usernames take the same steps, get the same answers and cost the
//! same work.

use std::net::IpAddr;

use tessera_core::secrets::SecretString;

use super::throttle::Throttle;
use super::{Next, Pending, continue_authorization, pending};
use crate::app::error::{AppError, FlowRefusal, OrUnavailable};
use crate::app::events::{self, About, Kind};
use crate::password_slots::Busy;
use crate::session;
use crate::state::AppState;

/// What the login form sent.
#[derive(Debug)]
pub struct LoginForm<'a> {
    pub request_id: Option<&'a str>,
    pub csrf_token: Option<&'a str>,
    pub username: &'a str,
    pub password: String,
    /// Where the attempt comes from, for the per-address throttle.
    pub source: Option<IpAddr>,
}

/// The outcome of a login.
#[derive(Debug)]
pub enum SignIn {
    /// Wrong username or password: the form again (the same answer, in the
    /// same time, whether or not the user exists).
    Failed(Box<Pending>),
    /// Too many failed logins for this account or from this address: no
    /// password was checked; the form again after `retry_after` seconds.
    Throttled {
        pending: Box<Pending>,
        retry_after: i64,
    },
    /// Every password-hashing slot and queue place is taken: nothing was
    /// checked or counted; the form again after `retry_after` seconds.
    Busy {
        pending: Box<Pending>,
        retry_after: i64,
    },
    /// Signed in, in a new session (whose cookie value this is).
    Done { next: Next, session: SecretString },
}

pub async fn sign_in(
    state: &AppState,
    cookie: Option<&str>,
    form: LoginForm<'_>,
) -> Result<SignIn, AppError> {
    let now = state.now();
    let p = pending(state, cookie, form.request_id, now).await?;
    if !session::csrf_matches(&p.session, form.csrf_token) {
        return Err(FlowRefusal::LoginFormForged.into());
    }
    let throttle = Throttle::new(state, form.username, form.source);
    let throttled = |p: Pending, retry_after: i64| {
        tracing::info!(client_id = %p.client.client_id, retry_after, "a sign-in attempt was refused: too many failed logins");
        Ok(SignIn::Throttled {
            pending: Box::new(p),
            retry_after,
        })
    };
    if let Some(retry_after) = throttle.blocked(state, now).await? {
        return throttled(p, retry_after);
    }
    // Unknown users are checked against a dummy hash so the answer takes the
    // same time and says the same thing either way.
    let user = state
        .store
        .user_by_username(form.username)
        .await
        .or_unavailable()?;
    let hash = user.as_ref().map_or_else(
        || state.dummy_password_hash.clone(),
        |u| u.password_hash.clone(),
    );
    let slot = match state.password_slots.admit() {
        Ok(admitted) => admitted.slot().await.or_unavailable()?,
        Err(Busy { retry_after }) => {
            tracing::warn!(client_id = %p.client.client_id, "a sign-in attempt was refused: every password-hashing slot is busy");
            return Ok(SignIn::Busy {
                pending: Box::new(p),
                retry_after,
            });
        }
    };
    if let Some(retry_after) = throttle.blocked(state, now).await? {
        return throttled(p, retry_after);
    }
    let verified = slot.verify(form.password, hash).await.or_unavailable()?;
    let user = match user {
        Some(u) if verified => u,
        user => {
            tracing::info!(client_id = %p.client.client_id, "a sign-in attempt failed");
            let about = About {
                client_id: Some(&p.client.client_id),
                user_id: user.as_ref().map(|u| u.user_id.as_str()),
                grant_id: None,
                source: form.source,
            };
            throttle.failed(state, now, about).await?;
            return Ok(SignIn::Failed(Box::new(p)));
        }
    };
    throttle.succeeded(state).await?;

    // A new session id on login, so a session id planted before login is
    // worthless after it (session fixation); the parked request moves to it.
    let (raw, new_session) =
        session::new_session(state, Some((&user.user_id, now)), now).or_unavailable()?;
    state
        .store
        .replace_session(Some(&p.session.id_hash), &new_session)
        .await
        .or_unavailable()?;
    events::record(
        state,
        now,
        Kind::LoginSucceeded,
        About {
            client_id: Some(&p.client.client_id),
            user_id: Some(&user.user_id),
            grant_id: None,
            source: form.source,
        },
        "signed in with a password",
    )
    .await;
    let next = continue_authorization(state, &new_session, &p, form.source, now).await?;
    Ok(SignIn::Done { next, session: raw })
}
