//! The audit trail: every security-relevant event (sign-ins, consent, codes,
//! refresh-token reuse, revocations, lockouts, budget trips, management
//! changes), written by the use case that sees it, as a structured tracing
//! event (target `tessera::audit`; JSON with `log_format = "json"`) and as
//! a row of the append-only `security_events` table with its time, subject
//! (user, client, grant), source address and outcome. Never a secret: the
//! details are sentences written here, with no token, code or password.

use std::net::IpAddr;

use tessera_core::UnixTime;
use tessera_store::{SecurityEvent, Store};

use crate::state::AppState;

/// What happened. The names are the `kind` column and the log's `kind`
/// field; `docs/security.md` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    AccountLocked,
    Logout,
    ConsentGiven,
    ConsentRefused,
    CodeIssued,
    CodeRedeemed,
    CodeReplayed,
    CodeOfAnotherClient,
    ConstantPkceChallenge,
    RefreshTokenReuse,
    TokenRevoked,
    ClientAuthenticationFailed,
    ClientAuthenticationLockout,
    RateLimited,
    ClientRegistered,
    ClientRemoved,
    ResourceRegistered,
    ResourceRemoved,
    UserCreated,
    UserChanged,
    UserRemoved,
    PasswordChanged,
    SigningKeyRotated,
    SigningKeyRetired,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginThrottled => "login_throttled",
            Self::AccountLocked => "account_locked",
            Self::Logout => "logout",
            Self::ConsentGiven => "consent_given",
            Self::ConsentRefused => "consent_refused",
            Self::CodeIssued => "code_issued",
            Self::CodeRedeemed => "code_redeemed",
            Self::CodeReplayed => "authorization_code_replay",
            Self::CodeOfAnotherClient => "authorization_code_of_another_client",
            Self::ConstantPkceChallenge => "constant_pkce_challenge",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::TokenRevoked => "token_revoked",
            Self::ClientAuthenticationFailed => "client_authentication_failed",
            Self::ClientAuthenticationLockout => "client_authentication_lockout",
            Self::RateLimited => "rate_limited",
            Self::ClientRegistered => "client_registered",
            Self::ClientRemoved => "client_removed",
            Self::ResourceRegistered => "resource_registered",
            Self::ResourceRemoved => "resource_removed",
            Self::UserCreated => "user_created",
            Self::UserChanged => "user_changed",
            Self::UserRemoved => "user_removed",
            Self::PasswordChanged => "password_changed",
            Self::SigningKeyRotated => "signing_key_rotated",
            Self::SigningKeyRetired => "signing_key_retired",
        }
    }

    /// Whether the event is something done (`success`) or something
    /// refused or detected (`failure`).
    pub fn outcome(self) -> &'static str {
        match self {
            Self::LoginFailed
            | Self::LoginThrottled
            | Self::AccountLocked
            | Self::ConsentRefused
            | Self::CodeReplayed
            | Self::CodeOfAnotherClient
            | Self::ConstantPkceChallenge
            | Self::RefreshTokenReuse
            | Self::ClientAuthenticationFailed
            | Self::ClientAuthenticationLockout
            | Self::RateLimited => "failure",
            _ => "success",
        }
    }
}

/// The subject of an event and where its request came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct About<'a> {
    pub client_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub grant_id: Option<&'a str>,
    /// The client's address (through the trusted proxies).
    pub source: Option<IpAddr>,
}

/// The `source` of events from management commands.
pub const COMMAND_LINE: &str = "command line";

/// Records an event of a request at `at`. A failure to record is logged,
/// never fatal (the request it is about has been answered or refused).
pub async fn record(state: &AppState, at: UnixTime, kind: Kind, about: About<'_>, detail: &str) {
    write(
        state.store.as_ref(),
        at,
        kind,
        about,
        about.source.map(|ip| ip.to_string()),
        detail,
    )
    .await;
}

/// Records an event at `at` with its source in words (`COMMAND_LINE`).
pub async fn write(
    store: &dyn Store,
    at: UnixTime,
    kind: Kind,
    about: About<'_>,
    source: Option<String>,
    detail: &str,
) {
    tracing::info!(
        target: "tessera::audit",
        kind = kind.as_str(),
        outcome = kind.outcome(),
        client_id = about.client_id,
        user_id = about.user_id,
        grant_id = about.grant_id,
        source = source.as_deref(),
        detail,
        "audit event"
    );
    let event = SecurityEvent {
        id: None,
        at,
        kind: kind.as_str().to_owned(),
        client_id: about.client_id.map(str::to_owned),
        user_id: about.user_id.map(str::to_owned),
        grant_id: about.grant_id.map(str::to_owned),
        detail: detail.to_owned(),
        source,
        outcome: kind.outcome().to_owned(),
    };
    if let Err(e) = store.record_security_event(&event).await {
        tracing::error!(error = %e, kind = kind.as_str(), "could not record an audit event");
    }
}
