//! The redirect-URI matcher (core `redirect_uri.rs`): a registered URI,
//! 0xFF, a requested one. Matching is exact except the port of a loopback
//! IP literal, and never panics; neither does the registration check or
//! building a response URI.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::redirect_uri::{Mode, matches, validate_registration, with_response_params};

fuzz_target!(|data: &[u8]| {
    let (registered, requested) = tessera_fuzz::split(data);
    let (Ok(registered), Ok(requested)) = (
        std::str::from_utf8(registered),
        std::str::from_utf8(requested),
    ) else {
        return;
    };
    let _ = validate_registration(registered, Mode::Production);
    let _ = validate_registration(requested, Mode::Development);
    assert!(matches(registered, registered));
    if matches(registered, requested) && registered != requested {
        // Only the loopback-port exception lets two different URIs match:
        // same loopback prefix, and equal once the ports are gone.
        let prefix = ["http://127.0.0.1", "http://[::1]"]
            .into_iter()
            .find(|p| registered.starts_with(p) && requested.starts_with(p))
            .expect("different URIs match only on a loopback IP literal");
        let without_port = |u: &str| {
            let rest = &u[prefix.len()..];
            match rest.strip_prefix(':') {
                Some(after) => after
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .to_owned(),
                None => rest.to_owned(),
            }
        };
        assert_eq!(without_port(registered), without_port(requested));
        assert!(without_port(requested).starts_with('/'));
    }
    let _ = with_response_params(registered, &[("code", requested), ("state", registered)]);
});
