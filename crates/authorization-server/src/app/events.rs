//! Security events: what an operator must be able to find afterwards (a
//! replayed code, a reused refresh token, a lockout). Written through the
//! store by the use cases that detect them, on any channel.

use tessera_core::UnixTime;
use tessera_store::SecurityEvent;

use crate::state::AppState;

/// The subject of a security event.
#[derive(Debug, Clone, Copy, Default)]
pub struct About<'a> {
    pub client_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub grant_id: Option<&'a str>,
}

/// Records a security event at `at`; a failure to record is logged, never
/// fatal (the request it is about has been answered or refused already).
pub async fn record(state: &AppState, at: UnixTime, kind: &str, about: About<'_>, detail: &str) {
    let event = SecurityEvent {
        at,
        kind: kind.to_owned(),
        client_id: about.client_id.map(str::to_owned),
        user_id: about.user_id.map(str::to_owned),
        grant_id: about.grant_id.map(str::to_owned),
        detail: detail.to_owned(),
    };
    if let Err(e) = state.store.record_security_event(&event).await {
        tracing::error!(error = %e, kind, "could not record a security event");
    }
}
