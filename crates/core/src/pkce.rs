//! PKCE (RFC 7636), `S256` only.
//!
//! `plain` exposes the verifier to anyone who sees the authorization request,
//! so it is refused and never advertised (docs/conformance.md decisions). The method
//! stored with the code is the one used at the token endpoint: the token
//! request cannot choose it.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

use crate::error::OAuthError;

/// The `code_challenge_method`s this server accepts, and advertises in its
/// metadata: the same list does both.
pub const SUPPORTED_METHODS: &[&str] = &["S256"];

/// A validated S256 code challenge: the base64url SHA-256 of a verifier.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Validates the challenge parameters of an authorization request.
    /// `Ok(None)` when neither was sent.
    pub fn from_request(
        challenge: Option<&str>,
        method: Option<&str>,
    ) -> Result<Option<Self>, OAuthError> {
        match (challenge, method) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(OAuthError::invalid_request(
                "code_challenge_method was sent without code_challenge",
            )),
            (Some(_), None) => Err(OAuthError::invalid_request(
                "code_challenge_method is required and must be S256",
            )),
            (Some(_), Some(m)) if !SUPPORTED_METHODS.contains(&m) => Err(
                OAuthError::invalid_request("code_challenge_method must be S256"),
            ),
            (Some(c), Some(_)) => {
                // RFC 7636 §4.2 ABNF: 43-128 unreserved characters. An S256
                // challenge is the 43-character base64url of a SHA-256.
                if !is_unreserved_43_to_128(c) || c.len() != 43 {
                    return Err(OAuthError::invalid_request(
                        "code_challenge must be the 43-character base64url SHA-256 of the verifier",
                    ));
                }
                Ok(Some(Self(c.to_owned())))
            }
        }
    }

    /// Wraps a challenge read back from the store.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The challenge for a verifier, as a client computes it.
    pub fn s256_of(verifier: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes())))
    }

    /// Checks a token request's `code_verifier` against this challenge.
    /// Every failure is `invalid_grant` (RFC 7636 §4.6).
    pub fn verify(&self, verifier: Option<&str>) -> Result<(), OAuthError> {
        let verifier = verifier
            .ok_or_else(|| OAuthError::invalid_grant("code_verifier is required for this code"))?;
        if !is_unreserved_43_to_128(verifier) {
            return Err(OAuthError::invalid_grant(
                "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]",
            ));
        }
        let computed = Self::s256_of(verifier);
        if bool::from(computed.0.as_bytes().ct_eq(self.0.as_bytes())) {
            Ok(())
        } else {
            Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ))
        }
    }
}

/// RFC 7636 §4.1: `43*128unreserved`, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
pub fn is_unreserved_43_to_128(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;

    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(CodeChallenge::s256_of(RFC_VERIFIER).as_str(), RFC_CHALLENGE);
        let c = CodeChallenge::from_request(Some(RFC_CHALLENGE), Some("S256"));
        assert_eq!(
            c.clone().map(|c| c.map(|c| c.verify(Some(RFC_VERIFIER)))),
            Ok(Some(Ok(())))
        );
    }

    #[test]
    fn plain_and_unknown_methods_are_refused() {
        for m in [None, Some("plain"), Some("S512"), Some("s256")] {
            let e = CodeChallenge::from_request(Some(RFC_CHALLENGE), m).err();
            assert_eq!(e.map(|e| e.code), Some(ErrorCode::InvalidRequest), "{m:?}");
        }
    }

    #[test]
    fn challenge_abnf_is_enforced() {
        for c in [
            "short",
            &"a".repeat(42),
            &"a".repeat(129),
            &format!("{}+", &RFC_CHALLENGE[..42]),
        ] {
            assert!(
                CodeChallenge::from_request(Some(c), Some("S256")).is_err(),
                "{c}"
            );
        }
    }

    #[test]
    fn the_challenge_itself_is_not_a_verifier() {
        let c = CodeChallenge::from_stored(RFC_CHALLENGE.into());
        assert_eq!(
            c.verify(Some(RFC_CHALLENGE)).map_err(|e| e.code),
            Err(ErrorCode::InvalidGrant)
        );
        assert_eq!(
            c.verify(None).map_err(|e| e.code),
            Err(ErrorCode::InvalidGrant)
        );
    }

    #[test]
    fn verifier_abnf_is_enforced_even_when_the_hash_would_match() {
        for v in [
            "a".repeat(42),
            "a".repeat(129),
            format!("{}+/", "a".repeat(41)),
        ] {
            let c = CodeChallenge::s256_of(&v);
            assert_eq!(
                c.verify(Some(&v)).map_err(|e| e.code),
                Err(ErrorCode::InvalidGrant),
                "{v}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_valid_verifier_matches_its_own_challenge(v in "[A-Za-z0-9._~-]{43,128}") {
            prop_assert!(CodeChallenge::s256_of(&v).verify(Some(&v)).is_ok());
        }

        #[test]
        fn a_different_verifier_never_matches(v in "[A-Za-z0-9._~-]{43,128}", w in "[A-Za-z0-9._~-]{43,128}") {
            prop_assume!(v != w);
            prop_assert!(CodeChallenge::s256_of(&v).verify(Some(&w)).is_err());
        }
    }
}
