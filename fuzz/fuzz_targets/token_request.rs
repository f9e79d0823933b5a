//! The token-request parser (core `token_request.rs`): an `Authorization`
//! header, then 0xFF, then a form body. Client authentication and the
//! grant are answered with a value or an OAuth error, never a panic; a
//! Basic client id or secret reading never holds a NUL, and a secret the
//! client form-encoded (RFC 6749 §2.3.1) comes back exactly.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use tessera_core::params::Params;
use tessera_core::token_request::{ClientAuthentication, client_authentication, grant_request};

fuzz_target!(|data: &[u8]| {
    let (header, body) = tessera_fuzz::split(data);
    let params = Params::parse(body);
    let header = std::str::from_utf8(header).ok().filter(|h| !h.is_empty());
    if let Ok(auth) = client_authentication(header, &params) {
        assert!(!auth.client_id().contains('\0'));
        if let ClientAuthentication::Basic { .. } = &auth {
            assert!(!auth.client_id().is_empty());
            for reading in auth.secret_readings() {
                assert!(!reading.expose().contains('\0'));
            }
        }
    }
    let _ = grant_request(&params);
    // The round trip: the header's bytes as an id and a secret, encoded as
    // the RFC says.
    if let Some(text) = header
        && let Some((id, secret)) = text.split_once(':')
        && !id.is_empty()
        && !id.contains('\0')
        && !secret.contains('\0')
    {
        let enc = |s: &str| {
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                form_encode(id),
                form_encode(s)
            ))
        };
        let basic = format!("Basic {}", enc(secret));
        let auth = client_authentication(Some(&basic), &Params::default())
            .expect("well-formed Basic credentials are accepted");
        assert_eq!(auth.client_id(), id);
        assert_eq!(auth.secret_readings()[0].expose(), secret);
    }
});

/// application/x-www-form-urlencoded, as a client encodes it.
fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
