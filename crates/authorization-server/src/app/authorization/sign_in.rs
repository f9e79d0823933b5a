//! The login form: the resource owner authenticates with the authorization
//! server directly; the client never sees the password.

use tessera_core::secrets::SecretString;

use super::{Next, Pending, continue_authorization, pending};
use crate::app::error::{AppError, FlowRefusal, OrUnavailable};
use crate::passwords;
use crate::session;
use crate::state::AppState;

/// What the login form sent.
#[derive(Debug)]
pub struct LoginForm<'a> {
    pub request_id: Option<&'a str>,
    pub csrf_token: Option<&'a str>,
    pub username: &'a str,
    pub password: String,
}

/// The outcome of a login.
#[derive(Debug)]
pub enum SignIn {
    /// Wrong username or password: the form again (the same answer, in the
    /// same time, whether or not the user exists).
    Failed(Box<Pending>),
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
    let verified = passwords::verify(form.password, hash)
        .await
        .or_unavailable()?;
    let user = match user {
        Some(u) if verified => u,
        _ => {
            tracing::info!(client_id = %p.client.client_id, "a sign-in attempt failed");
            return Ok(SignIn::Failed(Box::new(p)));
        }
    };

    // A new session id on login, so a session id planted before login is
    // worthless after it (session fixation); the parked request moves to it.
    let (raw, new_session) =
        session::new_session(state, Some((&user.user_id, now)), now).or_unavailable()?;
    state
        .store
        .replace_session(Some(&p.session.id_hash), &new_session)
        .await
        .or_unavailable()?;
    tracing::info!(client_id = %p.client.client_id, "user signed in");
    let next = continue_authorization(state, &new_session, &p, now).await?;
    Ok(SignIn::Done { next, session: raw })
}
