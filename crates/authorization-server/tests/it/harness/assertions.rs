//! What an answer must look like: a response read once ([`Reply`]), the
//! OAuth JSON error and token response shapes, and the introspection and
//! revocation outcomes.

use base64::Engine as _;

use super::app::TestApp;
use super::fixtures::{ACCESS_TOKEN_TTL, ALL_SECRETS};
use super::requests::{ClientAuth, auth_of};

/// A response, read once.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn read(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        Self {
            status,
            headers,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text))
    }
}

pub fn assert_json(r: &Reply) {
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "content-type {ct:?}: {}",
        r.text
    );
}

/// `Cache-Control` has `no-store` among its values.
pub fn assert_no_store(r: &Reply) {
    let cc = r.header("cache-control").unwrap_or_default();
    assert!(
        cc.split(',')
            .any(|v| v.trim().eq_ignore_ascii_case("no-store")),
        "cache-control {cc:?}"
    );
}

/// Token responses and OAuth errors, success or error, are JSON and never
/// cached: `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1,
/// §5.2; conformance suite `CheckTokenEndpointCacheHeaders`).
pub fn assert_json_no_store(r: &Reply) {
    assert_json(r);
    assert_no_store(r);
    assert_eq!(r.header("pragma"), Some("no-cache"), "pragma: {}", r.text);
}

/// Neither the body nor any header carries a client secret of the fixture
/// ([`ALL_SECRETS`]) or any of `never` (the codes, tokens and verifiers the
/// request sent).
pub fn assert_no_leak(r: &Reply, never: &[&str]) {
    for s in ALL_SECRETS.iter().chain(never).filter(|s| !s.is_empty()) {
        assert!(!r.text.contains(s), "the body leaks {s:?}: {}", r.text);
        for (name, value) in &r.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(!value.contains(s), "header {name} leaks {s:?}");
        }
    }
}

/// RFC 6749 §5.2 (and `ValidateErrorFromTokenEndpointResponseError`):
/// `error` and `error_description` are `%x20-21 / %x23-5B / %x5D-7E`, which
/// also rules out CR, LF and TAB.
pub fn is_error_char(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// `error_uri` is `%x21 / %x23-5B / %x5D-7E`.
pub fn is_error_uri_char(c: char) -> bool {
    c != ' ' && is_error_char(c)
}

/// The body of an OAuth error: only `error`, `error_description` and
/// `error_uri`, each a string in its RFC character set; `error` not empty.
pub fn assert_error_body(body: &serde_json::Value) {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    for (key, value) in obj {
        assert!(
            ["error", "error_description", "error_uri"].contains(&key.as_str()),
            "unexpected member {key} in {body}"
        );
        let value = value
            .as_str()
            .unwrap_or_else(|| panic!("{key} is not a string: {body}"));
        let allowed = if key == "error_uri" {
            is_error_uri_char
        } else {
            is_error_char
        };
        assert!(
            value.chars().all(allowed),
            "{key} {value:?} is outside the RFC 6749 character set"
        );
    }
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {body}"));
    assert!(!error.is_empty(), "an empty error in {body}");
}

/// An OAuth JSON error (RFC 6749 §5.2): `status`, `error`, JSON, not cached
/// ([`assert_json_no_store`]), the body of [`assert_error_body`]; no client
/// secret and nothing of `never` comes back anywhere in the answer
/// ([`assert_no_leak`]).
pub async fn expect_oauth_error(
    r: reqwest::Response,
    status: u16,
    error: &str,
    never: &[&str],
) -> Reply {
    let a = Reply::read(r).await;
    assert_eq!(a.status, status, "status; body {}", a.text);
    assert_json_no_store(&a);
    let body = a.json();
    assert_error_body(&body);
    assert_eq!(body["error"], error, "{body}");
    assert_no_leak(&a, never);
    a
}

/// A successful token response (RFC 6749 §5.1) in any configuration: 200,
/// JSON, not cached, no secret in it, `Bearer`, an `access_token`; returns
/// the body.
pub async fn expect_token_response(r: reqwest::Response) -> serde_json::Value {
    let a = Reply::read(r).await;
    assert_eq!(a.status, 200, "token response: {}", a.text);
    assert_json_no_store(&a);
    assert_no_leak(&a, &[]);
    let body = a.json();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["access_token"].is_string(), "{body}");
    body
}

/// A successful token response of the default configuration:
/// [`expect_token_response`], and `expires_in` is [`ACCESS_TOKEN_TTL`],
/// `scope` is present, the access token is a JWT and any refresh token is
/// opaque.
pub async fn expect_tokens(r: reqwest::Response) -> serde_json::Value {
    let body = expect_token_response(r).await;
    assert_eq!(
        body["expires_in"].as_i64(),
        Some(ACCESS_TOKEN_TTL),
        "{body}"
    );
    assert!(body["scope"].is_string(), "{body}");
    assert_jwt_charset(&access_token(&body));
    if let Some(rt) = body.get("refresh_token") {
        assert_opaque("refresh_token", rt.as_str().expect("string refresh_token"));
    }
    body
}

/// An opaque value (code, refresh token, opaque access token): 43+
/// base64url characters (so not a JWT), at least 128 bits.
pub fn assert_opaque(what: &str, s: &str) {
    assert!(!s.contains('.'), "an opaque {what} is not a JWT: {s}");
    assert!(s.len() >= 43, "{what} is {} characters: {s}", s.len());
    assert!(
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{what} {s:?}"
    );
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("{what} is not base64url: {e}"));
    assert!(bytes.len() >= 16, "{what} carries fewer than 128 bits");
}

/// A JWT: three non-empty base64url segments.
pub fn assert_jwt_charset(s: &str) {
    let parts: Vec<&str> = s.split('.').collect();
    assert_eq!(parts.len(), 3, "{s}");
    for p in parts {
        assert!(
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{s}"
        );
    }
}

/// The `access_token` of a token response.
pub fn access_token(body: &serde_json::Value) -> String {
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {body}"))
        .to_owned()
}

/// The `refresh_token` of a token response.
pub fn refresh_token(body: &serde_json::Value) -> String {
    body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {body}"))
        .to_owned()
}

impl TestApp {
    /// `POST /revoke` that must succeed: 200, `Cache-Control: no-store`, an
    /// empty body or `{}` (RFC 7009 §2.2).
    pub async fn revoke_ok(&self, token: &str, hint: Option<&str>, auth: ClientAuth<'_>) {
        let r = Reply::read(self.revoke(token, hint, auth).await).await;
        assert_eq!(r.status, 200, "revoke: {}", r.text);
        assert_no_store(&r);
        assert!(
            r.text.is_empty() || r.text.trim() == "{}",
            "revoke body: {}",
            r.text
        );
    }

    /// What `caller` (Basic, with its fixture secret) learns about `token`:
    /// 200, JSON, `Cache-Control: no-store`.
    pub async fn introspection(&self, caller: &str, token: &str) -> serde_json::Value {
        let r = Reply::read(self.introspect(token, auth_of(caller)).await).await;
        assert_eq!(r.status, 200, "introspection by {caller}: {}", r.text);
        assert_json(&r);
        assert_no_store(&r);
        r.json()
    }

    /// `token` is active for `caller`; returns the introspection answer.
    pub async fn assert_active(&self, caller: &str, token: &str, what: &str) -> serde_json::Value {
        let v = self.introspection(caller, token).await;
        assert_eq!(v["active"], true, "{what}: active for {caller}: {v}");
        v
    }

    /// `token` is inactive for `caller`: exactly `{"active": false}`, no
    /// other member (RFC 7662 §2.2).
    pub async fn assert_inactive(&self, caller: &str, token: &str, what: &str) {
        let v = self.introspection(caller, token).await;
        assert_eq!(
            v,
            serde_json::json!({ "active": false }),
            "{what}: inactive for {caller}"
        );
    }
}
