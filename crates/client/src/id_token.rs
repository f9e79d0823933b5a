//! OpenID Connect ID tokens (OIDC Core §3.1.3.7): the client sends a fresh
//! `nonce` with every request that asks for `openid`, and accepts an ID
//! token only when every check passes.
//!
//! Written here rather than taken from the `openidconnect` crate because the
//! rest of the client is built on `oauth2` (its sibling): the ID-token
//! checks are a small, self-contained addition, and one client type keeps
//! one token-response type. Signatures are verified with jsonwebtoken
//! (aws-lc-rs) against the AS's JWKS, with the algorithm pinned to the key.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use crate::error::Error;
use crate::identity::Identity;

/// Clock skew tolerated on `exp`.
const LEEWAY_SECS: u64 = 60;

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    #[serde(deserialize_with = "one_or_many")]
    aud: Vec<String>,
    exp: u64,
    /// Required by OIDC Core §2 (jsonwebtoken checks presence only of the
    /// claims it validates itself).
    #[allow(dead_code)]
    iat: u64,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    at_hash: Option<String>,
    #[serde(default)]
    auth_time: Option<i64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(a) => vec![a],
        Aud::Many(a) => a,
    })
}

/// What the ID token must match.
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The request's nonce; `None` for a refresh (OIDC §12.2: no nonce then).
    pub nonce: Option<&'a str>,
    /// The access token issued with it, for `at_hash`.
    pub access_token: &'a str,
    pub now: SystemTime,
}

fn invalid(why: &'static str) -> Error {
    Error::InvalidIdToken(why)
}

/// The algorithm a key may verify: its own `alg` if it states one, else the
/// one its type allows. Never `none`, never HMAC.
fn key_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(KeyAlgorithm::RS256) if by_type == Algorithm::RS256 => Some(by_type),
        Some(KeyAlgorithm::ES256) if by_type == Algorithm::ES256 => Some(by_type),
        Some(KeyAlgorithm::EdDSA) if by_type == Algorithm::EdDSA => Some(by_type),
        Some(_) => None,
    }
}

/// `at_hash`: the left half of the access token's hash, with the hash of
/// the signing algorithm (SHA-512 for EdDSA/Ed25519), base64url.
fn token_hash(token: &str, alg: Algorithm) -> String {
    let digest = match alg {
        Algorithm::EdDSA => &aws_lc_rs::digest::SHA512,
        _ => &aws_lc_rs::digest::SHA256,
    };
    let d = aws_lc_rs::digest::digest(digest, token.as_bytes());
    let bytes = d.as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// The `kid` an ID token's header names: the key set is looked up by it
/// before the token is verified.
pub(crate) fn kid(id_token: &str) -> Result<String, Error> {
    jsonwebtoken::decode_header(id_token)
        .map_err(|_| invalid("unreadable header"))?
        .kid
        .ok_or(invalid("no kid"))
}

/// Verifies `id_token` against `keys` and `expected`.
pub(crate) fn verify(
    id_token: &str,
    keys: &JwkSet,
    expected: &Expected<'_>,
) -> Result<Identity, Error> {
    // An error only means a provider is already installed.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| invalid("unreadable header"))?;
    let kid = header.kid.as_deref().ok_or(invalid("no kid"))?;
    let jwk = keys
        .find(kid)
        .ok_or(invalid("signed by a key the AS does not publish"))?;
    let alg = key_algorithm(jwk).ok_or(invalid("a key of an unsupported type"))?;
    if header.alg != alg {
        return Err(invalid("the algorithm does not match the key"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("an unusable key"))?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    // Expiry is checked below against the injected clock.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "aud", "sub", "exp", "iat"]);
    let claims = jsonwebtoken::decode::<Claims>(id_token, &key, &validation)
        .map_err(|_| invalid("bad signature, issuer or audience"))?
        .claims;

    let now = expected
        .now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Saturating: an `exp` near u64::MAX (a validly signed token) overflowed
    // here, a panic in debug builds (the `client_signed_claims` fuzz target
    // finds it within seconds).
    if claims.exp.saturating_add(LEEWAY_SECS) <= now {
        return Err(invalid("expired"));
    }
    // §3.1.3.7 (4, 5): with several audiences, azp names us.
    if claims.aud.len() > 1 && claims.azp.is_none() {
        return Err(invalid("several audiences and no azp"));
    }
    if claims
        .azp
        .as_deref()
        .is_some_and(|azp| azp != expected.client_id)
    {
        return Err(invalid("azp is another client"));
    }
    match (expected.nonce, &claims.nonce) {
        (Some(sent), Some(got)) if bool::from(sent.as_bytes().ct_eq(got.as_bytes())) => {}
        (Some(_), _) => return Err(invalid("the nonce is missing or not ours")),
        (None, _) => {}
    }
    if let Some(at_hash) = &claims.at_hash
        && *at_hash != token_hash(expected.access_token, alg)
    {
        return Err(invalid("at_hash does not match the access token"));
    }
    // On refresh, that `iss` and `sub` are the first ID token's is checked
    // by `Identity::merge_refreshed`, with its own error.
    Ok(Identity {
        issuer: claims.iss,
        subject: claims.sub,
        name: claims.name,
        preferred_username: claims.preferred_username,
        email: claims.email,
        auth_time: claims.auth_time,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const ISSUER: &str = "https://as.example";
    const CLIENT: &str = "photo-printer";
    const ACCESS_TOKEN: &str = "eyJ.access.token";
    const NOW: u64 = 1_800_000_000;

    struct Signer {
        encoding: EncodingKey,
        keys: JwkSet,
    }

    fn signer() -> Signer {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        // A throwaway test key; aws-lc's key generation takes its own RNG.
        #[allow(clippy::disallowed_methods)]
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref(); // 0x04 || x || y
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let keys: JwkSet = serde_json::from_value(json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
            "x": b64(&public[1..33]), "y": b64(&public[33..65]),
        }]}))
        .unwrap();
        Signer {
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            keys,
        }
    }

    fn claims() -> serde_json::Value {
        json!({
            "iss": ISSUER, "sub": "user-1", "aud": CLIENT, "exp": NOW + 300, "iat": NOW,
            "nonce": "n-0123456789", "auth_time": NOW - 5, "name": "Alice Liddell",
            "at_hash": token_hash(ACCESS_TOKEN, Algorithm::ES256),
        })
    }

    fn sign(s: &Signer, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, claims, &s.encoding).unwrap()
    }

    fn expected(nonce: Option<&str>) -> Expected<'_> {
        Expected {
            issuer: ISSUER,
            client_id: CLIENT,
            nonce,
            access_token: ACCESS_TOKEN,
            now: UNIX_EPOCH + std::time::Duration::from_secs(NOW),
        }
    }

    #[test]
    fn a_good_id_token_says_who_logged_in() {
        let s = signer();
        let id = verify(
            &sign(&s, &claims()),
            &s.keys,
            &expected(Some("n-0123456789")),
        )
        .unwrap();
        assert_eq!(id.issuer, ISSUER);
        assert_eq!(id.subject, "user-1");
        assert_eq!(id.display_name(), "Alice Liddell");
        assert_eq!(id.auth_time, Some(NOW as i64 - 5));
    }

    #[test]
    fn every_check_refuses_what_it_should() {
        let s = signer();
        let refused = |change: &dyn Fn(&mut serde_json::Value), e: Expected<'_>, why: &str| {
            let mut c = claims();
            change(&mut c);
            let r = verify(&sign(&s, &c), &s.keys, &e);
            assert!(matches!(r, Err(Error::InvalidIdToken(_))), "{why}: {r:?}");
        };
        let nonce = Some("n-0123456789");
        refused(
            &|c| c["nonce"] = json!("other"),
            expected(nonce),
            "another nonce",
        );
        refused(
            &|c| {
                c.as_object_mut().unwrap().remove("nonce");
            },
            expected(nonce),
            "no nonce",
        );
        refused(
            &|c| c["aud"] = json!("someone-else"),
            expected(nonce),
            "another audience",
        );
        refused(
            &|c| c["iss"] = json!("https://evil.example"),
            expected(nonce),
            "another issuer",
        );
        refused(
            &|c| c["exp"] = json!(NOW - LEEWAY_SECS - 1),
            expected(nonce),
            "expired",
        );
        refused(
            &|c| c["at_hash"] = json!("AAAAAAAAAAAAAAAAAAAAAA"),
            expected(nonce),
            "at_hash",
        );
        refused(
            &|c| c["azp"] = json!("other-client"),
            expected(nonce),
            "azp",
        );
        refused(
            &|c| c["aud"] = json!([CLIENT, "other"]),
            expected(nonce),
            "two audiences, no azp",
        );
        refused(
            &|c| {
                c.as_object_mut().unwrap().remove("iat");
            },
            expected(nonce),
            "no iat",
        );
    }

    /// Issue 13 item 6 (found while writing the fuzz targets; the
    /// `client_signed_claims` target finds it within seconds): a
    /// validly signed ID token with an `exp` near u64::MAX overflowed the
    /// expiry check (a panic in debug builds); it is far in the future.
    #[test]
    fn issue13_an_exp_near_the_end_of_time_does_not_overflow() {
        let s = signer();
        for exp in [u64::MAX, u64::MAX - LEEWAY_SECS + 1] {
            let mut c = claims();
            c["exp"] = json!(exp);
            let r = verify(&sign(&s, &c), &s.keys, &expected(Some("n-0123456789")));
            assert!(r.is_ok(), "{exp}: {r:?}");
        }
    }

    #[test]
    fn expiry_allows_a_little_clock_skew() {
        let s = signer();
        let mut c = claims();
        c["exp"] = json!(NOW - 10);
        assert!(verify(&sign(&s, &c), &s.keys, &expected(Some("n-0123456789"))).is_ok());
    }

    #[test]
    fn a_refreshed_id_token_needs_no_nonce() {
        let s = signer();
        let mut c = claims();
        c.as_object_mut().unwrap().remove("nonce");
        assert!(verify(&sign(&s, &c), &s.keys, &expected(None)).is_ok());
    }

    #[test]
    fn unknown_keys_unsigned_and_tampered_tokens_are_refused() {
        let s = signer();
        let good = sign(&s, &claims());
        let other = signer();
        let r = verify(&good, &other.keys, &expected(Some("n-0123456789")));
        assert!(
            matches!(r, Err(Error::InvalidIdToken(_))),
            "another key with the same kid"
        );
        let (head, rest) = good.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let mut changed = claims();
        changed["sub"] = json!("admin");
        let tampered = format!("{head}.{}.{sig}", b64(changed));
        assert!(verify(&tampered, &s.keys, &expected(Some("n-0123456789"))).is_err());
        let none = format!(
            "{}.{}.",
            b64(json!({"alg": "none", "kid": "k1"})),
            b64(claims())
        );
        assert!(verify(&none, &s.keys, &expected(Some("n-0123456789"))).is_err());
    }
}
