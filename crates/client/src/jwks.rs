//! The authorization server's key set (JWKS), cached for ID-token checks.
//!
//! The rules are the bearer-token guard's (`tessera-protected-resource`'s
//! `jwks.rs`), written again here because the client depends on no server
//! crate: keys are kept as long as the JWKS response's `Cache-Control`
//! allows (capped, with a default), a token naming a key we do not know
//! refetches once, at most once per [`UNKNOWN_KID_INTERVAL`] (a flood of
//! tokens with made-up `kid`s cannot make us hammer the AS), a failed fetch
//! is not retried for [`FAILED_FETCH_RETRY`], and one fetch runs at a time.
//! Time is the caller's (the client's injected clock), never read here.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use jsonwebtoken::jwk::JwkSet;

use crate::error::Error;

/// How long keys are kept when the response says nothing about it.
pub(crate) const DEFAULT_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The longest a `max-age` is honoured: a key the AS withdraws (a leaked
/// one) is trusted for at most this long after it is gone.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A `kid` we do not know refetches the keys at most once per this interval
/// (the guard's default `key_refetch_interval`).
pub(crate) const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(30);
/// After a failed fetch, no other before this (the guard's value).
pub(crate) const FAILED_FETCH_RETRY: Duration = Duration::from_secs(2);

/// How long a JWKS response may be used, from its `Cache-Control`
/// (RFC 9111 §5.2.2): `max-age` capped at [`MAX_LIFETIME`]; `no-store`,
/// `no-cache` or an unreadable or repeated `max-age` mean not at all
/// (§4.2.1: invalid freshness information is stale); nothing, the default.
pub(crate) fn lifetime(cache_control: Option<&str>) -> Duration {
    let Some(value) = cache_control else {
        return DEFAULT_LIFETIME;
    };
    let mut max_age = None;
    for directive in value.split(',') {
        let (name, argument) = match directive.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
            None => (directive.trim(), None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Duration::ZERO;
        }
        if name.eq_ignore_ascii_case("max-age") {
            match argument.and_then(|a| a.parse::<u64>().ok()) {
                Some(secs) if max_age.is_none() => max_age = Some(secs),
                _ => return Duration::ZERO,
            }
        }
    }
    max_age.map_or(DEFAULT_LIFETIME, |secs| {
        Duration::from_secs(secs).min(MAX_LIFETIME)
    })
}

/// What the cache knows. Replaced whole, never mutated.
#[derive(Debug)]
struct Snapshot {
    keys: Option<Arc<JwkSet>>,
    /// The keys may be used without asking until then.
    fresh_until: SystemTime,
    /// No fetch for an unknown `kid` before then.
    next_unknown_kid_fetch: SystemTime,
    /// The last fetch failed: no fetch before the time, and why.
    failure: Option<(SystemTime, String)>,
}

/// What to do for one ID token.
#[derive(Debug)]
enum Decision {
    Use(Arc<JwkSet>),
    Refuse(Error),
    Fetch,
}

fn decide(s: &Snapshot, kid: &str, now: SystemTime) -> Decision {
    let backing_off = s.failure.as_ref().is_some_and(|(until, _)| now < *until);
    match &s.keys {
        Some(keys) if keys.find(kid).is_some() => {
            // A stale key is still used while a fetch just failed: the
            // AS has been unreachable for seconds, the key is its own.
            if now < s.fresh_until || backing_off {
                Decision::Use(keys.clone())
            } else {
                Decision::Fetch
            }
        }
        _ if !backing_off && now >= s.next_unknown_kid_fetch => Decision::Fetch,
        // Not allowed to ask again yet: an outage if the last fetch failed,
        // otherwise the keys we have (the check then refuses the token as
        // signed by a key the AS does not publish).
        keys => match (&s.failure, keys) {
            (Some((_, why)), _) => Decision::Refuse(Error::Jwks(why.clone())),
            (None, Some(keys)) => Decision::Use(keys.clone()),
            (None, None) => Decision::Refuse(Error::Jwks("no key set fetched yet".into())),
        },
    }
}

/// The cache of one client's AS key set.
#[derive(Debug)]
pub(crate) struct JwksCache {
    current: Mutex<Arc<Snapshot>>,
    /// Held while fetching, so concurrent checks share one fetch.
    fetching: tokio::sync::Mutex<()>,
}

impl Default for JwksCache {
    fn default() -> Self {
        Self {
            current: Mutex::new(Arc::new(Snapshot {
                keys: None,
                fresh_until: SystemTime::UNIX_EPOCH,
                next_unknown_kid_fetch: SystemTime::UNIX_EPOCH,
                failure: None,
            })),
            fetching: tokio::sync::Mutex::new(()),
        }
    }
}

impl JwksCache {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The key set to check a token signed by `kid` at `now`, fetched with
    /// `fetch` (the keys and how long they may be used) only when the rules
    /// above allow it.
    pub(crate) async fn keys_for<F, Fut>(
        &self,
        kid: &str,
        now: SystemTime,
        fetch: F,
    ) -> Result<Arc<JwkSet>, Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(JwkSet, Duration), String>>,
    {
        match decide(&self.snapshot(), kid, now) {
            Decision::Use(keys) => return Ok(keys),
            Decision::Refuse(e) => return Err(e),
            Decision::Fetch => {}
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Whoever held the lock before us may have fetched already.
        let old = self.snapshot();
        match decide(&old, kid, now) {
            Decision::Use(keys) => return Ok(keys),
            Decision::Refuse(e) => return Err(e),
            Decision::Fetch => {}
        }
        let (next, answer) = match fetch().await {
            Ok((keys, lifetime)) => {
                let keys = Arc::new(keys);
                let next = Snapshot {
                    keys: Some(keys.clone()),
                    fresh_until: now + lifetime,
                    next_unknown_kid_fetch: now + UNKNOWN_KID_INTERVAL,
                    failure: None,
                };
                (next, Ok(keys))
            }
            Err(why) => {
                let answer = match &old.keys {
                    Some(keys) if keys.find(kid).is_some() => Ok(keys.clone()),
                    _ => Err(Error::Jwks(why.clone())),
                };
                let next = Snapshot {
                    keys: old.keys.clone(),
                    fresh_until: old.fresh_until,
                    next_unknown_kid_fetch: old.next_unknown_kid_fetch,
                    failure: Some((now + FAILED_FETCH_RETRY, why)),
                };
                (next, answer)
            }
        };
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        answer
    }
}

/// Fetches the AS's key set and how long it may be kept.
pub(crate) async fn fetch(
    http: &reqwest::Client,
    jwks_uri: &str,
) -> Result<(JwkSet, Duration), String> {
    crate::discovery::require_secure(jwks_uri).map_err(|e| e.to_string())?;
    let response = http.get(jwks_uri).send().await;
    crate::observe::report(|| crate::observe::Exchange {
        method: "GET".into(),
        url: crate::observe::bare_url(jwks_uri),
        authorization: None,
        request: Vec::new(),
        status: response.as_ref().ok().map(|r| r.status().as_u16()),
        response: Vec::new(),
        challenge: None,
    });
    let response = response.map_err(|e| e.without_url().to_string())?;
    if !response.status().is_success() {
        return Err(format!("the JWKS answered {}", response.status()));
    }
    let lifetime = lifetime(
        response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
    );
    let keys = response
        .json()
        .await
        .map_err(|_| "the JWKS is not a JWK set".to_owned())?;
    Ok((keys, lifetime))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn issue12_item6_cache_control_is_honoured_within_limits() {
        assert_eq!(lifetime(None), DEFAULT_LIFETIME);
        assert_eq!(lifetime(Some("")), DEFAULT_LIFETIME);
        assert_eq!(
            lifetime(Some("public, max-age=300")),
            Duration::from_secs(300)
        );
        assert_eq!(lifetime(Some("Max-Age=\"60\"")), Duration::from_secs(60));
        assert_eq!(lifetime(Some("max-age=31536000")), MAX_LIFETIME, "capped");
        assert_eq!(lifetime(Some("max-age=0")), Duration::ZERO);
        assert_eq!(lifetime(Some("no-store")), Duration::ZERO);
        assert_eq!(lifetime(Some("max-age=600, no-cache")), Duration::ZERO);
        assert_eq!(lifetime(Some("max-age=soon")), Duration::ZERO, "invalid");
        assert_eq!(
            lifetime(Some("max-age=60, max-age=600")),
            Duration::ZERO,
            "repeated"
        );
        assert_eq!(lifetime(Some("public")), DEFAULT_LIFETIME);
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// After a failed fetch (the AS is down): a known key is used even if
    /// stale, an unknown one is an outage, and nothing is fetched for
    /// [`FAILED_FETCH_RETRY`].
    #[test]
    fn a_failed_fetch_backs_off_and_keeps_the_known_keys() {
        let keys: JwkSet = serde_json::from_value(serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        }]}))
        .unwrap();
        let failed = Snapshot {
            keys: Some(Arc::new(keys)),
            fresh_until: at(100),
            next_unknown_kid_fetch: at(100),
            failure: Some((at(1000 + 2), "connection refused".into())),
        };
        assert!(matches!(decide(&failed, "k1", at(1000)), Decision::Use(_)));
        assert!(matches!(
            decide(&failed, "k2", at(1000)),
            Decision::Refuse(Error::Jwks(_))
        ));
        assert!(matches!(decide(&failed, "k1", at(1002)), Decision::Fetch));
        assert!(matches!(decide(&failed, "k2", at(1002)), Decision::Fetch));
    }
}
