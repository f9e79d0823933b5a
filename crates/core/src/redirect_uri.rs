//! Redirect URIs: what may be registered, how a requested URI is matched, and
//! how the authorization response is appended to it.
//!
//! Matching is exact string comparison (RFC 9700 §2.1, RFC 6749 §3.1.2.3),
//! with one exception: the port of an `http://127.0.0.1` or `http://[::1]`
//! URI may differ, for native apps that listen on an ephemeral port (RFC 8252
//! §7.3). Nothing is decoded, normalised or case-folded before comparing, so
//! encoded traversal, case tricks, userinfo and suffix games all fail.

use crate::error::OAuthError;

/// The deployment's trust posture, derived from the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Issuer on `http://localhost` or `http://127.0.0.1`: plain-HTTP
    /// `localhost` redirect URIs are allowed.
    Development,
    /// Issuer on https: `http` is allowed only for loopback IP literals.
    Production,
}

/// Query parameters that the authorization response sets. A registered URI
/// that already carries one would produce a polluted, ambiguous response
/// (Keycloak CVE-2026-9689 / CVE-2026-18209).
const RESPONSE_PARAMETERS: &[&str] = &[
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
    "access_token",
    "id_token",
    "token_type",
];

const LOOPBACK_PREFIXES: &[&str] = &["http://127.0.0.1", "http://[::1]"];

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("the redirect URI is not an absolute URI")]
    NotAbsolute,
    #[error("the redirect URI is not in canonical form (expected `{0}`)")]
    NotCanonical(String),
    #[error("the redirect URI must not contain a fragment")]
    Fragment,
    #[error("wildcards are not allowed in redirect URIs; register each URI exactly")]
    Wildcard,
    #[error("the redirect URI must not contain user information")]
    UserInfo,
    #[error("the redirect URI scheme `{0}` is not allowed")]
    Scheme(String),
    #[error("plain http redirect URIs are only allowed for loopback addresses")]
    PlainHttp,
    #[error("the redirect URI must not already carry the response parameter `{0}`")]
    ResponseParameter(String),
}

/// Checks a redirect URI for registration (RFC 6749 §3.1.2, RFC 9700 §2.1).
pub fn validate_registration(uri: &str, mode: Mode) -> Result<(), RegistrationError> {
    if uri.contains('*') {
        return Err(RegistrationError::Wildcard);
    }
    if uri.contains('#') {
        return Err(RegistrationError::Fragment);
    }
    let parsed = url::Url::parse(uri).map_err(|_| RegistrationError::NotAbsolute)?;
    // Anything the parser would rewrite (case, whitespace, default ports,
    // dot segments, escapes) is refused: what is registered is what is matched.
    if parsed.as_str() != uri {
        return Err(RegistrationError::NotCanonical(parsed.as_str().to_owned()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(RegistrationError::UserInfo);
    }
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let host = parsed.host_str().unwrap_or_default();
            let loopback_ip = host == "127.0.0.1" || host == "[::1]";
            let dev_localhost = mode == Mode::Development && host == "localhost";
            if !(loopback_ip || dev_localhost) {
                return Err(RegistrationError::PlainHttp);
            }
        }
        // Private-use schemes for native apps must be reverse domain names
        // (RFC 8252 §7.1); that also keeps out javascript:, data:, vbscript:,
        // file: and friends.
        s if s.contains('.') && !parsed.cannot_be_a_base() => {}
        s => return Err(RegistrationError::Scheme(s.to_owned())),
    }
    if let Some(name) = parsed
        .query_pairs()
        .map(|(k, _)| k)
        .find(|k| RESPONSE_PARAMETERS.contains(&k.as_ref()))
    {
        return Err(RegistrationError::ResponseParameter(name.into_owned()));
    }
    Ok(())
}

/// Whether `requested` matches `registered`: byte-for-byte equal, or equal
/// but for the port of a loopback IP literal.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    for prefix in LOOPBACK_PREFIXES {
        if let (Some(reg_rest), Some(req_rest)) = (
            registered.strip_prefix(prefix),
            requested.strip_prefix(prefix),
        ) {
            return strip_port(reg_rest).is_some_and(|reg| strip_port(req_rest) == Some(reg));
        }
    }
    false
}

/// `":<1-5 digits>/rest"` or `"/rest"` → `"/rest"`. Anything else after the
/// host (a dot, an `@`, a letter) is not a port and fails the match.
fn strip_port(rest: &str) -> Option<&str> {
    let Some(after_colon) = rest.strip_prefix(':') else {
        return rest.starts_with('/').then_some(rest);
    };
    let digits = after_colon.bytes().take_while(u8::is_ascii_digit).count();
    let (port, tail) = after_colon.split_at(digits);
    let port_ok = (1..=5).contains(&port.len()) && port.parse::<u16>().is_ok_and(|p| p > 0);
    (port_ok && tail.starts_with('/')).then_some(tail)
}

/// Chooses the redirect URI for an authorization request (RFC 6749 §3.1.2.3,
/// OAuth 2.1 §4.1.1). Returns the URI and whether the request named it
/// explicitly (then the token request must repeat it, RFC 6749 §4.1.3).
pub fn resolve<'a>(
    registered: &'a [String],
    requested: Option<&'a str>,
) -> Result<(&'a str, bool), OAuthError> {
    match requested {
        Some(uri) => {
            if registered.iter().any(|r| matches(r, uri)) {
                Ok((uri, true))
            } else {
                Err(OAuthError::invalid_request(
                    "the redirect_uri is not registered for this client",
                ))
            }
        }
        None => match registered {
            [only] => Ok((only.as_str(), false)),
            [] => Err(OAuthError::invalid_request(
                "this client has no registered redirect URI",
            )),
            _ => Err(OAuthError::invalid_request(
                "redirect_uri is required because this client registered several",
            )),
        },
    }
}

/// Appends the authorization response parameters to the redirect URI,
/// keeping a registered query (RFC 6749 §3.1.2). Registration refuses URIs
/// that already carry response parameters, so each appears exactly once.
pub fn with_response_params(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    let query = query.finish();
    let sep = if redirect_uri.contains('?') {
        if redirect_uri.ends_with('?') || redirect_uri.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    format!("{redirect_uri}{sep}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const REG: &str = "https://client.example/cb";

    #[test]
    fn conformance_1a_1_variants_never_match() {
        let variants = [
            "https://client.example/cb/",
            "https://client.example/cb?x=1",
            "https://client.example/CB",
            "HTTPS://client.example/cb",
            "https://CLIENT.example/cb",
            "http://client.example/cb",
            "https://client.example:443/cb",
            "https://client.example/cb#f",
            "https://client.example/cb/../evil",
            "https://client.example/cb/..;/evil",
            "https://client.example/cb%2F..%2Fevil",
            "https://client.example/cb%252f..%252f",
            "https://client.example.evil.com/cb",
            "https://client.example@evil.com/cb",
            "https://evil.com\\@client.example/cb",
            "https://www%2eclient%2eexample%2fcb%2f:y@evil.com/",
            "https://a@b@client.example/cb",
            "//evil.com",
            "/\tevil.com",
            " https://client.example/cb",
            "https://client.example/cb%00",
        ];
        for v in variants {
            assert!(!matches(REG, v), "{v:?} must not match");
        }
        assert!(matches(REG, REG));
    }

    #[test]
    fn conformance_1b_15_loopback_port_flexibility_only() {
        let reg = "http://127.0.0.1/cb";
        assert!(matches(reg, "http://127.0.0.1:53124/cb"));
        assert!(matches(
            "http://127.0.0.1:8080/cb",
            "http://127.0.0.1:53124/cb"
        ));
        assert!(matches("http://[::1]/cb", "http://[::1]:53124/cb"));
        for bad in [
            "http://127.0.0.1:53124/cb?bar=foo",
            "http://127.0.0.1:53124/other",
            "http://localhost:53124/cb",
            "http://127.0.0.1.evil.com/cb",
            "http://127.0.0.1@evil.com/cb",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:0/cb",
            "http://127.0.0.1:99999/cb",
            "http://127.0.0.1:+80/cb",
            "http://127.0.0.1:80@evil.com/cb",
            "https://127.0.0.1:53124/cb",
        ] {
            assert!(!matches(reg, bad), "{bad:?} must not match");
        }
        // No cross-match between the name and the IP literal, and no port
        // flexibility for names.
        assert!(!matches("http://localhost/cb", "http://127.0.0.1/cb"));
        assert!(!matches(
            "http://localhost:9000/cb",
            "http://localhost:9001/cb"
        ));
    }

    #[test]
    fn conformance_1b_17_dangerous_uris_cannot_be_registered() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "\tjavascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "DATA:text/html,x",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
            "https://x.example/cb#frag",
            "https://x.example/cb#",
            "/relative/cb",
            "cb",
            "https://x.example/*",
            "https://*.x.example/cb",
            "https://user:pw@x.example/cb",
            "https://X.example/cb",
            "https://x.example",
            "https://x.example:443/cb",
            "https://x.example/a/../cb",
            "https://x.example/cb?code=1",
            "https://x.example/cb?a=1&state=2",
            "https://x.example/cb?iss=x",
        ] {
            assert!(
                validate_registration(bad, Mode::Development).is_err(),
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn conformance_1b_16_plain_http_only_for_loopback() {
        assert_eq!(
            validate_registration("http://client.example/cb", Mode::Development),
            Err(RegistrationError::PlainHttp)
        );
        assert!(validate_registration("http://localhost:9000/callback", Mode::Development).is_ok());
        assert_eq!(
            validate_registration("http://localhost:9000/callback", Mode::Production),
            Err(RegistrationError::PlainHttp)
        );
        assert!(validate_registration("http://127.0.0.1/cb", Mode::Production).is_ok());
        assert!(validate_registration("http://[::1]/cb", Mode::Production).is_ok());
        assert!(
            validate_registration("https://client.example/cb?tenant=7", Mode::Production).is_ok()
        );
        assert!(validate_registration("com.example.app:/oauth2redirect", Mode::Production).is_ok());
    }

    #[test]
    fn redirect_uri_is_optional_only_with_exactly_one_registered() {
        let one = vec![REG.to_owned()];
        assert_eq!(resolve(&one, None), Ok((REG, false)));
        let two = vec![REG.to_owned(), "https://client.example/cb2".to_owned()];
        assert!(resolve(&two, None).is_err());
        assert_eq!(
            resolve(&two, Some("https://client.example/cb2")),
            Ok(("https://client.example/cb2", true))
        );
        assert!(resolve(&two, Some("https://client.example/cb3")).is_err());
    }

    #[test]
    fn conformance_1m_100_response_keeps_the_registered_query() {
        assert_eq!(
            with_response_params(
                "https://c.example/cb?tenant=7",
                &[("code", "a b"), ("state", "x&y")]
            ),
            "https://c.example/cb?tenant=7&code=a+b&state=x%26y"
        );
        assert_eq!(
            with_response_params(REG, &[("code", "1")]),
            "https://client.example/cb?code=1"
        );
    }

    proptest! {
        #[test]
        fn matcher_is_exact_for_non_loopback(reg in "https://[a-z]{1,8}\\.example/[a-z/]{0,10}", req in "\\PC{0,40}") {
            prop_assert_eq!(matches(&reg, &req), reg == req);
        }

        #[test]
        fn loopback_only_the_port_varies(path in "/[a-z0-9/?=&]{0,20}", port in 1u16.., suffix in "[^/:]{1,10}") {
            let reg = format!("http://127.0.0.1{path}");
            let with_port = format!("http://127.0.0.1:{port}{path}");
            prop_assert!(matches(&reg, &with_port));
            let tampered = format!("http://127.0.0.1{suffix}{path}");
            prop_assert!(!matches(&reg, &tampered) || tampered == reg);
        }

        /// Neither the matcher nor the registration check panics on any
        /// input; every URI matches itself.
        #[test]
        fn never_panics_and_is_reflexive(a in "\\PC{0,60}", b in "(https?://(127\\.0\\.0\\.1|\\[::1\\]|[a-z.]{1,10})(:[0-9+-]{0,7})?)?[/?#%a-z0-9:@.]{0,20}") {
            prop_assert!(matches(&a, &a));
            prop_assert!(matches(&b, &b));
            let _ = matches(&a, &b);
            let _ = validate_registration(&a, Mode::Production);
            let _ = validate_registration(&b, Mode::Development);
        }

        /// The response parameters appended to a registered URI come back
        /// exactly, after the registered query.
        #[test]
        fn response_parameters_round_trip(query in "(\\?[a-z]{1,5}=[a-z0-9]{0,5})?", code in "\\PC{1,20}", state in "\\PC{0,20}") {
            let base = format!("https://c.example/cb{query}");
            let location = with_response_params(&base, &[("code", &code), ("state", &state)]);
            let parsed = url::Url::parse(&location).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
            let n = pairs.len();
            prop_assert!(n >= 2);
            prop_assert_eq!(&pairs[n - 2], &("code".to_owned(), code));
            prop_assert_eq!(&pairs[n - 1], &("state".to_owned(), state));
            prop_assert!(location.starts_with(&base));
        }
    }
}
