//! The client's ID-token and JWKS parsing (client `id_token.rs`,
//! `jwks.rs`): a JWKS document, 0xFF, an ID token, 0xFF, a
//! `Cache-Control` value. Checking answers with an identity or an error,
//! never a panic; an accepted token is from the expected issuer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_client::fuzzing::{jwks_lifetime, verify_id_token};
use tessera_fuzz::{CLIENT_ID, ISSUER, NOW};

fuzz_target!(|data: &[u8]| {
    let (jwks, rest) = tessera_fuzz::split(data);
    let (token, cache_control) = tessera_fuzz::split(rest);
    if let Ok(cc) = std::str::from_utf8(cache_control) {
        assert!(jwks_lifetime(Some(cc)) <= std::time::Duration::from_secs(24 * 3600));
    }
    let Ok(token) = std::str::from_utf8(token) else {
        return;
    };
    let now = u64::try_from(NOW).unwrap_or_default();
    for nonce in [Some("n-0123456789"), None] {
        if let Ok(identity) = verify_id_token(jwks, token, ISSUER, CLIENT_ID, nonce, "at", now) {
            assert_eq!(identity.issuer, ISSUER);
        }
    }
    let _ = verify_id_token(
        tessera_fuzz::jwks().as_bytes(),
        token,
        ISSUER,
        CLIENT_ID,
        None,
        "at",
        now,
    );
});
