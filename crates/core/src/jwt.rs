//! JWT access tokens (RFC 9068) and the keys that sign them.

use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::UnixTime;

/// RFC 9068 §2.1: access-token JWTs are typed `at+jwt`.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: UnixTime,
    pub exp: UnixTime,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<UnixTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generate,
    #[error("the stored key is not a valid {0} PKCS#8 key")]
    Malformed(&'static str),
    #[error("unsupported signing algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    #[error("signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Algorithms Tessera signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    Es256,
}

impl SigningAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> Result<Self, KeyError> {
        match s {
            "ES256" => Ok(Self::Es256),
            other => Err(KeyError::UnsupportedAlgorithm(other.to_owned())),
        }
    }
}

/// A private signing key with its id and public JWK.
pub struct SigningKey {
    kid: String,
    algorithm: SigningAlgorithm,
    encoding: EncodingKey,
    public_jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new key and returns it with its PKCS#8 (v1) DER encoding,
    /// which is what the store keeps.
    pub fn generate(kid: String, algorithm: SigningAlgorithm) -> Result<(Self, Vec<u8>), KeyError> {
        match algorithm {
            SigningAlgorithm::Es256 => {
                let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| KeyError::Generate)?;
                let der = pair
                    .to_pkcs8v1()
                    .map_err(|_| KeyError::Generate)?
                    .as_ref()
                    .to_vec();
                let key = Self::from_pkcs8(kid, algorithm, &der)?;
                Ok((key, der))
            }
        }
    }

    /// Loads a key from its PKCS#8 DER.
    pub fn from_pkcs8(
        kid: String,
        algorithm: SigningAlgorithm,
        der: &[u8],
    ) -> Result<Self, KeyError> {
        match algorithm {
            SigningAlgorithm::Es256 => {
                let pair =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                        .map_err(|_| KeyError::Malformed("P-256"))?;
                // An uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = pair.public_key().as_ref();
                if point.len() != 65 || point[0] != 4 {
                    return Err(KeyError::Malformed("P-256"));
                }
                let public_jwk = serde_json::json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                    "use": "sig",
                    "alg": algorithm.as_str(),
                    "kid": kid,
                });
                Ok(Self {
                    kid,
                    algorithm,
                    encoding: EncodingKey::from_ec_der(der),
                    public_jwk,
                })
            }
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The public half as a JWK (RFC 7517), for `/jwks.json`.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    /// Signs access-token claims with `typ: at+jwt` and this key's `kid`.
    pub fn sign_access_token(&self, claims: &AccessTokenClaims) -> Result<String, KeyError> {
        let mut header = Header::new(match self.algorithm {
            SigningAlgorithm::Es256 => Algorithm::ES256,
        });
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

/// Selects aws-lc-rs as jsonwebtoken's crypto backend for this process. Safe
/// to call more than once.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed, which is fine.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, jwk::Jwk};

    #[test]
    fn signed_tokens_verify_with_the_published_jwk() -> Result<(), Box<dyn std::error::Error>> {
        install_crypto_provider();
        let (key, der) = SigningKey::generate("k1".into(), SigningAlgorithm::Es256)?;
        let reloaded = SigningKey::from_pkcs8("k1".into(), SigningAlgorithm::Es256, &der)?;
        assert_eq!(reloaded.public_jwk(), key.public_jwk());
        let claims = AccessTokenClaims {
            iss: "http://localhost:9001".into(),
            sub: "alice".into(),
            aud: "http://localhost:9002".into(),
            client_id: "c1".into(),
            scope: "a b".into(),
            iat: 1,
            exp: i64::MAX / 2,
            jti: "j".into(),
            auth_time: None,
        };
        let token = key.sign_access_token(&claims)?;
        let header = decode_header(&token)?;
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some("k1"));
        let jwk: Jwk = serde_json::from_value(key.public_jwk().clone())?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["http://localhost:9002"]);
        let data = decode::<AccessTokenClaims>(&token, &DecodingKey::from_jwk(&jwk)?, &validation)?;
        assert_eq!(data.claims, claims);
        assert!(
            key.public_jwk().get("d").is_none(),
            "no private part in the JWK"
        );
        Ok(())
    }
}
