//! The guard's claim checks behind a valid signature (protected-resource
//! `jwt.rs`, `claim_values.rs`): a JWS header, 0xFF, a payload, signed with
//! the harness's key, verified against its published JWK set. Every
//! header and claim shape is answered with claims or a `GuardError`, never
//! a panic; what is accepted is an `at+jwt` for this resource, unexpired.
//! Every payload is also tried with its NumericDate claims at boundary
//! values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_fuzz::{ISSUER, NOW, RESOURCE};
use tessera_protected_resource::fuzzing::verify_access_token;

fuzz_target!(|data: &[u8]| {
    let (header, payload) = tessera_fuzz::split(data);
    let jwks = tessera_fuzz::jwks().as_bytes();
    let mut payloads = vec![payload.to_vec()];
    payloads.extend(tessera_fuzz::boundary_variants(payload));
    for payload in &payloads {
        let token = tessera_fuzz::sign(header, payload);
        for now in [NOW, i64::MIN, i64::MAX] {
            for leeway in [0, 30, i64::MAX] {
                if let Ok(claims) = verify_access_token(jwks, &token, ISSUER, RESOURCE, leeway, now)
                {
                    assert!(claims.audience.iter().any(|a| a == RESOURCE));
                    assert_eq!(claims.issuer, ISSUER);
                    assert!(claims.expires_at.saturating_add(leeway) > now);
                }
            }
        }
    }
});
