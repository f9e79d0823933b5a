//! Refreshing (RFC 6749 §6): the token rotates on every use, reuse of a
//! rotated token ends the family (RFC 9700 §4.14.2), except the retry window
//! of its own client (`tessera_core::grant::retry_answer`).

use std::net::IpAddr;

use tessera_core::UnixTime;
use tessera_core::client::Client;
use tessera_core::error::OAuthError;
use tessera_core::grant::{self, RefreshRejection, RefreshTokenRecord, RetryCandidate};
use tessera_core::scope::Scope;
use tessera_core::secrets::{SecretString, TokenHash};
use tessera_store::RefreshRetry;

use super::{Issued, mint};
use crate::app::error::{AppError, OrUnavailable};
use crate::app::events::{self, About, Kind};
use crate::id_tokens::IdTokenRequest;
use crate::refresh_retry::RetryAnswer;
use crate::state::AppState;
use crate::tokens::AccessTokenRequest;

pub async fn rotate(
    state: &AppState,
    client: &Client,
    token: &SecretString,
    requested: Option<&Scope>,
    resource: Option<&str>,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<Issued, AppError> {
    let hash = TokenHash::of(token.expose());
    let record = state
        .store
        .refresh_token(&hash)
        .await
        .or_unavailable()?
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is invalid"))?;
    let scope = match grant::check_refresh(&record, &client.client_id, requested, now) {
        Ok(scope) => scope,
        Err(RefreshRejection::Invalid(e)) => return Err(e.into()),
        // A rotated token again: a retry of its own client inside the
        // window, or reuse (by that client or another), which ends the family.
        Err(RefreshRejection::Reused) => {
            return retry_or_reuse(state, client, &hash, &record, requested, source, now).await;
        }
    };
    tessera_core::resource::check_resource(resource, &record.audience)?;
    let (access_token, access) = mint::access_token(
        state,
        &AccessTokenRequest {
            client,
            subject: &record.user_id,
            grant_id: Some(&record.grant_id),
            scope: &scope,
            audience: &record.audience,
            auth_time: Some(record.auth_time),
        },
        now,
    )?;
    // OIDC Core §12.2: same sub and auth_time, no nonce. Decided by the
    // grant's scope, so a narrowed refresh still gets one.
    let id_token = mint::id_token_for(
        state,
        &record.scope,
        &IdTokenRequest {
            client,
            subject: &record.user_id,
            auth_time: record.auth_time,
            nonce: None,
            access_token: &access_token,
        },
        now,
    )?;
    let expiry = grant::rotated_refresh_expiry(&state.config.lifetimes, &record, now);
    let (new_token, new_hash, new) =
        mint::refresh_token(state, &record.grant_id, client, now, expiry)?;
    let window = state.config.refresh_retry_window_secs;
    let retry = if window > 0 {
        let answer = RetryAnswer {
            access_token: access_token.clone(),
            refresh_token: new_token.expose().to_owned(),
            scope: scope.to_string(),
            issued_at: now,
            id_token: id_token.clone(),
        };
        Some(RefreshRetry {
            until: now.saturating_add(window),
            sealed: state
                .refresh_retry
                .seal(&hash, &answer, state.rng.as_ref())
                .or_unavailable()?,
        })
    } else {
        None
    };
    let rotated = state
        .store
        .rotate_refresh_token(&hash, now, &access, &new_hash, &new, retry.as_ref())
        .await
        .or_unavailable()?;
    if !rotated {
        // Someone else rotated it between our read and our write: a
        // concurrent retry of the same refresh, or a thief.
        return retry_or_reuse(state, client, &hash, &record, requested, source, now).await;
    }
    Ok(mint::issued(
        state,
        access_token,
        Some(&new_token),
        &scope,
        id_token,
    ))
}

/// A rotated refresh token presented again: the kept answer when the core
/// says it is a retry, otherwise reuse, which revokes the family.
async fn retry_or_reuse(
    state: &AppState,
    client: &Client,
    hash: &TokenHash,
    record: &RefreshTokenRecord,
    requested: Option<&Scope>,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<Issued, AppError> {
    let window = state.config.refresh_retry_window_secs;
    if grant::retry_possible(record, &client.client_id, window)
        && let Some(sealed) = state
            .store
            .refresh_retry(hash, now)
            .await
            .or_unavailable()?
    {
        let answer = state.refresh_retry.open(hash, &sealed).or_unavailable()?;
        let kept = RetryCandidate {
            scope: &answer.scope,
            issued_at: answer.issued_at,
        };
        if let Some(expires_in) = grant::retry_answer(
            record,
            &client.client_id,
            requested,
            Some(kept),
            window,
            &state.config.lifetimes,
            now,
        ) {
            tracing::info!(client_id = %client.client_id, "refresh retried within the window; the same pair is returned");
            return Ok(Issued {
                access_token: answer.access_token,
                expires_in,
                refresh_token: Some(answer.refresh_token),
                scope: answer.scope,
                id_token: answer.id_token,
            });
        }
    }
    Err(reuse_detected(state, client, record, source, now).await)
}

/// RFC 9700 §4.14.2: a rotated refresh token presented again means two
/// parties hold it; the whole family is revoked.
async fn reuse_detected(
    state: &AppState,
    client: &Client,
    record: &RefreshTokenRecord,
    source: Option<IpAddr>,
    now: UnixTime,
) -> AppError {
    if let Err(e) = state
        .store
        .revoke_grant(&record.grant_id, now, "refresh token reused")
        .await
    {
        return AppError::from(crate::app::Unavailable(format!(
            "could not revoke a grant after refresh-token reuse: {e}"
        )));
    }
    tracing::warn!(client_id = %client.client_id, "refresh token reused; its family is revoked");
    events::record(
        state,
        now,
        Kind::RefreshTokenReuse,
        About {
            client_id: Some(&client.client_id),
            user_id: Some(&record.user_id),
            grant_id: Some(&record.grant_id),
            source,
        },
        "a rotated refresh token was presented again; the whole token family was revoked",
    )
    .await;
    OAuthError::invalid_grant("the refresh token is invalid").into()
}
