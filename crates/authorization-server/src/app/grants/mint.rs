//! Minting what one token response carries: the access token, the ID token
//! when the grant has `openid`, and a new refresh token.

use tessera_core::UnixTime;
use tessera_core::client::Client;
use tessera_core::id_token;
use tessera_core::scope::Scope;
use tessera_core::secrets::{self, SecretString, TokenHash};
use tessera_store::{AccessTokenRecord, NewRefreshToken};

use super::Issued;
use crate::app::error::{AppError, OrUnavailable};
use crate::id_tokens::{IdTokenRequest, mint_id_token};
use crate::state::AppState;
use crate::tokens::{AccessTokenRequest, mint_access_token};

/// A signed (or opaque) access token and the record to store before it is
/// handed out.
pub fn access_token(
    state: &AppState,
    request: &AccessTokenRequest<'_>,
    now: UnixTime,
) -> Result<(String, AccessTokenRecord), AppError> {
    mint_access_token(state, request, now).or_unavailable()
}

/// An ID token when the grant's scope has `openid` (OIDC Core §3.1.3.3).
pub fn id_token_for(
    state: &AppState,
    scope: &Scope,
    request: &IdTokenRequest<'_>,
    now: UnixTime,
) -> Result<Option<String>, AppError> {
    if !id_token::wants_id_token(scope) {
        return Ok(None);
    }
    mint_id_token(state, request, now)
        .or_unavailable()
        .map(Some)
}

/// A new refresh token of `grant_id`: the token, the hash it is stored
/// under, and its record.
pub fn refresh_token(
    state: &AppState,
    grant_id: &str,
    client: &Client,
    now: UnixTime,
    (idle_expires_at, absolute_expires_at): (UnixTime, UnixTime),
) -> Result<(SecretString, TokenHash, NewRefreshToken), AppError> {
    let token = secrets::new_opaque_token(state.rng.as_ref()).or_unavailable()?;
    let hash = TokenHash::of(token.expose());
    let record = NewRefreshToken {
        grant_id: grant_id.to_owned(),
        client_id: client.client_id.clone(),
        issued_at: now,
        idle_expires_at,
        absolute_expires_at,
    };
    Ok((token, hash, record))
}

/// The answer for tokens issued now, with the full access-token lifetime.
pub fn issued(
    state: &AppState,
    access_token: String,
    refresh_token: Option<&SecretString>,
    scope: &Scope,
    id_token: Option<String>,
) -> Issued {
    Issued {
        access_token,
        expires_in: state.config.lifetimes.access_token,
        refresh_token: refresh_token.map(|t| t.expose().to_owned()),
        scope: scope.to_string(),
        id_token,
    }
}
