//! The login throttle at work on one attempt (the policy is
//! [`crate::login_throttle`]): whether the attempt's keys are blocked now,
//! counting a failure under each key (in the store, so every node sees it)
//! with its security events, and forgetting the account's failures after a
//! successful login.
//!
//! A successful login clears the account's count but not the address's:
//! otherwise an attacker with one account of their own could sign in to it
//! between guesses at others.

use std::net::IpAddr;

use tessera_core::UnixTime;

use crate::app::error::{AppError, OrUnavailable};
use crate::app::events::{self, About, Kind};
use crate::login_throttle::{Subject, account_key, address_key};
use crate::state::AppState;

/// The throttle keys of one login attempt.
#[derive(Debug)]
pub struct Throttle {
    keys: Vec<(Subject, String)>,
    source: Option<IpAddr>,
}

impl Throttle {
    /// The keys of an attempt on `username` from `source` (the peer address
    /// today; the client's address behind trusted proxies once they exist).
    pub fn new(state: &AppState, username: &str, source: Option<IpAddr>) -> Self {
        let mut keys = vec![(
            Subject::Account,
            account_key(&state.client_secrets, username),
        )];
        if let Some(ip) = source {
            keys.push((Subject::Address, address_key(ip)));
        }
        Self { keys, source }
    }

    /// The seconds to wait if any key is blocked at `now`.
    pub async fn blocked(&self, state: &AppState, now: UnixTime) -> Result<Option<i64>, AppError> {
        let policy = &state.config.login_throttle;
        let mut until = now;
        for (subject, key) in &self.keys {
            if let Some(f) = state
                .store
                .login_failures(key, now)
                .await
                .or_unavailable()?
            {
                until = until.max(policy.blocked_until(*subject, &f));
            }
        }
        Ok((until > now).then_some(until - now))
    }

    /// Counts a failed attempt under every key, and records it (and any
    /// delay or lockout it starts) as security events; never the password,
    /// nor a username that does not exist (it may be a mistyped password).
    pub async fn failed(
        &self,
        state: &AppState,
        now: UnixTime,
        about: About<'_>,
    ) -> Result<(), AppError> {
        let policy = &state.config.login_throttle;
        let from = self
            .source
            .map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string());
        let reason = if about.user_id.is_some() {
            "wrong password"
        } else {
            "unknown username"
        };
        let about = About {
            source: self.source,
            ..about
        };
        events::record(
            state,
            now,
            Kind::LoginFailed,
            about,
            &format!("{reason}, from {from}"),
        )
        .await;
        for (subject, key) in &self.keys {
            let f = state
                .store
                .record_login_failure(key, now, now + policy.window_secs)
                .await
                .or_unavailable()?;
            let delay = policy.delay(*subject, f.failures);
            let what = match subject {
                Subject::Account => "the account",
                Subject::Address => "the source address",
            };
            let (kind, detail) = if policy.locks(*subject, f.failures) {
                let detail = format!(
                    "the account is locked for {delay} s after {} failed logins (the last from {from})",
                    f.failures
                );
                (Kind::AccountLocked, detail)
            } else if delay > 0 {
                let detail = format!(
                    "{what} is delayed {delay} s after {} failed logins (the last from {from})",
                    f.failures
                );
                (Kind::LoginThrottled, detail)
            } else {
                continue;
            };
            tracing::warn!(kind = kind.as_str(), %detail, "login throttle");
            events::record(state, now, kind, about, &detail).await;
        }
        Ok(())
    }

    /// After a successful login: the account's failures are forgotten.
    pub async fn succeeded(&self, state: &AppState) -> Result<(), AppError> {
        for (subject, key) in &self.keys {
            if *subject == Subject::Account {
                state
                    .store
                    .clear_login_failures(key)
                    .await
                    .or_unavailable()?;
            }
        }
        Ok(())
    }
}
