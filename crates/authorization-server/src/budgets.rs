//! Endpoint budgets: token buckets that bound how fast one source address
//! or one client may use the server (issue 13, "endpoint budgets"), and how
//! fast anonymous browsers may park authorization requests (issue 13,
//! "anonymous /authorize requests store unbounded data").
//!
//! Per node and in memory, like the client-secret lockout: a budget is a
//! rate limit, not state that must survive a restart or be shared (with N
//! nodes behind a balancer a source gets at most N times its budget; say so
//! in the operator's numbers). Time is the injected clock's whole seconds,
//! so the tests advance a manual clock instead of sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use tessera_core::UnixTime;

/// A sustained rate and a burst: `burst` requests at once, then
/// `per_second` a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub const fn new(per_second: f64, burst: f64) -> Self {
        Self { per_second, burst }
    }
}

/// The budgets' configuration. `None` turns one off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetPolicy {
    /// Requests to the back channel (token, introspection, revocation) from
    /// one source address, counted before client authentication.
    pub back_channel_per_address: Option<Rate>,
    /// Requests to the back channel by one authenticated client.
    pub back_channel_per_client: Option<Rate>,
    /// Refused grants (an invalid, expired or replayed code or refresh
    /// token) for one client from one address: once spent, that client's
    /// grant requests from there wait, so nobody can try tokens at speed.
    pub grant_failures: Option<Rate>,
    /// Authorization requests parked by browsers that are not signed in,
    /// per source address.
    pub anonymous_authorizations_per_address: Option<Rate>,
    /// The same, for the whole node: bounds the rows anonymous traffic can
    /// make (at most `burst + per_second × authorization_request_ttl`
    /// live requests, each with bounded parameters).
    pub anonymous_authorizations_total: Option<Rate>,
}

impl Default for BudgetPolicy {
    fn default() -> Self {
        Self {
            back_channel_per_address: Some(Rate::new(500.0, 1000.0)),
            back_channel_per_client: Some(Rate::new(500.0, 1000.0)),
            grant_failures: Some(Rate::new(1.0, 30.0)),
            anonymous_authorizations_per_address: Some(Rate::new(2.0, 120.0)),
            anonymous_authorizations_total: Some(Rate::new(50.0, 1000.0)),
        }
    }
}

/// Keys tracked per bucket set at most; see [`Buckets::take`].
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: UnixTime,
    /// The last answer was a refusal: the next refusal is not news.
    refusing: bool,
}

/// A refusal: how long to wait, and whether it is the first since the key
/// was last let through (the one worth a log line and an audit event; a
/// flood must not turn every refused request into a write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spent {
    pub retry_after: i64,
    pub first: bool,
}

/// One token bucket per key.
#[derive(Debug)]
pub struct Buckets<K> {
    rate: Option<Rate>,
    entries: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub fn new(rate: Option<Rate>) -> Self {
        Self {
            rate,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<K, Bucket>> {
        match self.entries.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Takes one token for `key` at `now`; `Err(seconds)` until one is
    /// there. A table full of live keys forgets the fullest buckets first
    /// (those that have waited longest), so a flood of addresses costs
    /// bounded memory and cannot switch the budgets off.
    pub fn take(&self, key: &K, now: UnixTime) -> Result<(), Spent> {
        self.charge(key, now, true)
    }

    /// Whether `key` has a token now, without taking it.
    pub fn check(&self, key: &K, now: UnixTime) -> Result<(), Spent> {
        self.charge(key, now, false)
    }

    fn charge(&self, key: &K, now: UnixTime, take: bool) -> Result<(), Spent> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let mut entries = self.entries();
        if entries.len() >= MAX_TRACKED && !entries.contains_key(key) {
            evict(&mut entries, rate, now);
        }
        let b = entries.entry(key.clone()).or_insert(Bucket {
            tokens: rate.burst,
            at: now,
            refusing: false,
        });
        let elapsed = (now - b.at).max(0) as f64;
        b.tokens = (b.tokens + elapsed * rate.per_second).min(rate.burst);
        b.at = b.at.max(now);
        if b.tokens >= 1.0 {
            if take {
                b.tokens -= 1.0;
                b.refusing = false;
            }
            return Ok(());
        }
        let retry_after = if rate.per_second > 0.0 {
            ((1.0 - b.tokens) / rate.per_second).ceil().max(1.0) as i64
        } else {
            i64::MAX
        };
        let first = !b.refusing;
        b.refusing = true;
        Err(Spent { retry_after, first })
    }
}

/// Drops the buckets that have refilled (they are as good as absent), then,
/// if the table is still full, the half that waited longest.
fn evict<K: Hash + Eq + Clone>(entries: &mut HashMap<K, Bucket>, rate: Rate, now: UnixTime) {
    let full_after = if rate.per_second > 0.0 {
        (rate.burst / rate.per_second).ceil() as i64
    } else {
        i64::MAX
    };
    entries.retain(|_, b| now.saturating_sub(b.at) < full_after);
    if entries.len() >= MAX_TRACKED {
        let mut ages: Vec<UnixTime> = entries.values().map(|b| b.at).collect();
        ages.sort_unstable();
        let cut = ages[ages.len() / 2];
        entries.retain(|_, b| b.at > cut);
    }
}

/// The address a budget counts under: IPv4 as it is, IPv6 by its /64 (one
/// customer's network; otherwise one host could use 2^64 addresses).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
        v4 => v4,
    }
}

/// Every budget of the server.
#[derive(Debug)]
pub struct Budgets {
    pub back_channel_per_address: Buckets<IpAddr>,
    pub back_channel_per_client: Buckets<String>,
    pub grant_failures: Buckets<(String, Option<IpAddr>)>,
    pub anonymous_per_address: Buckets<IpAddr>,
    pub anonymous_total: Buckets<()>,
}

impl Budgets {
    pub fn new(policy: BudgetPolicy) -> Self {
        Self {
            back_channel_per_address: Buckets::new(policy.back_channel_per_address),
            back_channel_per_client: Buckets::new(policy.back_channel_per_client),
            grant_failures: Buckets::new(policy.grant_failures),
            anonymous_per_address: Buckets::new(policy.anonymous_authorizations_per_address),
            anonymous_total: Buckets::new(policy.anonymous_authorizations_total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let b = Buckets::new(Some(Rate::new(2.0, 3.0)));
        for _ in 0..3 {
            assert_eq!(b.take(&"k", 100), Ok(()));
        }
        assert_eq!(
            b.take(&"k", 100),
            Err(Spent {
                retry_after: 1,
                first: true
            })
        );
        assert_eq!(
            b.take(&"k", 100),
            Err(Spent {
                retry_after: 1,
                first: false
            }),
            "the second refusal is not news"
        );
        assert_eq!(b.take(&"other", 100), Ok(()), "keys are independent");
        // One second later two more, not three.
        assert_eq!(b.take(&"k", 101), Ok(()));
        assert_eq!(b.take(&"k", 101), Ok(()));
        assert_eq!(
            b.take(&"k", 101),
            Err(Spent {
                retry_after: 1,
                first: true
            })
        );
        // Never more than the burst, however long it waited.
        for _ in 0..3 {
            assert_eq!(b.take(&"k", 10_000), Ok(()));
        }
        assert!(b.take(&"k", 10_000).is_err());
    }

    #[test]
    fn a_slow_rate_says_how_long_to_wait() {
        let b = Buckets::new(Some(Rate::new(0.1, 1.0)));
        assert_eq!(b.take(&(), 0), Ok(()));
        assert_eq!(b.take(&(), 0).map_err(|s| s.retry_after), Err(10));
        assert_eq!(b.take(&(), 4).map_err(|s| s.retry_after), Err(6));
        assert_eq!(b.take(&(), 10), Ok(()));
    }

    #[test]
    fn check_does_not_spend() {
        let b = Buckets::new(Some(Rate::new(1.0, 1.0)));
        assert_eq!(b.check(&"k", 0), Ok(()));
        assert_eq!(b.check(&"k", 0), Ok(()));
        assert_eq!(b.take(&"k", 0), Ok(()));
        assert_eq!(b.check(&"k", 0).map_err(|s| s.retry_after), Err(1));
    }

    #[test]
    fn an_absent_rate_is_no_limit() {
        let b = Buckets::new(None);
        for _ in 0..10_000 {
            assert_eq!(b.take(&"k", 0), Ok(()));
        }
    }

    #[test]
    fn a_flood_of_keys_stays_bounded_and_still_limits() {
        let b = Buckets::new(Some(Rate::new(1.0, 2.0)));
        for i in 0..(MAX_TRACKED as u32 + 10) {
            let _ = b.take(&i, 5);
        }
        assert!(b.entries().len() <= MAX_TRACKED);
        assert_eq!(b.take(&u32::MAX, 5), Ok(()));
        assert_eq!(b.take(&u32::MAX, 5), Ok(()));
        assert!(b.take(&u32::MAX, 5).is_err(), "a new key is still limited");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let b: IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(address_key(mapped), IpAddr::from([192, 0, 2, 7]));
    }
}
