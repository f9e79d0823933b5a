//! The login throttle's policy (issue 13, "unlimited password guessing"):
//! pure decisions over failed-login counts, which the store keeps per
//! throttle key and shares across nodes.
//!
//! Failures are counted under two keys per attempt: the **account** (the
//! username as submitted, whether or not it exists, so the throttle's
//! answers cannot tell which usernames exist) and the **source address**.
//! After a few free failures each further one blocks the key for a delay
//! that doubles, up to `max_delay_secs`; after `lockout_failures` on one
//! account it is locked for `lockout_secs`. A blocked key is refused before
//! any password is checked, so a correct password does not get through a
//! lockout either. A count lasts `window_secs` after its last failure.

use std::net::IpAddr;

use tessera_core::UnixTime;
use tessera_core::secrets::ClientSecretHasher;
use tessera_store::LoginFailures;

/// How failed logins slow down further attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottlePolicy {
    /// Failures on one account before delays start.
    pub account_free_failures: u32,
    /// Failures from one source address before delays start (higher: many
    /// people may share one address).
    pub address_free_failures: u32,
    /// The longest delay (the first is one second, doubling each failure).
    pub max_delay_secs: i64,
    /// Failures on one account that lock it.
    pub lockout_failures: u32,
    /// How long a locked account stays locked.
    pub lockout_secs: i64,
    /// How long failures are remembered after the last one.
    pub window_secs: i64,
}

impl Default for LoginThrottlePolicy {
    fn default() -> Self {
        Self {
            account_free_failures: 5,
            address_free_failures: 20,
            max_delay_secs: 60,
            lockout_failures: 10,
            lockout_secs: 900,
            window_secs: 3600,
        }
    }
}

/// Why a policy cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{0} must be positive")]
    NotPositive(&'static str),
    #[error(
        "login_throttle_window_secs must be at least login_throttle_lockout_secs and login_throttle_max_delay_secs (failures must be remembered while they block)"
    )]
    WindowTooShort,
}

/// What a throttle key counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Account,
    Address,
}

impl LoginThrottlePolicy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.lockout_failures == 0 {
            return Err(PolicyError::NotPositive("login_throttle_lockout_failures"));
        }
        for (name, v) in [
            ("login_throttle_max_delay_secs", self.max_delay_secs),
            ("login_throttle_lockout_secs", self.lockout_secs),
            ("login_throttle_window_secs", self.window_secs),
        ] {
            if v <= 0 {
                return Err(PolicyError::NotPositive(name));
            }
        }
        if self.window_secs < self.lockout_secs || self.window_secs < self.max_delay_secs {
            return Err(PolicyError::WindowTooShort);
        }
        Ok(())
    }

    /// How long `failures` failures block their key, from the last one.
    pub fn delay(&self, subject: Subject, failures: u32) -> i64 {
        if subject == Subject::Account && failures >= self.lockout_failures {
            return self.lockout_secs;
        }
        let free = match subject {
            Subject::Account => self.account_free_failures,
            Subject::Address => self.address_free_failures,
        };
        match failures.checked_sub(free) {
            None | Some(0) => 0,
            // 1, 2, 4, ... seconds; the shift is capped so it cannot overflow.
            Some(over) => (1i64 << (over - 1).min(40)).min(self.max_delay_secs),
        }
    }

    /// Whether `failures` lock the account (rather than delay it).
    pub fn locks(&self, subject: Subject, failures: u32) -> bool {
        subject == Subject::Account && failures >= self.lockout_failures
    }

    /// Until when the counted failures block their key.
    pub fn blocked_until(&self, subject: Subject, f: &LoginFailures) -> UnixTime {
        f.last_failure_at + self.delay(subject, f.failures)
    }
}

/// The account key: a keyed hash of the username exactly as submitted
/// (usernames are case-sensitive), so the store never keeps what was typed
/// (it may be a password typed into the wrong field) and nobody without the
/// server key can tell which names were tried.
pub fn account_key(hasher: &ClientSecretHasher, username: &str) -> String {
    format!(
        "account:{}",
        hasher.hash(&format!("login-throttle\0{username}"))
    )
}

/// The address key: an IPv4 address, or an IPv6 address's /64 (one
/// customer's network: counting single IPv6 addresses would give an
/// attacker 2^64 of them).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("address:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("address:{v4}"),
            None => {
                let s = v6.segments();
                format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_after_the_free_failures_up_to_the_cap_then_the_account_locks() {
        let p = LoginThrottlePolicy::default();
        let account: Vec<i64> = (1..=11).map(|n| p.delay(Subject::Account, n)).collect();
        assert_eq!(account, [0, 0, 0, 0, 0, 1, 2, 4, 8, 900, 900]);
        assert!(p.locks(Subject::Account, 10) && !p.locks(Subject::Account, 9));
        assert_eq!(p.delay(Subject::Address, 20), 0);
        assert_eq!(p.delay(Subject::Address, 21), 1);
        assert_eq!(p.delay(Subject::Address, 27), 60, "capped");
        assert_eq!(p.delay(Subject::Address, 1000), 60);
        assert!(
            !p.locks(Subject::Address, 1000),
            "addresses are delayed, never locked"
        );
        assert_eq!(p.validate(), Ok(()));
        let short = LoginThrottlePolicy {
            window_secs: 60,
            ..p
        };
        assert_eq!(short.validate(), Err(PolicyError::WindowTooShort));
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key(a), "address:2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_key(mapped), "address:10.0.0.1");
    }

    #[test]
    fn account_keys_hide_the_name_and_keep_its_case() {
        let h = ClientSecretHasher::new(b"k");
        let alice = account_key(&h, "alice");
        assert!(alice.starts_with("account:") && !alice.contains("alice"));
        assert_ne!(alice, account_key(&h, "Alice"));
        assert_eq!(alice, account_key(&h, "alice"));
    }
}
