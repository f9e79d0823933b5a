//! The steps of the browser flow that several endpoints share: deciding
//! whether consent is already given, and issuing the authorization code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::UnixTime;
use tessera_core::authorize::{self, AuthorizationRequest};
use tessera_core::client::Client;
use tessera_core::grant::CodeGrant;
use tessera_core::scope::Scope;
use tessera_core::secrets::{self, TokenHash};
use tessera_store::{Grant, SecurityEvent, Session};

use crate::error::{OrInternal, WebError};
use crate::state::AppState;

/// How the browser reached us: a redirect answering a POST must be 303 so the
/// browser switches to GET and never re-posts credentials (RFC 9700 §4.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Get,
    Post,
}

pub fn redirect(location: &str, via: Via) -> Response {
    let status = match via {
        Via::Get => StatusCode::FOUND,
        Via::Post => StatusCode::SEE_OTHER,
    };
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = status.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r.headers_mut().insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            r
        }
        Err(_) => WebError::bad_request_page("The return address cannot be used.").into_response(),
    }
}

/// Whether a remembered consent covers this request (docs/conformance.md
/// decisions: per user, client and scope set; for public clients only for
/// the redirect URI that got it, since their identity cannot be assured).
pub async fn consent_covers(
    state: &AppState,
    user_id: &str,
    client: &Client,
    request: &AuthorizationRequest,
) -> Result<bool, WebError> {
    if request.prompt.consent {
        return Ok(false);
    }
    let consent = state
        .store
        .consent(user_id, &client.client_id)
        .await
        .or_page()?;
    Ok(consent.is_some_and(|c| {
        request.scope.is_subset(&c.scope)
            && (!client.is_public()
                || c.redirect_uri.as_deref() == Some(request.redirect.uri.as_str()))
    }))
}

/// After login, or for an already logged-in user: issue the code if consent
/// is remembered, otherwise go to the consent page.
pub async fn continue_authorization(
    state: &AppState,
    session: &Session,
    request_id: &str,
    request: &AuthorizationRequest,
    client: &Client,
    via: Via,
) -> Result<Response, WebError> {
    let (Some(user_id), Some(auth_time)) = (session.user_id.as_deref(), session.auth_time) else {
        return Err(WebError::forbidden_page("You are not signed in."));
    };
    if !request.accepts_login_at(auth_time) {
        return Ok(login_again(state, request_id, via));
    }
    if consent_covers(state, user_id, client, request).await? {
        if !state
            .store
            .take_authorization_request(request_id, &session.id_hash)
            .await
            .or_page()?
        {
            return Err(already_answered());
        }
        let location = issue_code(state, request, user_id, auth_time, &request.scope).await?;
        return Ok(redirect(&location, via));
    }
    Ok(redirect(
        &format!("{}/consent?request={request_id}", state.config.base_path()),
        via,
    ))
}

/// The login page for the pending request `request_id`: the first login,
/// or a newer one when the session's login is too old for the request
/// (`prompt=login`, `max_age`), whichever page was asked for.
pub fn login_again(state: &AppState, request_id: &str, via: Via) -> Response {
    redirect(
        &format!("{}/login?request={request_id}", state.config.base_path()),
        via,
    )
}

pub fn already_answered() -> WebError {
    WebError::bad_request_page(
        "This request was already answered. Go back to the application and start again.",
    )
}

/// Stores a new grant and its code; returns the `Location` back to the client.
pub async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    user_id: &str,
    auth_time: UnixTime,
    scope: &Scope,
) -> Result<String, WebError> {
    let now = state.now();
    let grant_id = secrets::new_id(state.rng.as_ref()).or_page()?;
    let code = secrets::new_opaque_token(state.rng.as_ref()).or_page()?;
    let grant = Grant {
        grant_id: grant_id.clone(),
        client_id: request.client_id.clone(),
        user_id: user_id.to_owned(),
        scope: scope.clone(),
        audience: request.audience.clone(),
        auth_time,
        created_at: now,
        revoked_at: None,
    };
    let code_grant = CodeGrant {
        grant_id,
        client_id: request.client_id.clone(),
        user_id: user_id.to_owned(),
        redirect_uri: request.redirect.uri.clone(),
        redirect_uri_explicit: request.redirect.explicit,
        scope: scope.clone(),
        audience: request.audience.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        auth_time,
        issued_at: now,
        expires_at: now + state.config.lifetimes.authorization_code,
    };
    if let Some(challenge) = &request.code_challenge {
        note_constant_challenge(state, &request.client_id, challenge.as_str(), now).await;
    }
    // Committed before the redirect leaves: a crash never loses a code the
    // client was given.
    state
        .store
        .issue_code(&grant, &TokenHash::of(code.expose()), &code_grant)
        .await
        .or_page()?;
    Ok(authorize::success_location(
        &request.redirect,
        code.expose(),
        state.config.issuer(),
    ))
}

/// RFC 9700 §2.1.1 encourages detecting a constant PKCE challenge (a client
/// that does not make a fresh verifier per request). Recorded, not refused
/// (docs/conformance.md decision on item 46).
async fn note_constant_challenge(
    state: &AppState,
    client_id: &str,
    challenge: &str,
    now: UnixTime,
) {
    match state
        .store
        .code_challenge_seen(client_id, challenge, now - 24 * 3600)
        .await
    {
        Ok(true) => {
            tracing::warn!(
                client_id,
                "client reused a PKCE code_challenge within 24 hours"
            );
            record_event(
                state,
                "constant_pkce_challenge",
                Some(client_id),
                None,
                None,
                "the client sent a code_challenge it already used in the last 24 hours",
            )
            .await;
        }
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, "constant-challenge check failed"),
    }
}

/// Records a security event; a failure to record is logged, never fatal.
pub async fn record_event(
    state: &AppState,
    kind: &str,
    client_id: Option<&str>,
    user_id: Option<&str>,
    grant_id: Option<&str>,
    detail: &str,
) {
    let event = SecurityEvent {
        at: state.now(),
        kind: kind.to_owned(),
        client_id: client_id.map(str::to_owned),
        user_id: user_id.map(str::to_owned),
        grant_id: grant_id.map(str::to_owned),
        detail: detail.to_owned(),
    };
    if let Err(e) = state.store.record_security_event(&event).await {
        tracing::error!(error = %e, kind, "could not record a security event");
    }
}
