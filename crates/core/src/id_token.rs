//! OpenID Connect ID tokens (OIDC Core §2, §3.1.3.6, §12.2).
//!
//! An ID token says who the user is, to the client (`aud`), signed by one of
//! our keys. Tessera issues them from the token endpoint only (code flow),
//! so `nonce` is echoed from the authorization request when there was one,
//! and `at_hash` binds the token to the access token issued with it.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::UnixTime;
use crate::jwt::{KeyError, SigningAlgorithm, SigningKey};
use crate::scope::Scope;

/// The `typ` of ID tokens: plain `JWT` (OIDC sets none; RFC 7519 §5.1
/// recommends this value), which keeps them distinct from `at+jwt` access
/// tokens so neither can stand in for the other.
pub const ID_TOKEN_TYP: &str = "JWT";

/// The scope that asks for an ID token.
pub const OPENID: &str = "openid";

/// The only authentication method Tessera has: a password (RFC 8176 `pwd`).
pub const AMR_PASSWORD: &str = "pwd";

/// The claims of an ID token (OIDC Core §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The client. A single audience, so `azp` is not needed (§2: it is
    /// required only with several audiences).
    pub aud: String,
    pub exp: UnixTime,
    pub iat: UnixTime,
    pub auth_time: UnixTime,
    /// Exactly the authorization request's `nonce`; never on refresh (§12.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// Whether a grant's scope asks for ID tokens.
pub fn wants_id_token(scope: &Scope) -> bool {
    scope.contains(OPENID)
}

/// What an ID token is about, for [`claims`].
#[derive(Debug, Clone)]
pub struct IdTokenFacts<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub client_id: &'a str,
    pub auth_time: UnixTime,
    /// `Some` only for the code exchange; `None` on refresh.
    pub nonce: Option<&'a str>,
    /// The access token issued alongside, for `at_hash`.
    pub access_token: Option<&'a str>,
    pub algorithm: SigningAlgorithm,
    pub now: UnixTime,
    pub lifetime: i64,
}

/// The claims of the ID token described by `facts`.
pub fn claims(facts: &IdTokenFacts<'_>) -> IdTokenClaims {
    IdTokenClaims {
        iss: facts.issuer.to_owned(),
        sub: facts.subject.to_owned(),
        aud: facts.client_id.to_owned(),
        exp: facts.now.saturating_add(facts.lifetime),
        iat: facts.now,
        auth_time: facts.auth_time,
        nonce: facts.nonce.map(str::to_owned),
        at_hash: facts.access_token.map(|t| token_hash(t, facts.algorithm)),
        amr: vec![AMR_PASSWORD.to_owned()],
    }
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash of the token's
/// ASCII octets, with the hash of the JWS algorithm (SHA-256 for RS256 and
/// ES256; SHA-512 for EdDSA with Ed25519, as other providers do), base64url.
pub fn token_hash(token: &str, algorithm: SigningAlgorithm) -> String {
    let alg = match algorithm {
        SigningAlgorithm::Es256 | SigningAlgorithm::Rs256 => &digest::SHA256,
        SigningAlgorithm::EdDsa => &digest::SHA512,
    };
    let d = digest::digest(alg, token.as_bytes());
    let bytes = d.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

impl SigningKey {
    /// Signs ID-token claims with `typ: JWT` and this key's `kid`.
    pub fn sign_id_token(&self, claims: &IdTokenClaims) -> Result<String, KeyError> {
        self.sign(ID_TOKEN_TYP, claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(nonce: Option<&'static str>) -> IdTokenFacts<'static> {
        IdTokenFacts {
            issuer: "https://as.example",
            subject: "u1",
            client_id: "c1",
            auth_time: 100,
            nonce,
            access_token: Some("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            algorithm: SigningAlgorithm::Rs256,
            now: 200,
            lifetime: 600,
        }
    }

    #[test]
    fn at_hash_matches_the_oidc_core_example() {
        // OIDC Core Appendix A.3/A.4 uses this token and value for RS256.
        assert_eq!(
            token_hash(
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
                SigningAlgorithm::Rs256
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(token_hash("x", SigningAlgorithm::EdDsa).len(), 43);
    }

    #[test]
    fn the_nonce_is_echoed_exactly_and_omitted_without_one() {
        let c = claims(&facts(Some("n-0S6_WzA2Mj")));
        assert_eq!(c.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
        assert_eq!((c.iat, c.exp, c.auth_time), (200, 800, 100));
        assert_eq!(c.amr, vec!["pwd".to_owned()]);
        let json = serde_json::to_value(claims(&facts(None))).unwrap_or_default();
        assert!(json.get("nonce").is_none());
        assert_eq!(json["aud"], "c1");
    }

    #[test]
    fn id_tokens_are_typed_jwt_and_never_unsigned() -> Result<(), Box<dyn std::error::Error>> {
        crate::jwt::install_crypto_provider();
        for alg in SigningAlgorithm::ALL {
            let (key, _) = SigningKey::generate("k".into(), alg)?;
            let token = key.sign_id_token(&claims(&facts(None)))?;
            let header = jsonwebtoken::decode_header(&token)?;
            assert_eq!(header.typ.as_deref(), Some("JWT"));
            assert_eq!(format!("{:?}", header.alg), alg.as_str());
            assert_eq!(token.split('.').filter(|p| !p.is_empty()).count(), 3);
        }
        Ok(())
    }
}
