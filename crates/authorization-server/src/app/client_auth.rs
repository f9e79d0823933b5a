//! Client authentication at the back-channel endpoints (token, revocation,
//! introspection): RFC 6749 §2.3, with brute-force protection.

use std::net::IpAddr;

use tessera_core::UnixTime;
use tessera_core::client::Client;
use tessera_core::error::OAuthError;
use tessera_core::token_request::{AuthenticationError, ClientAuthentication};

use super::error::{AppError, OrUnavailable};
use super::events::{self, About, Kind};
use crate::brute_force::attempt_key;
use crate::state::AppState;

/// Checks `credentials`, sent from `peer` at `now`, for an endpoint that
/// accepts the methods `allowed` (the list its metadata advertises).
///
/// After too many failures from one address the client id is locked out
/// *for wrong secrets* from that address for a while: they are answered
/// `429` with `Retry-After`. The right secret is always checked and always
/// accepted, so nobody who guesses wrong (behind the same proxy, or with a
/// spoofed address) can lock the real client out (issue 13: throttle the
/// guesser, not the owner). This costs no protection: every secret is at
/// least 32 characters (generated ones are 256 random bits), so guessing is
/// hopeless either way; the lockout and the endpoint budgets bound what a
/// guesser costs and make it visible.
pub async fn authenticate(
    state: &AppState,
    credentials: &ClientAuthentication,
    allowed: &[&str],
    peer: Option<IpAddr>,
    now: UnixTime,
) -> Result<Client, AppError> {
    let client_id = credentials.client_id();
    let key = attempt_key(client_id, peer);
    let client = state.store.client(client_id).await.or_unavailable()?;
    let outcome = match client {
        None => Err(Refusal::UnknownClient),
        Some(c) => match check_secret(state, &c, credentials) {
            None => Ok(c),
            Some(refusal) => Err(refusal),
        },
    };
    match outcome {
        Ok(c) => {
            // A success does not clear the count: behind one address the
            // owner's success must not hand a guesser a fresh allowance.
            if !credentials.is_one_of(allowed) {
                // Metadata and enforcement read the same list.
                tracing::info!(
                    client_id,
                    method = credentials.method(),
                    "client authentication method not accepted at this endpoint"
                );
                return Err(AppError::Forbidden(OAuthError::unauthorized_client(
                    "this client's authentication method is not accepted at this endpoint",
                )));
            }
            Ok(c)
        }
        Err(refusal) => {
            if let Err(retry_after) = state.brute_force.check(&key, now) {
                return Err(AppError::LockedOut { retry_after });
            }
            let reason = refusal.reason();
            // The client id is what the caller claimed: cut to the longest a
            // registered id can be, so a forged header cannot flood the log.
            let shown: String = client_id.chars().take(255).collect();
            tracing::warn!(
                client_id = %shown.escape_debug(),
                method = credentials.method(),
                peer = ?peer,
                reason,
                "client authentication failed"
            );
            // A made-up client id is a log line only: recording it would let
            // anyone write rows without limit by rotating ids.
            if refusal != Refusal::UnknownClient {
                events::record(
                    state,
                    now,
                    Kind::ClientAuthenticationFailed,
                    About {
                        client_id: Some(&shown),
                        source: peer,
                        ..About::default()
                    },
                    reason,
                )
                .await;
            }
            if state.brute_force.record_failure(&key, now) {
                tracing::warn!(
                    client_id = %shown.escape_debug(),
                    "client locked out after repeated authentication failures"
                );
                events::record(
                    state,
                    now,
                    Kind::ClientAuthenticationLockout,
                    About {
                        client_id: Some(&shown),
                        source: peer,
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

/// Why a client's authentication failed: for the log and the security
/// event, never for the response (which says only `invalid_client`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    UnknownClient,
    WrongSecret,
    SecretFromPublicClient,
    NoSecretFromConfidentialClient,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Self::UnknownClient => "no client has this client_id",
            Self::WrongSecret => "the client secret does not match",
            Self::SecretFromPublicClient => "a secret was sent for a public client, which has none",
            Self::NoSecretFromConfidentialClient => "no secret was sent for a confidential client",
        }
    }
}

/// Checks the secret readings of `credentials` against `client`'s stored
/// keyed hash. Every reading is checked (no early exit), each comparison in
/// constant time, so the time taken does not say which reading matched.
fn check_secret(
    state: &AppState,
    client: &Client,
    credentials: &ClientAuthentication,
) -> Option<Refusal> {
    let readings = credentials.secret_readings();
    match (client.secret_hash.as_deref(), readings.is_empty()) {
        (None, true) => None,
        (None, false) => Some(Refusal::SecretFromPublicClient),
        (Some(_), true) => Some(Refusal::NoSecretFromConfidentialClient),
        (Some(stored), false) => {
            let matched = readings.iter().fold(false, |matched, secret| {
                matched | state.client_secrets.verify(secret.expose(), stored)
            });
            (!matched).then_some(Refusal::WrongSecret)
        }
    }
}
