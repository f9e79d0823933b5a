//! The client's ID-token checks behind a valid signature (client
//! `id_token.rs`): a JWS header, 0xFF, a payload, signed with the
//! harness's key and checked against its JWK set at several times. Every
//! header and claim shape is answered with an identity or an error, never
//! a panic (an `exp` near u64::MAX overflowed the expiry check). Every
//! payload is also tried with its NumericDate claims at boundary values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_client::fuzzing::verify_id_token;
use tessera_fuzz::{CLIENT_ID, ISSUER, NOW};

fuzz_target!(|data: &[u8]| {
    let (header, payload) = tessera_fuzz::split(data);
    let jwks = tessera_fuzz::jwks().as_bytes();
    let now = u64::try_from(NOW).unwrap_or_default();
    let mut payloads = vec![payload.to_vec()];
    payloads.extend(tessera_fuzz::boundary_variants(payload));
    for payload in &payloads {
        let token = tessera_fuzz::sign(header, payload);
        for at in [now, 0, u64::MAX] {
            for nonce in [Some("n-0123456789"), None] {
                if let Ok(identity) =
                    verify_id_token(jwks, &token, ISSUER, CLIENT_ID, nonce, "at", at)
                {
                    assert_eq!(identity.issuer, ISSUER);
                }
            }
        }
    }
});
