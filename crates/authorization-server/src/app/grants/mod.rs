//! The token endpoint's use case: one request, one grant (RFC 6749 §3.2,
//! §4.1.3, §4.4, §6; RFC 8707 §2.2). The time is the one read when the
//! request was received; every rule is the core's; the store calls are here.

mod client_credentials;
mod code;
mod mint;
mod refresh;

use tessera_core::UnixTime;
use tessera_core::client::{Client, GrantType};
use tessera_core::error::OAuthError;
use tessera_core::params::Params;
use tessera_core::token_request::{self, GrantRequest};

use std::net::IpAddr;

use tessera_core::error::ErrorCode;

use super::{AppError, budgets};
use crate::state::AppState;

/// What the token endpoint hands out (RFC 6749 §5.1).
#[derive(Debug)]
pub struct Issued {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub scope: String,
    pub id_token: Option<String>,
}

/// Answers the token request `params` of the authenticated `client`, sent
/// from `source` and received at `now`. Refused grants (`invalid_grant`:
/// an unknown, expired or replayed code or refresh token) spend the
/// client's failure budget from that address; once it is spent its grant
/// requests from there are answered 429 until it refills, so nobody can
/// try codes or tokens at speed.
pub async fn exchange(
    state: &AppState,
    client: &Client,
    params: &Params,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<Issued, AppError> {
    budgets::grant_allowed(state, client, source, now).await?;
    let outcome = grant(state, client, params, source, now).await;
    if let Err(AppError::OAuth(e)) = &outcome
        && e.code == ErrorCode::InvalidGrant
    {
        budgets::grant_refused(state, client, source, now);
    }
    outcome
}

async fn grant(
    state: &AppState,
    client: &Client,
    params: &Params,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<Issued, AppError> {
    let resource = params.single("resource").map_err(OAuthError::from)?;
    match token_request::grant_request(params)? {
        GrantRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            client.require(GrantType::AuthorizationCode)?;
            let redemption = code::Redemption {
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier: code_verifier.as_deref(),
                resource,
                source,
            };
            code::redeem(state, client, &redemption, now).await
        }
        GrantRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            client.require(GrantType::RefreshToken)?;
            refresh::rotate(
                state,
                client,
                &refresh_token,
                scope.as_ref(),
                resource,
                source,
                now,
            )
            .await
        }
        GrantRequest::ClientCredentials { scope } => {
            client.require(GrantType::ClientCredentials)?;
            client_credentials::issue(state, client, scope, resource, now).await
        }
    }
}
