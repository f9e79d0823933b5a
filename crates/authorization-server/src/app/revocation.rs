//! Token revocation (RFC 7009). Revoking a refresh token revokes its grant:
//! the whole family, and every access token of the grant becomes inactive.
//! Revoking an access token puts its `jti` on the deny list until it
//! expires. A token of another client is left alone (answered as success
//! all the same, docs/conformance.md decision on item 61), as are unknown tokens
//! (§2.2). A storage failure is an error, never a success (fosite
//! CVE-2020-15223).

use std::net::IpAddr;

use tessera_core::UnixTime;
use tessera_core::client::Client;

use super::error::{AppError, OrUnavailable};
use super::events::{self, About, Kind};
use crate::state::AppState;
use crate::tokens::{self, FoundToken, Hint};

pub async fn revoke(
    state: &AppState,
    client: &Client,
    token: &str,
    hint: Hint,
    source: Option<IpAddr>,
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
                events::record(
                    state,
                    now,
                    Kind::TokenRevoked,
                    About {
                        client_id: Some(&client.client_id),
                        user_id: Some(&record.user_id),
                        grant_id: Some(&record.grant_id),
                        source,
                    },
                    "the client revoked a refresh token; its grant and every token of it are revoked",
                )
                .await;
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
                events::record(
                    state,
                    now,
                    Kind::TokenRevoked,
                    About {
                        client_id: Some(&client.client_id),
                        grant_id: status.record.grant_id.as_deref(),
                        source,
                        ..About::default()
                    },
                    "the client revoked an access token",
                )
                .await;
            } else {
                tracing::warn!(client_id = %client.client_id, "a client tried to revoke another client's access token");
            }
        }
    }
    Ok(())
}
