//! Reading a JWT's segments without verification (the tests that need a
//! verified token verify it against the JWKS themselves).

use base64::Engine as _;

/// The claims of a JWT, read without verification.
pub fn jwt_claims(token: &str) -> serde_json::Value {
    jwt_part(token, 1)
}

/// Segment `i` (0: header, 1: claims) of a JWT, decoded.
pub fn jwt_part(token: &str, i: usize) -> serde_json::Value {
    let seg = token
        .split('.')
        .nth(i)
        .unwrap_or_else(|| panic!("not a JWT: {token}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg)
        .unwrap_or_else(|e| panic!("JWT segment {i} is not base64url ({e}): {token}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT segment {i} is not JSON ({e})"))
}
