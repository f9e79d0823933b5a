//! The authorization server's signing keys: fetched from its JWKS, cached,
//! and refetched when a token names a key we do not know, at most once per
//! interval and one fetch at a time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::clock::{Clock, UnixTime};
use crate::discovery::Discovery;
use crate::error::GuardError;
use crate::http::Http;

/// The algorithms a key may be used with. Never `none` (jsonwebtoken cannot
/// even parse it), never HMAC: a public key is public, so a MAC keyed with it
/// proves nothing (CVE-2024-37568 and friends).
pub const ALLOWED_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256];

/// 2048 bits: the floor for RSA signatures (NIST SP 800-131A).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// A verification key, pinned to the one algorithm its JWK names.
pub(crate) struct VerifyKey {
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
    /// Signature only: the claims are checked by `jwt.rs` against the
    /// injected clock, not jsonwebtoken's system time.
    pub(crate) validation: Validation,
}

/// One snapshot of what we know. Replaced whole, never mutated.
struct KeySet {
    keys: HashMap<String, Arc<VerifyKey>>,
    /// When the keys were last fetched successfully.
    fetched_at: Option<UnixTime>,
    /// No fetch before this, whatever kid turns up.
    next_fetch_at: UnixTime,
    /// Why the last fetch failed, if it did.
    error: Option<String>,
}

/// Where the JWKS is.
pub(crate) enum KeySource {
    Fixed(String),
    /// The `jwks_uri` of the AS metadata.
    Discovered(Arc<Discovery>),
}

/// Seconds before a failed JWKS fetch may be tried again.
const FAILED_FETCH_RETRY: i64 = 2;

struct Shared {
    current: RwLock<Arc<KeySet>>,
    /// Held while fetching, so concurrent misses share one fetch.
    fetching: Arc<tokio::sync::Mutex<()>>,
    source: KeySource,
    http: Http,
    clock: Arc<dyn Clock>,
    refetch_interval: i64,
    max_age: i64,
}

#[derive(Clone)]
pub(crate) struct KeyCache(Arc<Shared>);

enum Decision {
    Use(Arc<VerifyKey>),
    Refuse(GuardError),
    Fetch,
}

impl KeyCache {
    pub(crate) fn new(
        source: KeySource,
        http: Http,
        clock: Arc<dyn Clock>,
        refetch_interval: i64,
        max_age: i64,
    ) -> Self {
        let empty = KeySet {
            keys: HashMap::new(),
            fetched_at: None,
            next_fetch_at: UnixTime::MIN,
            error: None,
        };
        Self(Arc::new(Shared {
            current: RwLock::new(Arc::new(empty)),
            fetching: Arc::new(tokio::sync::Mutex::new(())),
            source,
            http,
            clock,
            refetch_interval,
            max_age,
        }))
    }

    /// The key named `kid`.
    ///
    /// Fails with `InvalidToken` if the AS does not publish it, and with
    /// `Unavailable` if we cannot tell because the JWKS cannot be fetched.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<VerifyKey>, GuardError> {
        match self.decide(kid) {
            Decision::Use(k) => return Ok(k),
            Decision::Refuse(e) => return Err(e),
            Decision::Fetch => {}
        }
        let lock = self.0.fetching.clone().lock_owned().await;
        // Whoever held the lock before us may have fetched already.
        match self.decide(kid) {
            Decision::Use(k) => return Ok(k),
            Decision::Refuse(e) => return Err(e),
            Decision::Fetch => {}
        }
        // The fetch runs in its own task, holding the lock: if this request
        // is dropped (its client hung up), the fetch still completes and is
        // recorded, and the requests queued behind it see its result.
        let shared = self.0.clone();
        let set = tokio::spawn(async move {
            let set = shared.refresh().await;
            drop(lock);
            set
        })
        .await
        .map_err(|_| GuardError::Unavailable("the key refresh task failed".into()))?;
        match set.keys.get(kid) {
            Some(k) => Ok(k.clone()),
            None => Err(unknown(&set)),
        }
    }

    /// Fetches the keys now (at startup, say), unless a fetch is not allowed
    /// yet.
    pub(crate) async fn warm_up(&self) -> Result<(), GuardError> {
        let _lock = self.0.fetching.lock().await;
        let now = self.0.clock.now();
        let set = self.0.snapshot();
        if now >= set.next_fetch_at {
            let set = self.0.refresh().await;
            if let Some(why) = &set.error {
                return Err(GuardError::Unavailable(why.clone()));
            }
        }
        Ok(())
    }

    fn decide(&self, kid: &str) -> Decision {
        let set = self.0.snapshot();
        let now = self.0.clock.now();
        let may_fetch = now >= set.next_fetch_at;
        let fresh = set
            .fetched_at
            .is_some_and(|t| now < t.saturating_add(self.0.max_age));
        match set.keys.get(kid) {
            // A stale key is still used while a refetch is not allowed (or
            // failed): keys are retired only after their tokens expire.
            Some(k) if fresh || !may_fetch => Decision::Use(k.clone()),
            None if !may_fetch => Decision::Refuse(unknown(&set)),
            _ => Decision::Fetch,
        }
    }
}

/// The refusal for a kid not in `set`: an outage if the last fetch failed
/// (the key may exist; we cannot tell), otherwise an unknown key.
fn unknown(set: &KeySet) -> GuardError {
    match &set.error {
        Some(why) => GuardError::Unavailable(format!("the signing keys cannot be fetched: {why}")),
        None => GuardError::InvalidToken("the token is signed with an unknown key"),
    }
}

impl Shared {
    fn snapshot(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Fetches the JWKS and installs the result (new keys, or the old keys
    /// with the error). Called with `fetching` held.
    async fn refresh(&self) -> Arc<KeySet> {
        let now = self.clock.now();
        let old = self.snapshot();
        let next_fetch_at = now.saturating_add(self.refetch_interval);
        // After a failure, try again sooner: a resource that starts before
        // its AS (or outlives an AS restart) recovers within seconds, not a
        // whole interval. Still single-flight and rate-limited.
        let retry_at = now.saturating_add(self.refetch_interval.min(FAILED_FETCH_RETRY));
        let set = match self.fetch().await {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "signing keys fetched");
                KeySet {
                    keys,
                    fetched_at: Some(now),
                    next_fetch_at,
                    error: None,
                }
            }
            Err(why) => {
                tracing::error!(reason = %why, known_keys = old.keys.len(), "fetching the signing keys failed");
                KeySet {
                    keys: old.keys.clone(),
                    fetched_at: old.fetched_at,
                    next_fetch_at: retry_at,
                    error: Some(why),
                }
            }
        };
        let set = Arc::new(set);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = set.clone();
        set
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<VerifyKey>>, String> {
        let uri = match &self.source {
            KeySource::Fixed(u) => u.clone(),
            KeySource::Discovered(d) => d
                .metadata()
                .await
                .map_err(|e| e.to_string())?
                .jwks_uri
                .clone()
                .ok_or("the authorization server metadata has no jwks_uri")?,
        };
        let body: serde_json::Value = self.http.get_json(&uri).await?;
        parse_jwks(&body).map_err(|why| format!("{uri}: {why}"))
    }
}

/// The usable keys of a JWK set (RFC 7517 §5). Keys we cannot or must not
/// use are left out (and logged); a document that is not a JWK set at all
/// is an error.
pub(crate) fn parse_jwks(
    body: &serde_json::Value,
) -> Result<HashMap<String, Arc<VerifyKey>>, &'static str> {
    let keys = body
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .ok_or("not a JWK set (no `keys` array)")?;
    let mut out = HashMap::new();
    let mut ambiguous = Vec::new();
    for value in keys {
        let kid = value.get("kid").and_then(serde_json::Value::as_str);
        match (kid, usable_key(value)) {
            (Some(kid), Ok(key)) => {
                if out.insert(kid.to_owned(), Arc::new(key)).is_some() {
                    ambiguous.push(kid.to_owned());
                }
            }
            (kid, Err(why)) => {
                tracing::warn!(
                    kid = kid.unwrap_or("<none>"),
                    reason = why,
                    "ignoring a published key"
                );
            }
            (None, Ok(_)) => {
                tracing::warn!("ignoring a published key without a kid");
            }
        }
    }
    // Two keys under one kid: which one a token means is anybody's guess.
    for kid in ambiguous {
        tracing::warn!(kid = %kid, "ignoring a kid published more than once");
        out.remove(&kid);
    }
    Ok(out)
}

fn usable_key(value: &serde_json::Value) -> Result<VerifyKey, &'static str> {
    let jwk: Jwk = serde_json::from_value(value.clone()).map_err(|_| "not a JWK")?;
    if jwk.common.key_id.as_deref().is_none_or(str::is_empty) {
        return Err("no kid");
    }
    if let Some(u) = &jwk.common.public_key_use
        && *u != PublicKeyUse::Signature
    {
        return Err("not a signature key (`use`)");
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.contains(&KeyOperations::Verify)
    {
        return Err("not a verification key (`key_ops`)");
    }
    // The key's own `alg` decides, so a token cannot pick another algorithm
    // for it.
    let algorithm = match jwk.common.key_algorithm {
        Some(KeyAlgorithm::ES256) => Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
        Some(KeyAlgorithm::RS256) => Algorithm::RS256,
        Some(_) => return Err("its alg is not allowed (ES256, EdDSA, RS256)"),
        None => return Err("no alg"),
    };
    let fits = match (&jwk.algorithm, algorithm) {
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => {
            p.curve == EllipticCurve::P256 && decoded_len(&p.x) == 32 && decoded_len(&p.y) == 32
        }
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.curve == EllipticCurve::Ed25519 && decoded_len(&p.x) == 32
        }
        (AlgorithmParameters::RSA(p), Algorithm::RS256) => {
            decoded_len(&p.n) >= MIN_RSA_MODULUS_BYTES && decoded_len(&p.e) > 0
        }
        _ => false,
    };
    if !fits {
        return Err("its key type or size does not fit its alg");
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| "unreadable key material")?;
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    Ok(VerifyKey {
        algorithm,
        key,
        validation,
    })
}

/// Length of a base64url value, 0 if it is not one.
fn decoded_len(s: &str) -> usize {
    URL_SAFE_NO_PAD.decode(s).map_or(0, |b| b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn ec(kid: &str, alg: &str) -> serde_json::Value {
        json!({"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": kid, "alg": alg, "use": "sig"})
    }

    #[test]
    fn only_allowed_algorithms_and_fitting_keys_are_kept() {
        let set = json!({"keys": [
            ec("good", "ES256"),
            ec("no-alg", "ES256").as_object().map(|o| { let mut o = o.clone(); o.remove("alg"); o }).unwrap(),
            ec("hmac-alg", "HS256"),
            ec("wrong-family", "RS256"),
            ec("ps", "PS256"),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "oct", "alg": "HS256"},
            {"kty": "EC", "crv": "P-384", "x": X, "y": Y, "kid": "p384", "alg": "ES256"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "enc", "alg": "ES256", "use": "enc"},
            {"kty": "EC", "crv": "P-256", "x": X, "y": Y, "alg": "ES256"},
            {"kty": "OKP", "crv": "Ed25519", "x": X, "kid": "ed", "alg": "EdDSA"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "small-rsa", "alg": "RS256"},
        ]});
        let keys = parse_jwks(&set).unwrap();
        let mut kids: Vec<_> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["ed", "good"]);
        assert_eq!(keys["good"].algorithm, Algorithm::ES256);
        assert_eq!(keys["ed"].algorithm, Algorithm::EdDSA);
    }

    #[test]
    fn a_kid_published_twice_is_dropped() {
        let set = json!({"keys": [ec("k", "ES256"), ec("k", "ES256"), ec("j", "ES256")]});
        let keys = parse_jwks(&set).unwrap();
        assert!(!keys.contains_key("k"));
        assert!(keys.contains_key("j"));
    }

    #[test]
    fn a_document_without_keys_is_an_error() {
        assert!(parse_jwks(&json!({"keys": {}})).is_err());
        assert!(parse_jwks(&json!([])).is_err());
        assert!(parse_jwks(&json!({"keys": []})).unwrap().is_empty());
    }
}
