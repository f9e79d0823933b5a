//! Token revocation (RFC 7009). Revoking a refresh token revokes its grant:
//! the whole family, and every access token of the grant becomes inactive.
//! Revoking an access token puts its `jti` on the deny list until it
//! expires. A token of another client is left alone (answered as success
//! all the same, docs/conformance.md decision on item 61), as are unknown tokens
//! (§2.2). A storage failure is an error, never a success (fosite
//! CVE-2020-15223).

use tessera_core::UnixTime;
use tessera_core::client::Client;

use super::error::{AppError, OrUnavailable};
use crate::state::AppState;
use crate::tokens::{self, FoundToken, Hint};

pub async fn revoke(
    state: &AppState,
    client: &Client,
    token: &str,
    hint: Hint,
    now: UnixTime,
) -> Result<(), AppError> {
    match tokens::find(state, token, hint, now)
        .await
        .or_unavailable()?
    {
        None => {}
        Some(FoundToken::Refresh { record, .. }) => {
            if record.client_id == client.client_id {
                state
                    .store
                    .revoke_grant(&record.grant_id, now, "refresh token revoked by the client")
                    .await
                    .or_unavailable()?;
                tracing::info!(client_id = %client.client_id, "refresh token revoked; its grant is revoked");
            } else {
                tracing::warn!(client_id = %client.client_id, "a client tried to revoke another client's refresh token");
            }
        }
        Some(FoundToken::Access(status)) => {
            if status.record.client_id == client.client_id {
                state
                    .store
                    .revoke_access_token(&status.record.jti, now)
                    .await
                    .or_unavailable()?;
                tracing::info!(client_id = %client.client_id, "access token revoked");
            } else {
                tracing::warn!(client_id = %client.client_id, "a client tried to revoke another client's access token");
            }
        }
    }
    Ok(())
}
