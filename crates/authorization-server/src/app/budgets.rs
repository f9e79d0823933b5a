//! The endpoint budgets at work (the buckets are [`crate::budgets`]): which
//! budget a request spends, what a spent budget answers, and the one log
//! line and security event when a key starts being refused.

use std::net::IpAddr;

use tessera_core::UnixTime;
use tessera_core::client::Client;

use super::error::AppError;
use super::events::{self, About, Kind};
use crate::budgets::{Spent, address_key};
use crate::state::AppState;

/// The back channel, before client authentication: one request from
/// `source` (counted even when authentication then fails).
pub async fn before_authentication(
    state: &AppState,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<(), AppError> {
    let Some(ip) = source else {
        return Ok(());
    };
    let spent = state
        .budgets
        .back_channel_per_address
        .take(&address_key(ip), now);
    let about = About {
        source: Some(ip),
        ..About::default()
    };
    refuse_if_spent(state, spent, now, "back_channel_per_address", about).await
}

/// The back channel, once `client` is authenticated: one request by it.
pub async fn after_authentication(
    state: &AppState,
    client: &Client,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<(), AppError> {
    let spent = state
        .budgets
        .back_channel_per_client
        .take(&client.client_id, now);
    let about = About {
        source,
        ..about(client)
    };
    refuse_if_spent(state, spent, now, "back_channel_per_client", about).await
}

/// Before a grant: whether `client` from `source` may still have grants
/// refused (its failure budget is not spent).
pub async fn grant_allowed(
    state: &AppState,
    client: &Client,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<(), AppError> {
    let key = (client.client_id.clone(), source.map(address_key));
    let spent = state.budgets.grant_failures.check(&key, now);
    let about = About {
        source,
        ..about(client)
    };
    refuse_if_spent(state, spent, now, "grant_failures", about).await
}

/// After a refused grant (`invalid_grant`): spends one of the failure
/// budget of `client` from `source`.
pub fn grant_refused(state: &AppState, client: &Client, source: Option<IpAddr>, now: UnixTime) {
    let key = (client.client_id.clone(), source.map(address_key));
    // Spent now or not, this request has its answer already; the next one
    // is refused by `grant_allowed`.
    let _ = state.budgets.grant_failures.take(&key, now);
}

/// Before parking an authorization request for a browser that is not
/// signed in: one from `source`, and one of the node's total.
pub async fn anonymous_authorization(
    state: &AppState,
    source: Option<IpAddr>,
    now: UnixTime,
) -> Result<(), AppError> {
    if let Some(ip) = source {
        let spent = state
            .budgets
            .anonymous_per_address
            .take(&address_key(ip), now);
        refuse_if_spent(
            state,
            spent,
            now,
            "anonymous_authorizations_per_address",
            About {
                source: Some(ip),
                ..About::default()
            },
        )
        .await?;
    }
    let spent = state.budgets.anonymous_total.take(&(), now);
    let about = About {
        source,
        ..About::default()
    };
    refuse_if_spent(state, spent, now, "anonymous_authorizations_total", about).await
}

fn about(client: &Client) -> About<'_> {
    About {
        client_id: Some(&client.client_id),
        ..About::default()
    }
}

/// `Ok` when nothing is spent; otherwise [`AppError::OverBudget`], with a
/// log line and a `rate_limited` security event the first time a key is
/// refused (not for every refused request: a flood stays one write).
async fn refuse_if_spent(
    state: &AppState,
    spent: Result<(), Spent>,
    now: UnixTime,
    budget: &'static str,
    subject: About<'_>,
) -> Result<(), AppError> {
    let Err(Spent { retry_after, first }) = spent else {
        return Ok(());
    };
    if first {
        tracing::warn!(
            budget,
            client_id = subject.client_id,
            retry_after,
            "a budget is spent: requests are refused with 429 for a while"
        );
        events::record(
            state,
            now,
            Kind::RateLimited,
            subject,
            &format!("the {budget} budget is spent; refused for about {retry_after} s"),
        )
        .await;
    }
    Err(AppError::OverBudget { retry_after })
}
