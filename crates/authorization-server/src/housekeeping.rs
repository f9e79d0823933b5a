//! Removing what has expired: codes, refresh and access tokens (the deny
//! list included), sessions, pending requests, retry copies whose window
//! has passed, and audit events older than the retention. The reads already ignore expired rows; this keeps the tables
//! from growing without bound.
//!
//! Every node runs the task; the store makes sure only one purges at a time
//! (a PostgreSQL advisory lock; SQLite has one node).

use std::time::Duration;

use crate::state::AppState;

/// Rows per statement: short statements, short locks.
pub const BATCH: u32 = 1000;

/// One pass. Failures are logged and retried at the next pass.
pub async fn run_once(state: &AppState) {
    let now = state.now();
    match state.store.purge_expired(now, BATCH).await {
        Ok(Some(report)) => {
            if report.total() > 0 {
                tracing::info!(?report, "housekeeping removed expired rows");
            }
            purge_audit_trail(state, now).await;
        }
        Ok(None) => tracing::debug!("housekeeping skipped: another node is running it"),
        Err(e) => tracing::warn!(error = %e, "housekeeping failed; retrying at the next pass"),
    }
}

/// Runs a pass every `interval`, forever (the caller aborts it).
pub async fn run(state: AppState, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        run_once(&state).await;
    }
}

/// Audit events older than the retention go (the node that won this pass's
/// lock does it; deleting the same old rows twice would be harmless).
async fn purge_audit_trail(state: &AppState, now: tessera_core::UnixTime) {
    let Some(retention) = state.config.audit_retention_secs else {
        return;
    };
    match state
        .store
        .purge_security_events(now.saturating_sub(retention), BATCH)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            events = n,
            "housekeeping removed audit events past their retention"
        ),
        Err(e) => tracing::warn!(error = %e, "audit retention failed; retrying at the next pass"),
    }
}
