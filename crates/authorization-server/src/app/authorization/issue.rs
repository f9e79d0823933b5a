//! Issuing the authorization code: a new grant and the code's hash, stored
//! before the redirect leaves (a crash never loses a code the client was
//! given).

use std::net::IpAddr;

use tessera_core::UnixTime;
use tessera_core::authorize::{self, AuthorizationRequest};
use tessera_core::grant::CodeGrant;
use tessera_core::scope::Scope;
use tessera_core::secrets::{self, TokenHash};
use tessera_store::Grant;

use crate::app::error::{AppError, OrUnavailable};
use crate::app::events::{self, About, Kind};
use crate::state::AppState;

/// Stores a new grant of `scope` and its code; returns the `Location` back
/// to the client.
pub async fn code(
    state: &AppState,
    request: &AuthorizationRequest,
    user_id: &str,
    auth_time: UnixTime,
    scope: &Scope,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<String, AppError> {
    let grant_id = secrets::new_id(state.rng.as_ref()).or_unavailable()?;
    let code = secrets::new_opaque_token(state.rng.as_ref()).or_unavailable()?;
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
        note_constant_challenge(state, &request.client_id, challenge.as_str(), source, now).await;
    }
    state
        .store
        .issue_code(&grant, &TokenHash::of(code.expose()), &code_grant)
        .await
        .or_unavailable()?;
    events::record(
        state,
        now,
        Kind::CodeIssued,
        About {
            client_id: Some(&request.client_id),
            user_id: Some(user_id),
            grant_id: Some(&grant.grant_id),
            source,
        },
        &format!("an authorization code for scope {scope}"),
    )
    .await;
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
    source: Option<IpAddr>,
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
            events::record(
                state,
                now,
                Kind::ConstantPkceChallenge,
                About {
                    client_id: Some(client_id),
                    source,
                    ..About::default()
                },
                "the client sent a code_challenge it already used in the last 24 hours",
            )
            .await;
        }
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, "constant-challenge check failed"),
    }
}
