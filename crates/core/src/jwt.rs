//! JWT access tokens (RFC 9068) and the keys that sign them.

use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents,
};
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
    /// ECDSA over P-256 with SHA-256: the default (small keys, fast signing).
    Es256,
    /// Ed25519.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit key, for resources whose
    /// JWT libraries know nothing else.
    Rs256,
}

impl SigningAlgorithm {
    /// Every algorithm, in the order they are offered to operators.
    pub const ALL: [Self; 3] = [Self::Es256, Self::EdDsa, Self::Rs256];

    /// The JWS `alg` name (RFC 7518, RFC 8037).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Result<Self, KeyError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| KeyError::UnsupportedAlgorithm(s.to_owned()))
    }

    fn jws(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
            Self::Rs256 => Algorithm::RS256,
        }
    }
}

impl std::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::parse(s)
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
    /// which is what the store keeps (sealed).
    pub fn generate(kid: String, algorithm: SigningAlgorithm) -> Result<(Self, Vec<u8>), KeyError> {
        let der = match algorithm {
            SigningAlgorithm::Es256 => {
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .and_then(|pair| pair.to_pkcs8v1())
                    .map_err(|_| KeyError::Generate)?
                    .as_ref()
                    .to_vec()
            }
            SigningAlgorithm::EdDsa => Ed25519KeyPair::generate()
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(|_| KeyError::Generate)?
                .as_ref()
                .to_vec(),
            SigningAlgorithm::Rs256 => {
                let pair =
                    RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
                let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::Generate)?;
                der.as_ref().to_vec()
            }
        };
        let key = Self::from_pkcs8(kid, algorithm, &der)?;
        Ok((key, der))
    }

    /// Loads a key from its PKCS#8 DER.
    pub fn from_pkcs8(
        kid: String,
        algorithm: SigningAlgorithm,
        der: &[u8],
    ) -> Result<Self, KeyError> {
        let (encoding, public) = match algorithm {
            SigningAlgorithm::Es256 => {
                let pair =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                        .map_err(|_| KeyError::Malformed("P-256"))?;
                // An uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = pair.public_key().as_ref();
                if point.len() != 65 || point[0] != 4 {
                    return Err(KeyError::Malformed("P-256"));
                }
                let public = serde_json::json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                });
                (EncodingKey::from_ec_der(der), public)
            }
            SigningAlgorithm::EdDsa => {
                let pair =
                    Ed25519KeyPair::from_pkcs8(der).map_err(|_| KeyError::Malformed("Ed25519"))?;
                // RFC 8037 §2: the 32-byte public key, base64url.
                let public = serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
                });
                (EncodingKey::from_ed_der(der), public)
            }
            SigningAlgorithm::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| KeyError::Malformed("RSA"))?;
                if pair.public_modulus_len() < MIN_RSA_MODULUS_BYTES {
                    return Err(KeyError::Malformed("RSA (2048 bits or more)"));
                }
                let rsa_private_key = rsa_private_key_of_pkcs8(der, &pair)?;
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                // RFC 7518 §6.3.1: unsigned big-endian, no leading zero octets,
                // which is how aws-lc-rs hands the components out.
                let public = serde_json::json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(&components.n),
                    "e": URL_SAFE_NO_PAD.encode(&components.e),
                });
                (EncodingKey::from_rsa_der(rsa_private_key), public)
            }
        };
        let mut public_jwk = public;
        // Only public members are ever put in the JWK: the private half of
        // each algorithm ("d", "p", "q", …) has no way in.
        public_jwk["use"] = "sig".into();
        public_jwk["alg"] = algorithm.as_str().into();
        public_jwk["kid"] = kid.as_str().into();
        Ok(Self {
            kid,
            algorithm,
            encoding,
            public_jwk,
        })
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
        self.sign(ACCESS_TOKEN_TYP, claims)
    }

    /// Signs `claims` with the given `typ` and this key's `kid`. The
    /// algorithm is always the key's own, so `none` cannot be produced.
    pub(crate) fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(self.algorithm.jws());
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

/// 2048 bits: NIST SP 800-131A's floor for RSA signatures.
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// The rsaEncryption OID (1.2.840.113549.1.1.1), DER-encoded with its tag.
const RSA_ENCRYPTION_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// The RFC 8017 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (RFC 5208).
///
/// jsonwebtoken's aws-lc backend signs RS256 with `RsaKeyPair::from_der`,
/// which reads `RSAPrivateKey`, not PKCS#8; its PEM route, which would unwrap
/// the PKCS#8 for us, needs the `use_pem` feature and two more ASN.1 crates.
/// The structure is fixed and small, so it is unwrapped here, and the result
/// is checked by parsing it the way jsonwebtoken will and comparing public
/// keys, so a mistake here is a load error, never a wrong key.
fn rsa_private_key_of_pkcs8<'a>(der: &'a [u8], pair: &RsaKeyPair) -> Result<&'a [u8], KeyError> {
    let malformed = || KeyError::Malformed("RSA");
    let (info, rest) = der_element(der, 0x30).ok_or_else(malformed)?;
    if !rest.is_empty() {
        return Err(malformed());
    }
    let (version, info) = der_element(info, 0x02).ok_or_else(malformed)?;
    let (algorithm, info) = der_element(info, 0x30).ok_or_else(malformed)?;
    let (private_key, _attributes) = der_element(info, 0x04).ok_or_else(malformed)?;
    if version != [0] || !algorithm.starts_with(RSA_ENCRYPTION_OID) {
        return Err(malformed());
    }
    let inner = RsaKeyPair::from_der(private_key).map_err(|_| malformed())?;
    if inner.public_key().as_ref() != pair.public_key().as_ref() {
        return Err(malformed());
    }
    Ok(private_key)
}

/// Splits one DER element with tag `tag` off the front of `input`: its
/// contents and what follows. Definite lengths only (DER has no others).
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, mut rest) = rest.split_first()?;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        // Long form: the low bits say how many length octets follow.
        let octets = usize::from(len0 & 0x7f);
        if octets == 0 || octets > 4 || rest.len() < octets {
            return None;
        }
        let (len_bytes, after) = rest.split_at(octets);
        rest = after;
        len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
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

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "http://localhost:9001".into(),
            sub: "alice".into(),
            aud: "http://localhost:9002".into(),
            client_id: "c1".into(),
            scope: "a b".into(),
            iat: 1,
            exp: i64::MAX / 2,
            jti: "j".into(),
            auth_time: None,
        }
    }

    /// Generate, reload from PKCS#8, sign, and verify with nothing but the
    /// published JWK, as a resource server would.
    fn round_trip(
        algorithm: SigningAlgorithm,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        install_crypto_provider();
        let (key, der) = SigningKey::generate("k1".into(), algorithm)?;
        let reloaded = SigningKey::from_pkcs8("k1".into(), algorithm, &der)?;
        assert_eq!(reloaded.public_jwk(), key.public_jwk());
        let claims = claims();
        // The reloaded key signs: what the store gives back must work.
        let token = reloaded.sign_access_token(&claims)?;
        let header = decode_header(&token)?;
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some("k1"));
        assert_eq!(header.alg, algorithm.jws());
        let jwk: Jwk = serde_json::from_value(key.public_jwk().clone())?;
        let mut validation = Validation::new(algorithm.jws());
        validation.set_audience(&["http://localhost:9002"]);
        let data = decode::<AccessTokenClaims>(&token, &DecodingKey::from_jwk(&jwk)?, &validation)?;
        assert_eq!(data.claims, claims);

        let published = key.public_jwk().clone();
        assert_eq!(published["kid"], "k1");
        assert_eq!(published["alg"], algorithm.as_str());
        assert_eq!(published["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(
                published.get(private).is_none(),
                "no `{private}` in the JWK"
            );
        }
        // Another key of the same algorithm must not verify it.
        let (other, _) = SigningKey::generate("k2".into(), algorithm)?;
        let other_jwk: Jwk = serde_json::from_value(other.public_jwk().clone())?;
        assert!(
            decode::<AccessTokenClaims>(&token, &DecodingKey::from_jwk(&other_jwk)?, &validation)
                .is_err()
        );
        Ok(published)
    }

    #[test]
    fn es256_tokens_verify_with_the_published_jwk() -> Result<(), Box<dyn std::error::Error>> {
        let jwk = round_trip(SigningAlgorithm::Es256)?;
        assert_eq!(
            (jwk["kty"].as_str(), jwk["crv"].as_str()),
            (Some("EC"), Some("P-256"))
        );
        Ok(())
    }

    #[test]
    fn eddsa_tokens_verify_with_the_published_jwk() -> Result<(), Box<dyn std::error::Error>> {
        let jwk = round_trip(SigningAlgorithm::EdDsa)?;
        assert_eq!(
            (jwk["kty"].as_str(), jwk["crv"].as_str()),
            (Some("OKP"), Some("Ed25519"))
        );
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap_or_default())?;
        assert_eq!(x.len(), 32);
        Ok(())
    }

    #[test]
    fn rs256_tokens_verify_with_the_published_jwk() -> Result<(), Box<dyn std::error::Error>> {
        let jwk = round_trip(SigningAlgorithm::Rs256)?;
        assert_eq!(jwk["kty"], "RSA");
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap_or_default())?;
        assert_eq!(n.len(), 256, "a 2048-bit modulus");
        assert_ne!(n[0], 0, "no leading zero octet (RFC 7518 §6.3.1.1)");
        assert_eq!(jwk["e"], "AQAB", "e = 65537");
        Ok(())
    }

    #[test]
    fn a_key_of_another_algorithm_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        for (a, b) in [
            (SigningAlgorithm::Es256, SigningAlgorithm::EdDsa),
            (SigningAlgorithm::EdDsa, SigningAlgorithm::Rs256),
            (SigningAlgorithm::Rs256, SigningAlgorithm::Es256),
        ] {
            let (_, der) = SigningKey::generate("k".into(), a)?;
            assert!(
                matches!(
                    SigningKey::from_pkcs8("k".into(), b, &der),
                    Err(KeyError::Malformed(_))
                ),
                "{a} key loaded as {b}"
            );
        }
        assert!(SigningKey::from_pkcs8("k".into(), SigningAlgorithm::Rs256, b"\x30\x00").is_err());
        Ok(())
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in SigningAlgorithm::ALL {
            assert_eq!(SigningAlgorithm::parse(a.as_str()).ok(), Some(a));
        }
        assert!(SigningAlgorithm::parse("none").is_err());
        assert!(SigningAlgorithm::parse("HS256").is_err());
        assert!(SigningAlgorithm::parse("es256").is_err());
    }

    #[test]
    fn der_elements_split_with_short_and_long_lengths() {
        assert_eq!(
            der_element(&[0x04, 0x01, 0xaa, 0xbb], 0x04),
            Some((&[0xaa][..], &[0xbb][..]))
        );
        let mut long = vec![0x04, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(7u8, 256));
        assert_eq!(
            der_element(&long, 0x04).map(|(c, r)| (c.len(), r.len())),
            Some((256, 0))
        );
        assert_eq!(der_element(&[0x04, 0x02, 0xaa], 0x04), None, "truncated");
        assert_eq!(der_element(&[0x30, 0x00], 0x04), None, "wrong tag");
        assert_eq!(der_element(&[0x04, 0x80], 0x04), None, "indefinite length");
    }
}
