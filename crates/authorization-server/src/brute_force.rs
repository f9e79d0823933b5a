//! Brute-force protection for client secrets (RFC 6749 §2.3.1, OAuth 2.1
//! §2.4.1): after too many failed authentications of a client id from one
//! source address, further wrong secrets from there are refused with `429`
//! for a while (the right secret is always accepted: see
//! `app::client_auth::authenticate`).
//!
//! Per node and in memory: a lockout is a rate limit, not state that must
//! survive a restart.

use std::collections::HashMap;
use std::sync::Mutex;

use tessera_core::UnixTime;

use crate::config::BruteForcePolicy;

/// Client ids tracked at most; beyond this the oldest windows are dropped
/// first so a flood of made-up ids cannot grow memory without bound.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: UnixTime,
    locked_until: UnixTime,
}

/// The key failures are counted under: the client *and* the source address,
/// since counting per client alone would let anyone lock a client out with
/// its public id.
pub fn attempt_key(client_id: &str, peer: Option<std::net::IpAddr>) -> String {
    match peer {
        Some(ip) => format!("{client_id} from {ip}"),
        None => client_id.to_owned(),
    }
}

#[derive(Debug)]
pub struct BruteForceGuard {
    policy: BruteForcePolicy,
    entries: Mutex<HashMap<String, Entry>>,
}

impl BruteForceGuard {
    pub fn new(policy: BruteForcePolicy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        match self.entries.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// `Err(seconds)` while `client_id` is locked out.
    pub fn check(&self, client_id: &str, now: UnixTime) -> Result<(), i64> {
        match self.entries().get(client_id) {
            Some(e) if e.locked_until > now => Err(e.locked_until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failure; returns true when this failure starts a lockout.
    pub fn record_failure(&self, client_id: &str, now: UnixTime) -> bool {
        let mut entries = self.entries();
        if entries.len() >= MAX_TRACKED && !entries.contains_key(client_id) {
            let horizon = now - self.policy.window_secs;
            entries.retain(|_, e| e.window_start > horizon || e.locked_until > now);
            // Still full of live entries: forget the oldest window rather
            // than stop counting (a flood of made-up ids must not switch the
            // protection off for real clients).
            if entries.len() >= MAX_TRACKED
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.window_start)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        let e = entries.entry(client_id.to_owned()).or_insert(Entry {
            failures: 0,
            window_start: now,
            locked_until: 0,
        });
        if now - e.window_start >= self.policy.window_secs {
            e.failures = 0;
            e.window_start = now;
        }
        e.failures += 1;
        if e.failures >= self.policy.max_failures {
            e.failures = 0;
            e.window_start = now;
            e.locked_until = now + self.policy.lockout_secs;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_unlocks_after_the_cool_down() {
        let g = BruteForceGuard::new(BruteForcePolicy {
            max_failures: 3,
            window_secs: 60,
            lockout_secs: 30,
        });
        assert!(!g.record_failure("c1", 0));
        assert!(!g.record_failure("c1", 1));
        assert_eq!(g.check("c1", 1), Ok(()));
        assert!(g.record_failure("c1", 2));
        assert_eq!(g.check("c1", 2), Err(30));
        assert_eq!(g.check("c2", 2), Ok(()));
        assert_eq!(g.check("c1", 32), Ok(()));
    }

    #[test]
    fn a_full_table_still_counts_new_keys() {
        let g = BruteForceGuard::new(BruteForcePolicy {
            max_failures: 2,
            window_secs: 300,
            lockout_secs: 30,
        });
        for i in 0..MAX_TRACKED {
            g.record_failure(&format!("junk-{i}"), 10);
        }
        assert!(!g.record_failure("real", 11));
        assert!(
            g.record_failure("real", 12),
            "the real client is still protected"
        );
        assert!(g.entries().len() <= MAX_TRACKED);
    }

    #[test]
    fn keys_from_different_sources_are_independent() {
        let g = BruteForceGuard::new(BruteForcePolicy {
            max_failures: 1,
            window_secs: 60,
            lockout_secs: 30,
        });
        let attacker = attempt_key("c1", Some([10, 0, 0, 9].into()));
        let owner = attempt_key("c1", Some([10, 0, 0, 1].into()));
        assert!(g.record_failure(&attacker, 0));
        assert!(g.check(&attacker, 1).is_err());
        assert_eq!(
            g.check(&owner, 1),
            Ok(()),
            "the client's own address is not locked out"
        );
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let g = BruteForceGuard::new(BruteForcePolicy {
            max_failures: 2,
            window_secs: 10,
            lockout_secs: 30,
        });
        assert!(!g.record_failure("c1", 0));
        assert!(!g.record_failure("c1", 20));
        assert!(g.record_failure("c1", 21));
    }
}
