//! Token introspection (RFC 7662). Only confidential clients registered with
//! the `introspect` permission may call it (§2.1: prevents token scanning).
//! A caller sees a token as active only if it was issued to it, or for the
//! resource it serves; anything else, like anything expired, revoked,
//! unknown or malformed, is inactive (§2.2).

use tessera_core::UnixTime;
use tessera_core::client::Client;
use tessera_core::error::OAuthError;
use tessera_core::grant::RefreshTokenRecord;
use tessera_store::AccessTokenRecord;

use super::error::{AppError, OrUnavailable};
use super::token_status;
use crate::state::AppState;
use crate::tokens::{self, FoundToken, Hint};

/// What introspection may say about a token.
#[derive(Debug)]
pub enum Introspected {
    Inactive,
    Access(AccessTokenRecord),
    Refresh(RefreshTokenRecord),
}

/// Whether `caller` may learn about a token of `client_id` for `audience`.
fn visible(caller: &Client, client_id: &str, audience: &str) -> bool {
    caller.client_id == client_id || caller.resource.as_deref() == Some(audience)
}

pub async fn introspect(
    state: &AppState,
    caller: &Client,
    token: &str,
    hint: Hint,
    now: UnixTime,
) -> Result<Introspected, AppError> {
    if caller.is_public() || !caller.introspect {
        return Err(AppError::Forbidden(OAuthError::unauthorized_client(
            "this client is not allowed to introspect tokens",
        )));
    }
    Ok(
        match tokens::find(state, token, hint, now)
            .await
            .or_unavailable()?
        {
            Some(FoundToken::Access(a))
                if token_status::access_token_active(&a, now)
                    && visible(caller, &a.record.client_id, &a.record.audience) =>
            {
                Introspected::Access(a.record)
            }
            Some(FoundToken::Refresh { record, .. })
                if token_status::refresh_token_active(&record, now)
                    && visible(caller, &record.client_id, &record.audience) =>
            {
                Introspected::Refresh(record)
            }
            _ => Introspected::Inactive,
        },
    )
}
