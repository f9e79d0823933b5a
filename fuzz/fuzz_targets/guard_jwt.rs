//! The guard's JWT and JWKS parsing (protected-resource `jwks.rs`,
//! `jwt.rs`, `extract.rs`): a JWKS document, 0xFF, then a token (also read
//! as an `Authorization` header). Parsing and verification answer with
//! claims or a `GuardError`, never a panic; a token that verifies was
//! signed with a key the set publishes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_fuzz::{ISSUER, NOW, RESOURCE};
use tessera_protected_resource::fuzzing::{bearer_from_header, usable_kids, verify_access_token};

fuzz_target!(|data: &[u8]| {
    let (jwks, token) = tessera_fuzz::split(data);
    let kids = usable_kids(jwks);
    let _ = bearer_from_header(token);
    let Ok(token) = std::str::from_utf8(token) else {
        return;
    };
    if let Ok(claims) = verify_access_token(jwks, token, ISSUER, RESOURCE, 30, NOW) {
        assert!(kids.is_ok_and(|k| !k.is_empty()));
        assert!(claims.audience.iter().any(|a| a == RESOURCE));
        assert!(claims.expires_at.saturating_add(30) > NOW);
    }
    // The same token against the harness's own key set.
    let _ = verify_access_token(
        tessera_fuzz::jwks().as_bytes(),
        token,
        ISSUER,
        RESOURCE,
        30,
        NOW,
    );
});
