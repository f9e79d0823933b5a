//! Reading a JWT's segments without verification (the tests that need a
//! verified token verify it against the JWKS themselves), and a key that is
//! not the server's, to forge with.

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

/// A P-256 key that is not the server's (generated for these tests).
pub const FOREIGN_EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghwbxiQIricOTzGE7
P6ltoRVhPeuhUYswGmezqXQJpPWhRANCAASwlwsW/rb86AXDLXOpRbPPosUi18VM
7cdGmRM+n3lKL2NAWXtsZSueclZdrwxz+TrOwwX1jHvadcLugy2IsABh
-----END PRIVATE KEY-----
";

/// [`FOREIGN_EC_KEY`] as a signing key (its PKCS#8 DER).
pub fn foreign_key() -> jsonwebtoken::EncodingKey {
    let b64: String = FOREIGN_EC_KEY
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM body");
    jsonwebtoken::EncodingKey::from_ec_der(&der)
}
