//! The client's parsers of what the authorization server sends, opened to
//! the fuzz targets (`fuzz/` at the workspace root) behind the `fuzzing`
//! feature: an ID token checked against a JWK set (both as received, JSON
//! and compact JWS) and a JWKS response's `Cache-Control`, through the
//! very functions the client uses (only the HTTP fetch and the cache are
//! left out).

use std::time::{Duration, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;

use crate::error::Error;
use crate::id_token::{Expected, verify};
use crate::identity::Identity;

/// An ID token checked as the client checks one after a code exchange
/// (`nonce` given) or a refresh (`None`), against the JWKS document `jwks`.
pub fn verify_id_token(
    jwks: &[u8],
    id_token: &str,
    issuer: &str,
    client_id: &str,
    nonce: Option<&str>,
    access_token: &str,
    now_secs: u64,
) -> Result<Identity, Error> {
    let keys: JwkSet = serde_json::from_slice(jwks)
        .map_err(|_| Error::Jwks("the key set is not a JWK set".into()))?;
    crate::id_token::kid(id_token)?;
    verify(
        id_token,
        &keys,
        &Expected {
            issuer,
            client_id,
            nonce,
            access_token,
            now: UNIX_EPOCH
                .checked_add(Duration::from_secs(now_secs))
                .unwrap_or(UNIX_EPOCH),
        },
    )
}

/// How long a JWKS response may be used, from its `Cache-Control`.
pub fn jwks_lifetime(cache_control: Option<&str>) -> Duration {
    crate::jwks::lifetime(cache_control)
}
