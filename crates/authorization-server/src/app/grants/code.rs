//! Redeeming an authorization code (RFC 6749 §4.1.3, §10.5; RFC 7636 §4.6).
//! Only the code's own client can consume it (another client's attempt
//! changes nothing, so no client can burn or revoke another's code); the code
//! is consumed before the other checks, so a failed check burns it; a second
//! redemption by its client revokes the grant and every token issued from it.

use std::net::IpAddr;

use tessera_core::UnixTime;
use tessera_core::client::{Client, GrantType};
use tessera_core::error::OAuthError;
use tessera_core::grant;
use tessera_core::secrets::{SecretString, TokenHash};
use tessera_store::CodeConsumption;

use super::{Issued, mint};
use crate::app::error::{AppError, OrUnavailable};
use crate::app::events::{self, About, Kind};
use crate::id_tokens::IdTokenRequest;
use crate::state::AppState;
use crate::tokens::AccessTokenRequest;

const CODE_INVALID: &str = "the authorization code is invalid, expired or already used";

/// The parameters of a code redemption.
#[derive(Debug)]
pub struct Redemption<'a> {
    pub code: &'a SecretString,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub resource: Option<&'a str>,
    /// Where the request came from, for the audit trail.
    pub source: Option<IpAddr>,
}

pub async fn redeem(
    state: &AppState,
    client: &Client,
    r: &Redemption<'_>,
    now: UnixTime,
) -> Result<Issued, AppError> {
    let code_grant = match state
        .store
        .consume_code(&TokenHash::of(r.code.expose()), &client.client_id, now)
        .await
        .or_unavailable()?
    {
        CodeConsumption::Unknown => return Err(OAuthError::invalid_grant(CODE_INVALID).into()),
        CodeConsumption::OtherClient => {
            // Answered as an unknown code: the presenter learns nothing.
            tracing::warn!(client_id = %client.client_id, "a client presented another client's authorization code; nothing was consumed or revoked");
            events::record(
                state,
                now,
                Kind::CodeOfAnotherClient,
                About {
                    client_id: Some(&client.client_id),
                    source: r.source,
                    ..About::default()
                },
                "a client presented an authorization code issued to another client; it was left untouched",
            )
            .await;
            return Err(OAuthError::invalid_grant(CODE_INVALID).into());
        }
        CodeConsumption::AlreadyUsed { grant_id } => {
            // RFC 6749 §4.1.2: a code used twice was stolen or replayed; the
            // tokens issued from it are revoked.
            state
                .store
                .revoke_grant(&grant_id, now, "authorization code replayed")
                .await
                .or_unavailable()?;
            tracing::warn!(client_id = %client.client_id, "authorization code replayed; its grant is revoked");
            events::record(
                state,
                now,
                Kind::CodeReplayed,
                About {
                    client_id: Some(&client.client_id),
                    grant_id: Some(&grant_id),
                    source: r.source,
                    ..About::default()
                },
                "an authorization code was redeemed twice; every token issued from it was revoked",
            )
            .await;
            return Err(OAuthError::invalid_grant(CODE_INVALID).into());
        }
        CodeConsumption::Consumed(c) => c,
    };
    grant::check_code_redemption(
        &code_grant,
        &client.client_id,
        r.redirect_uri,
        r.code_verifier,
        now,
    )?;
    tessera_core::resource::check_resource(r.resource, &code_grant.audience)?;
    let live = state
        .store
        .grant(&code_grant.grant_id)
        .await
        .or_unavailable()?
        .is_some_and(|g| g.revoked_at.is_none());
    if !live {
        return Err(OAuthError::invalid_grant(CODE_INVALID).into());
    }

    let (access_token, access) = mint::access_token(
        state,
        &AccessTokenRequest {
            client,
            subject: &code_grant.user_id,
            grant_id: Some(&code_grant.grant_id),
            scope: &code_grant.scope,
            audience: &code_grant.audience,
            auth_time: Some(code_grant.auth_time),
        },
        now,
    )?;
    let id_token = mint::id_token_for(
        state,
        &code_grant.scope,
        &IdTokenRequest {
            client,
            subject: &code_grant.user_id,
            auth_time: code_grant.auth_time,
            nonce: code_grant.nonce.as_deref(),
            access_token: &access_token,
        },
        now,
    )?;
    let refresh = if client.allows(GrantType::RefreshToken) {
        let expiry = grant::refresh_expiry(&state.config.lifetimes, now, now);
        Some(mint::refresh_token(
            state,
            &code_grant.grant_id,
            client,
            now,
            expiry,
        )?)
    } else {
        None
    };
    // Stored before the answer leaves: a crash never loses a token the
    // client was given.
    state
        .store
        .issue_tokens(&access, refresh.as_ref().map(|(_, h, r)| (h, r)))
        .await
        .or_unavailable()?;
    events::record(
        state,
        now,
        Kind::CodeRedeemed,
        About {
            client_id: Some(&client.client_id),
            user_id: Some(&code_grant.user_id),
            grant_id: Some(&code_grant.grant_id),
            source: r.source,
        },
        &format!("tokens issued for scope {}", code_grant.scope),
    )
    .await;
    Ok(mint::issued(
        state,
        access_token,
        refresh.as_ref().map(|(t, _, _)| t),
        &code_grant.scope,
        id_token,
    ))
}
