//! What an answer must look like: a response read once ([`Reply`]), the
//! OAuth JSON error and token response shapes, and the introspection and
//! revocation outcomes.

use super::app::TestApp;
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

/// An OAuth JSON error (RFC 6749 §5.2): `status`, `error`, JSON, no-store,
/// only `error`/`error_description`/`error_uri`, each in the RFC character
/// set; `never` must not come back anywhere in the answer.
pub async fn expect_oauth_error(
    r: reqwest::Response,
    status: u16,
    error: &str,
    never: &[&str],
) -> Reply {
    let a = Reply::read(r).await;
    assert_eq!(a.status, status, "status; body {}", a.text);
    assert_json(&a);
    assert_no_store(&a);
    let body = a.json();
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
        assert!(
            value
                .bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
            "{key} {value:?} is outside the RFC 6749 character set"
        );
    }
    assert_eq!(body["error"], error, "{body}");
    for s in never.iter().filter(|s| !s.is_empty()) {
        assert!(!a.text.contains(s), "the body leaks {s:?}: {}", a.text);
    }
    a
}

/// A successful token response (RFC 6749 §5.1): 200, JSON, no-store,
/// `Bearer`; returns the body.
pub async fn expect_token_response(r: reqwest::Response) -> serde_json::Value {
    let a = Reply::read(r).await;
    assert_eq!(a.status, 200, "token response: {}", a.text);
    assert_json(&a);
    assert_no_store(&a);
    let body = a.json();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["access_token"].is_string(), "{body}");
    body
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
