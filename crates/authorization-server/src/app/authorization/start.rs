//! `/authorize`: the front-channel start of the dance. Validation runs in
//! the core's two steps: until the client and the redirect URI are trusted
//! every error is a page, never a redirect (RFC 6749 §4.1.2.1); after that,
//! errors go back to the client with `state` and `iss`.

use tessera_core::UnixTime;
use tessera_core::authorize::{self, AuthorizationRequest, RedirectError};
use tessera_core::client::Client;
use tessera_core::error::{ErrorCode, OAuthError};
use tessera_core::params::Params;
use tessera_core::secrets::{self, SecretString};

use std::net::IpAddr;

use super::{Next, Pending, consent, continue_authorization, issue};
use crate::app::budgets;
use crate::app::error::{AppError, FlowRefusal, OrUnavailable};
use crate::id_tokens;
use crate::session;
use crate::state::AppState;

/// Where the browser goes, and the cookie of a session made for it.
#[derive(Debug)]
pub struct Started {
    pub next: Next,
    /// A new (anonymous) session the request was parked in.
    pub new_session: Option<SecretString>,
}

impl Started {
    fn to_client(location: String) -> Self {
        Self {
            next: Next::Client(location),
            new_session: None,
        }
    }
}

/// Answers an authorization request `params` from the browser whose
/// session cookie is `cookie`, at `source`.
pub async fn start(
    state: &AppState,
    params: &Params,
    cookie: Option<&str>,
    source: Option<IpAddr>,
) -> Result<Started, AppError> {
    let now = state.now();
    // 1. Who is asking, and where may the answer go?
    let client_id = authorize::identify_client(params).map_err(FlowRefusal::from)?;
    let client = state
        .store
        .client(client_id)
        .await
        .or_unavailable()?
        .ok_or(FlowRefusal::Untrusted(
            authorize::UntrustedRequest::UnknownClient,
        ))?;
    let redirect = authorize::trust_redirect(params, &client).map_err(FlowRefusal::from)?;

    // 2. Everything else is answered at the trusted redirect URI.
    let issuer = state.config.issuer();
    let validated = match authorize::validate(params, &client, redirect) {
        Ok(v) => v,
        Err(e) => return Ok(Started::to_client(e.location(issuer))),
    };
    // RFC 8707: the resource decides the audience; an unknown one is
    // `invalid_target`, answered at the redirect URI like any other error.
    let registered = match validated.resource() {
        Some(id) => state.store.resource(id).await.or_unavailable()?,
        None => None,
    };
    let session = session::find(state, cookie, now).await.or_unavailable()?;
    let request = match validated.decide(
        registered.as_ref(),
        &state.config.default_audience,
        now,
        session.as_ref().map(|s| &s.id_hash),
    ) {
        Ok(r) => r,
        Err(e) => return Ok(Started::to_client(e.location(issuer))),
    };
    let signed_in = session
        .as_ref()
        .and_then(|s| match (&s.user_id, s.auth_time) {
            (Some(user), Some(auth_time)) if request.accepts_login(auth_time, &s.id_hash) => {
                Some((user.clone(), auth_time))
            }
            _ => None,
        });

    if request.prompt.none {
        return without_pages(state, &client, &request, signed_in, source, now)
            .await
            .map(Started::to_client);
    }

    // Park the validated request, bound to this browser session. A browser
    // that has not signed in spends the anonymous budgets first (per
    // address and per node), so anonymous traffic makes a bounded number
    // of short-lived rows: its session lasts only as long as the request
    // (signing in makes a new one).
    if session.as_ref().and_then(|s| s.user_id.as_ref()).is_none() {
        budgets::anonymous_authorization(state, source, now).await?;
    }
    let (session, new_session) = match session {
        Some(s) => (s, None),
        None => {
            let (raw, s) = session::new_session(state, None, now).or_unavailable()?;
            state.store.create_session(&s).await.or_unavailable()?;
            (s, Some(raw))
        }
    };
    let request_id = secrets::new_id(state.rng.as_ref()).or_unavailable()?;
    state
        .store
        .save_authorization_request(
            &request_id,
            &session.id_hash,
            &request,
            now + state.config.authorization_request_ttl,
        )
        .await
        .or_unavailable()?;
    let next = if signed_in.is_some() {
        let parked = Pending {
            session,
            request_id,
            request,
            client,
        };
        continue_authorization(state, &parked.session, &parked, source, now).await?
    } else {
        Next::Login(request_id)
    };
    Ok(Started { next, new_session })
}

/// `prompt=none`: answered without any page (OIDC Core §3.1.2.6), with the
/// code, or with `login_required` / `consent_required` at the redirect URI.
async fn without_pages(
    state: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
    signed_in: Option<(String, UnixTime)>,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<String, AppError> {
    let refuse = |code: ErrorCode, description: &'static str| {
        RedirectError {
            redirect: request.redirect.clone(),
            error: OAuthError::new(code, description),
        }
        .location(state.config.issuer())
    };
    let Some((user_id, auth_time)) = signed_in else {
        return Ok(refuse(
            ErrorCode::LoginRequired,
            "the user is not signed in",
        ));
    };
    // OIDC Core §3.1.2.2: the hint must be an ID token we issued, and name
    // the signed-in user; otherwise the user would have to log in.
    if let Some(hint) = &request.id_token_hint {
        match id_tokens::verify_own_id_token(state, hint, now) {
            None => {
                return Ok(refuse(
                    ErrorCode::InvalidRequest,
                    "id_token_hint is not an ID token issued here",
                ));
            }
            Some(claims) if claims.sub != user_id => {
                return Ok(refuse(
                    ErrorCode::LoginRequired,
                    "the signed-in user is not the one the id_token_hint names",
                ));
            }
            Some(_) => {}
        }
    }
    if !consent::remembered_covers(state, &user_id, client, request).await? {
        return Ok(refuse(
            ErrorCode::ConsentRequired,
            "the user has not consented to this request",
        ));
    }
    issue::code(
        state,
        request,
        &user_id,
        auth_time,
        &request.scope,
        source,
        now,
    )
    .await
}
