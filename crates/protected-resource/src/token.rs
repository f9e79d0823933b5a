//! The access token as presented, kept out of every `Debug` and log line.

use aws_lc_rs::digest;

use crate::error::GuardError;

/// The longest token looked at. Tessera's tokens are well under 1 KiB; a
/// bigger one is junk, refused before it costs any parsing or a request to
/// the authorization server.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A bearer token in RFC 6750 `b64token` syntax. Its `Debug` is redacted and
/// it has no `Display`: the only way to the text is [`BearerToken::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// Checks the RFC 6750 §2.1 syntax:
    /// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
    pub fn parse(s: &str) -> Result<Self, GuardError> {
        if s.is_empty() {
            return Err(GuardError::InvalidRequest("the bearer token is empty"));
        }
        if s.len() > MAX_TOKEN_LEN {
            return Err(GuardError::InvalidToken("the token is too long"));
        }
        if !is_b64token(s) {
            return Err(GuardError::InvalidRequest(
                "the bearer token has characters outside the b64token syntax",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The token itself, for verification. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the token: what caches key on, so a memory dump of the
    /// cache yields no usable token.
    pub(crate) fn fingerprint(&self) -> TokenFingerprint {
        let d = digest::digest(&digest::SHA256, self.0.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        TokenFingerprint(out)
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// The SHA-256 of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenFingerprint(pub(crate) [u8; 32]);

fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64token_syntax() {
        for ok in ["a", "abc.def.ghi", "A-Z_0~9+/", "abc==", "a="] {
            assert!(BearerToken::parse(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "", "=", "==", "a b", "tok@en", "a=b", "a\tb", "é", "a,b", "\"a\"",
        ] {
            assert!(
                matches!(BearerToken::parse(bad), Err(GuardError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_is_redacted() {
        let t = BearerToken::parse("s3cr3t-token").unwrap();
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }

    #[test]
    fn the_fingerprint_is_sha256() {
        let t = BearerToken::parse("abc").unwrap();
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            t.fingerprint().0[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "and never the token itself"
        );
    }
}
