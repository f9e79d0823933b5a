//! The guard's parsers of untrusted input, opened to the fuzz targets
//! (`fuzz/` at the workspace root) behind the `fuzzing` feature: the JWK
//! set as the AS serves it, the `Authorization` header, and a JWT access
//! token verified against a key set, all through the very functions a
//! request goes through (only the HTTP fetch and the cache are left out).

use axum::http::HeaderValue;

use crate::claims::TokenClaims;
use crate::clock::UnixTime;
use crate::error::GuardError;
use crate::jwks::parse_jwks;
use crate::jwt::{Expected, access_token_header, check, verify_signature};

/// The `kid`s of the usable keys in a JWKS document (sorted), or why it is
/// no key set.
pub fn usable_kids(body: &[u8]) -> Result<Vec<String>, &'static str> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| "not JSON")?;
    let mut kids: Vec<String> = parse_jwks(&value)?.into_keys().collect();
    kids.sort();
    Ok(kids)
}

/// An `Authorization` header's bearer token (RFC 6750 §2.1), if it has one.
pub fn bearer_from_header(value: &[u8]) -> Result<Option<String>, GuardError> {
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return Ok(None);
    };
    Ok(crate::extract::parse_authorization(&value)?.map(|t| t.expose().to_owned()))
}

/// A JWT access token checked as the guard's JWT mode checks it, against
/// the keys of `jwks` (a JWKS document), for `issuer` and `resource`.
pub fn verify_access_token(
    jwks: &[u8],
    token: &str,
    issuer: &str,
    resource: &str,
    leeway: i64,
    now: UnixTime,
) -> Result<TokenClaims, GuardError> {
    let value: serde_json::Value = serde_json::from_slice(jwks)
        .map_err(|_| GuardError::Unavailable("the key set is not JSON".into()))?;
    let keys = parse_jwks(&value).map_err(|why| GuardError::Unavailable(why.into()))?;
    let (header, kid) = access_token_header(token)?;
    let key = keys.get(&kid).ok_or(GuardError::InvalidToken(
        "the token is signed with an unknown key",
    ))?;
    let claims = verify_signature(token, &header, key)?;
    check(
        claims,
        &Expected {
            issuer,
            resource,
            leeway,
        },
        now,
    )
}
