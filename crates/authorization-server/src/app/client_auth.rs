//! Client authentication at the back-channel endpoints (token, revocation,
//! introspection): RFC 6749 §2.3, with brute-force protection.

use std::net::IpAddr;

use tessera_core::UnixTime;
use tessera_core::client::Client;
use tessera_core::error::OAuthError;
use tessera_core::token_request::{AuthenticationError, ClientAuthentication};

use super::error::{AppError, OrUnavailable};
use super::events::{self, About};
use crate::brute_force::attempt_key;
use crate::state::AppState;

/// Checks `credentials`, sent from `peer` at `now`, for an endpoint that
/// accepts the methods `allowed` (the list its metadata advertises). After
/// too many failures the client is locked out from that address for a while.
pub async fn authenticate(
    state: &AppState,
    credentials: &ClientAuthentication,
    allowed: &[&str],
    peer: Option<IpAddr>,
    now: UnixTime,
) -> Result<Client, AppError> {
    let client_id = credentials.client_id();
    let key = attempt_key(client_id, peer);
    if let Err(retry_after) = state.brute_force.check(&key, now) {
        return Err(AppError::LockedOut { retry_after });
    }
    let client = state.store.client(client_id).await.or_unavailable()?;
    let authenticated = match (&client, credentials) {
        (
            Some(c),
            ClientAuthentication::Basic { secret, .. } | ClientAuthentication::Post { secret, .. },
        ) => c
            .secret_hash
            .as_deref()
            .is_some_and(|stored| state.client_secrets.verify(secret.expose(), stored)),
        (Some(c), ClientAuthentication::None { .. }) => c.is_public(),
        (None, _) => false,
    };
    match client {
        Some(c) if authenticated => {
            state.brute_force.record_success(&key);
            if !credentials.is_one_of(allowed) {
                // Metadata and enforcement read the same list.
                return Err(AppError::Forbidden(OAuthError::unauthorized_client(
                    "this client's authentication method is not accepted at this endpoint",
                )));
            }
            Ok(c)
        }
        _ => {
            if state.brute_force.record_failure(&key, now) {
                tracing::warn!(
                    client_id,
                    "client locked out after repeated authentication failures"
                );
                events::record(
                    state,
                    now,
                    "client_authentication_lockout",
                    About {
                        client_id: Some(client_id),
                        ..About::default()
                    },
                    "too many failed client authentications; the client is locked out for a while",
                )
                .await;
            }
            Err(AuthenticationError::invalid_client(
                "client authentication failed",
                credentials.used_basic(),
            )
            .into())
        }
    }
}
