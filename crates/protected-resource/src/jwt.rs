//! Mode 1: local verification of JWT access tokens (RFC 9068).

use std::sync::Arc;

use jsonwebtoken::Header;
use jsonwebtoken::errors::ErrorKind;
use serde::Deserialize;

use crate::claim_values::{Audience, NumericDate, check_lifetime};
use crate::claims::{TokenClaims, split_scope};
use crate::clock::{Clock, UnixTime};
use crate::error::GuardError;
use crate::jwks::{KeyCache, VerifyKey};
use crate::token::BearerToken;

pub(crate) struct JwtVerifier {
    pub(crate) issuer: String,
    pub(crate) resource: String,
    pub(crate) leeway: i64,
    pub(crate) keys: KeyCache,
    pub(crate) clock: Arc<dyn Clock>,
}

/// The claims as they come; every check is ours.
#[derive(Deserialize)]
pub(crate) struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<NumericDate>,
    nbf: Option<NumericDate>,
    iat: Option<NumericDate>,
    jti: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
    auth_time: Option<NumericDate>,
}

impl JwtVerifier {
    pub(crate) async fn verify(&self, token: &BearerToken) -> Result<TokenClaims, GuardError> {
        let token = token.expose();
        let (header, kid) = access_token_header(token)?;
        let key = self.keys.key(&kid).await?;
        let claims = verify_signature(token, &header, &key)?;
        check(
            claims,
            &Expected {
                issuer: &self.issuer,
                resource: &self.resource,
                leeway: self.leeway,
            },
            self.clock.now(),
        )
    }
}

/// What a token must be for to be accepted here.
pub(crate) struct Expected<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) leeway: i64,
}

/// The header of a JWT access token and the `kid` it names, checked before
/// any key is looked up.
pub(crate) fn access_token_header(token: &str) -> Result<(Header, String), GuardError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| GuardError::InvalidToken("the token is not a well-formed JWT"))?;
    // RFC 9068 §4: `typ` must be `at+jwt` (or its long form), which keeps
    // ID tokens and other JWTs signed by the same keys out.
    if !header.typ.as_deref().is_some_and(is_access_token_type) {
        return Err(GuardError::InvalidToken(
            "the token is not a JWT access token (typ must be at+jwt)",
        ));
    }
    // RFC 7515 §4.1.11: extensions we do not understand must not be
    // ignored; we understand none.
    if header.crit.is_some() {
        return Err(GuardError::InvalidToken(
            "the token has critical header parameters",
        ));
    }
    let kid = header
        .kid
        .clone()
        .ok_or(GuardError::InvalidToken("the token names no signing key"))?;
    Ok((header, kid))
}

/// The token's claims, once its signature verifies with `key`.
pub(crate) fn verify_signature(
    token: &str,
    header: &Header,
    key: &VerifyKey,
) -> Result<RawClaims, GuardError> {
    // The key fixes the algorithm; `alg` in the token only has to agree.
    if header.alg != key.algorithm {
        return Err(GuardError::InvalidToken(
            "the token's algorithm does not match its key",
        ));
    }
    jsonwebtoken::decode::<RawClaims>(token, &key.key, &key.validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => {
                GuardError::InvalidToken("the token's signature is invalid")
            }
            ErrorKind::Json(_) | ErrorKind::Utf8(_) | ErrorKind::Base64(_) => {
                GuardError::InvalidToken("the token's claims are malformed")
            }
            _ => GuardError::InvalidToken("the token cannot be verified"),
        })
}

/// The claims' checks against what is expected and the clock.
pub(crate) fn check(
    c: RawClaims,
    expected: &Expected<'_>,
    now: UnixTime,
) -> Result<TokenClaims, GuardError> {
    if c.iss.as_deref() != Some(expected.issuer) {
        return Err(GuardError::InvalidToken(
            "the token was not issued by the expected issuer",
        ));
    }
    let audience = c.aud.map(Audience::into_vec).unwrap_or_default();
    if !audience.iter().any(|a| a == expected.resource) {
        return Err(GuardError::InvalidToken(
            "the token is not meant for this resource",
        ));
    }
    let exp = c
        .exp
        .ok_or(GuardError::InvalidToken("the token has no expiry"))?;
    check_lifetime(now, expected.leeway, exp.0, c.nbf.map(|n| n.0))?;
    // RFC 9068 §2.2: required claims of a JWT access token.
    let (Some(subject), Some(client_id), Some(jti), Some(iat)) = (c.sub, c.client_id, c.jti, c.iat)
    else {
        return Err(GuardError::InvalidToken(
            "the token lacks a required claim (sub, client_id, jti, iat)",
        ));
    };
    Ok(TokenClaims {
        subject,
        client_id,
        scopes: split_scope(c.scope.as_deref()),
        expires_at: exp.0,
        audience,
        issuer: expected.issuer.to_owned(),
        jti: Some(jti),
        issued_at: Some(iat.0),
        auth_time: c.auth_time.map(|t| t.0),
    })
}

/// `at+jwt`, or `application/at+jwt` (RFC 9068 §4; media types compare
/// case-insensitively).
fn is_access_token_type(typ: &str) -> bool {
    let t = typ.strip_prefix("application/").unwrap_or(typ);
    t.eq_ignore_ascii_case("at+jwt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_types() {
        for ok in ["at+jwt", "AT+JWT", "application/at+jwt"] {
            assert!(is_access_token_type(ok), "{ok}");
        }
        for bad in [
            "JWT",
            "jwt",
            "at+jwt ",
            "application/jwt",
            "",
            "id_token+jwt",
        ] {
            assert!(!is_access_token_type(bad), "{bad}");
        }
    }
}
