//! What the fuzz targets share: splitting one input into parts, and a
//! fixed Ed25519 key (deterministic signatures), published as a JWK set, so
//! the `*_signed_claims` targets can sign what the fuzzer writes and reach
//! the claim checks behind the signature.

use std::sync::OnceLock;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Separates the parts of one input (never in JSON, a JWT or UTF-8).
pub const SEPARATOR: u8 = 0xFF;

/// The key's seed; `make_seeds.py` uses the same one.
const SEED: [u8; 32] = [0x42; 32];
pub const KID: &str = "fuzz-ed";
pub const ISSUER: &str = "https://as.example";
pub const RESOURCE: &str = "https://rs.example";
pub const CLIENT_ID: &str = "photo-printer";
pub const NOW: i64 = 1_800_000_000;

/// `data` cut at the first [`SEPARATOR`] (all of it and nothing without one).
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == SEPARATOR) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn key() -> &'static Ed25519KeyPair {
    static KEY: OnceLock<Ed25519KeyPair> = OnceLock::new();
    KEY.get_or_init(|| Ed25519KeyPair::from_seed_unchecked(&SEED).expect("a 32-byte seed"))
}

/// The JWK set publishing the key (EdDSA, `use: sig`).
pub fn jwks() -> &'static str {
    static JWKS: OnceLock<String> = OnceLock::new();
    JWKS.get_or_init(|| {
        let x = URL_SAFE_NO_PAD.encode(key().public_key().as_ref());
        format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"{KID}","alg":"EdDSA","use":"sig"}}]}}"#
        )
    })
}

/// The NumericDate claims the checks do arithmetic on.
const NUMERIC_CLAIMS: &[&str] = &["exp", "nbf", "iat", "auth_time"];

/// `payload` (when it is a JSON object) with each NumericDate claim it has
/// replaced, one at a time, by each boundary value: a fuzzer rarely writes
/// the exact digits of u64::MAX - 59 by mutation, so the edges are tried
/// for every object it finds.
pub fn boundary_variants(payload: &[u8]) -> Vec<Vec<u8>> {
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(payload) else {
        return Vec::new();
    };
    let edges = [
        serde_json::json!(u64::MAX),
        serde_json::json!(u64::MAX - 59),
        serde_json::json!(i64::MAX),
        serde_json::json!(i64::MIN),
        serde_json::json!(-1),
        serde_json::json!(0),
        serde_json::json!(1e308),
        serde_json::json!(-1e308),
        serde_json::json!(0.5),
    ];
    let mut out = Vec::new();
    for name in NUMERIC_CLAIMS.iter().filter(|n| claims.contains_key(**n)) {
        for edge in &edges {
            let mut changed = claims.clone();
            changed.insert((*name).to_owned(), edge.clone());
            if let Ok(bytes) = serde_json::to_vec(&changed) {
                out.push(bytes);
            }
        }
    }
    out
}

/// A compact JWS of `header` and `payload` (the bytes as given, base64url)
/// signed with the key.
pub fn sign(header: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = key().sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}
