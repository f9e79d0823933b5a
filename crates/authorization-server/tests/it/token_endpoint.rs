//! Token endpoint, codes, PKCE and refresh tokens (docs/conformance.md §1C, §1D, §1E, §1F, §1M).
//!
//! Black-box: every test talks HTTP to a real server. Every error answer goes
//! through [`expect_error`], which checks the status, the OAuth JSON shape,
//! the RFC 6749 §5.2 character set, the cache headers, and that no secret,
//! code or token sent in the request comes back.

use std::collections::BTreeSet;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::header::HeaderMap;
use serde_json::Value;
use tessera_core::pkce::CodeChallenge;
use tessera_core::secrets::{SecretString, TokenHash};

use crate::harness::*;

/// `c3`: confidential, `authorization_code` only, one redirect URI.
const C3_SECRET: &str = "c3-secret-0123456789-0123456789-abcdef";
/// `legacy`: confidential, opted out of PKCE.
const LEGACY_SECRET: &str = "legacy-secret-0123456789-0123456789";
/// The client `a b:c` of item 25: reserved characters in the id and secret.
const AB_ID: &str = "a b:c";
const AB_SECRET: &str = "p%&: +/=?#-0123456789abcdefghijklmn";
const AUDIENCE: &str = "https://photos.example";
const ACCESS_TOKEN_TTL: i64 = 600;
const DAY: i64 = 24 * 3600;
/// Every client secret of the fixture: none may ever appear in a response.
const ALL_SECRETS: &[&str] = &[C1_SECRET, C2_SECRET, C3_SECRET, LEGACY_SECRET, AB_SECRET];

// --- extra clients -------------------------------------------------------

async fn register_c3(app: &TestApp) {
    let mut spec = client("c3", Some(C3_SECRET), &[P1_REDIRECT], &["a", "b"]);
    spec.grant_types = vec!["authorization_code".into()];
    app.register(spec).await;
}

async fn register_p2(app: &TestApp) {
    app.register(client("p2", None, &["http://127.0.0.1/p2"], &["a", "b"]))
        .await;
}

async fn register_legacy(app: &TestApp) {
    let mut spec = client("legacy", Some(LEGACY_SECRET), &[P1_REDIRECT], &["a", "b"]);
    spec.require_pkce = false;
    app.register(spec).await;
}

// --- requests ------------------------------------------------------------

/// How a token request authenticates the client.
#[derive(Debug, Clone, Copy)]
enum Auth<'a> {
    /// `client_secret_basic`, form-encoded as RFC 6749 §2.3.1 says.
    Basic(&'a str, &'a str),
    /// `client_secret_post`.
    Post(&'a str, &'a str),
    /// `client_id` only (public clients).
    Public(&'a str),
    /// Nothing at all.
    Nothing,
}

fn auth_of(client_id: &str) -> Auth<'_> {
    match client_id {
        "c1" => Auth::Basic("c1", C1_SECRET),
        "c2" => Auth::Basic("c2", C2_SECRET),
        "c3" => Auth::Basic("c3", C3_SECRET),
        "legacy" => Auth::Basic("legacy", LEGACY_SECRET),
        AB_ID => Auth::Basic(AB_ID, AB_SECRET),
        other => Auth::Public(other),
    }
}

async fn token_as(app: &TestApp, form: &[(&str, &str)], auth: Auth<'_>) -> reqwest::Response {
    let mut form = form.to_vec();
    let basic = match auth {
        Auth::Basic(id, secret) => Some((id, secret)),
        Auth::Post(id, secret) => {
            form.push(("client_id", id));
            form.push(("client_secret", secret));
            None
        }
        Auth::Public(id) => {
            form.push(("client_id", id));
            None
        }
        Auth::Nothing => None,
    };
    app.token(&form, basic).await
}

/// The code grant of `flow`, with `verifier` as `code_verifier` (omitted when `None`).
fn code_form<'a>(flow: &'a Flow, verifier: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", flow.code.as_str()),
        ("redirect_uri", flow.redirect_uri.as_str()),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    form
}

async fn redeem_as(app: &TestApp, flow: &Flow, auth: Auth<'_>) -> reqwest::Response {
    token_as(app, &code_form(flow, Some(&flow.verifier)), auth).await
}

/// Redeems with the flow's own client authentication and the given verifier.
async fn redeem_with_verifier(
    app: &TestApp,
    flow: &Flow,
    verifier: Option<&str>,
) -> reqwest::Response {
    token_as(app, &code_form(flow, verifier), auth_of(&flow.client_id)).await
}

async fn refresh_as(
    app: &TestApp,
    refresh_token: &str,
    scope: Option<&str>,
    auth: Auth<'_>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    token_as(app, &form, auth).await
}

/// Front channel as alice (approving whatever is asked) for any request.
async fn flow_for(app: &TestApp, request: AuthRequest) -> Flow {
    let back = app
        .browser()
        .authorize_through_consent(app, &request, ALICE, ALICE_PASSWORD, None)
        .await;
    request.into_flow(&back)
}

/// Code and tokens for `client_id`, returning the token response.
async fn tokens(app: &TestApp, client_id: &str, scope: &str) -> Value {
    let flow = app.code_for(client_id, scope).await;
    expect_tokens(redeem_as(app, &flow, auth_of(client_id)).await).await
}

fn refresh_token_of(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .expect("a refresh_token")
        .to_owned()
}

fn access_token_of(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .expect("an access_token")
        .to_owned()
}

// --- answers -------------------------------------------------------------

/// A response, read once.
struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    async fn read(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        Self {
            status,
            headers,
            text,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

/// Token responses, success or error, are JSON and never cached (RFC 6749
/// §5.1, §5.2; conformance suite `CheckTokenEndpointCacheHeaders`).
fn assert_json_no_store(a: &Answer) {
    let ct = a.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "content-type {ct:?}: {}",
        a.text
    );
    let cc = a.header("cache-control").unwrap_or_default();
    assert!(
        cc.split(',')
            .any(|v| v.trim().eq_ignore_ascii_case("no-store")),
        "cache-control {cc:?}"
    );
    assert_eq!(a.header("pragma"), Some("no-cache"));
}

/// No body or header carries a client secret or any of `never`.
fn assert_no_leak(a: &Answer, never: &[&str]) {
    for s in ALL_SECRETS.iter().chain(never).filter(|s| !s.is_empty()) {
        assert!(!a.text.contains(s), "the body leaks {s:?}: {}", a.text);
        for (name, value) in &a.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(!value.contains(s), "header {name} leaks {s:?}");
        }
    }
}

/// RFC 6749 §5.2 (and `ValidateErrorFromTokenEndpointResponseError`):
/// `error` and `error_description` are `%x20-21 / %x23-5B / %x5D-7E`, which
/// also rules out CR, LF and TAB.
fn is_error_char(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// `error_uri` is `%x21 / %x23-5B / %x5D-7E`.
fn is_error_uri_char(c: char) -> bool {
    c != ' ' && is_error_char(c)
}

/// The body of an OAuth error: only `error`, `error_description` and
/// `error_uri`, each in its RFC character set.
fn assert_error_body(body: &Value) {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    for key in obj.keys() {
        assert!(
            ["error", "error_description", "error_uri"].contains(&key.as_str()),
            "unexpected member {key} in {body}"
        );
    }
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {body}"));
    assert!(
        !error.is_empty() && error.chars().all(is_error_char),
        "error {error:?}"
    );
    if let Some(d) = obj.get("error_description") {
        let d = d
            .as_str()
            .unwrap_or_else(|| panic!("error_description is not a string: {body}"));
        assert!(d.chars().all(is_error_char), "error_description {d:?}");
    }
    if let Some(u) = obj.get("error_uri") {
        let u = u
            .as_str()
            .unwrap_or_else(|| panic!("error_uri is not a string: {body}"));
        assert!(u.chars().all(is_error_uri_char), "error_uri {u:?}");
    }
}

/// An OAuth error answer with `status` and `error`; `never` lists what the
/// request sent (codes, tokens, verifiers) that must not come back.
async fn expect_error(r: reqwest::Response, status: u16, error: &str, never: &[&str]) -> Answer {
    let a = Answer::read(r).await;
    assert_eq!(a.status, status, "status; body {}", a.text);
    assert_json_no_store(&a);
    let body = a.json();
    assert_error_body(&body);
    assert_eq!(body["error"], error, "{body}");
    assert_no_leak(&a, never);
    a
}

/// 43+ characters of base64url: at least 256 bits of encoding, VSCHAR only.
fn assert_opaque(what: &str, s: &str) {
    assert!(s.len() >= 43, "{what} is {} characters: {s}", s.len());
    assert!(
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{what} {s:?}"
    );
    let bytes = URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("{what} is not base64url: {e}"));
    assert!(bytes.len() >= 16, "{what} carries fewer than 128 bits");
}

/// A JWT: three base64url segments.
fn assert_jwt_charset(s: &str) {
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

/// A successful token response (RFC 6749 §5.1).
async fn expect_tokens(r: reqwest::Response) -> Value {
    let a = Answer::read(r).await;
    assert_eq!(a.status, 200, "body {}", a.text);
    assert_json_no_store(&a);
    assert_no_leak(&a, &[]);
    let body = a.json();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(
        body["expires_in"].as_i64(),
        Some(ACCESS_TOKEN_TTL),
        "{body}"
    );
    assert!(body["scope"].is_string(), "{body}");
    assert_jwt_charset(&access_token_of(&body));
    if let Some(rt) = body.get("refresh_token") {
        assert_opaque("refresh_token", rt.as_str().expect("string refresh_token"));
    }
    body
}

fn jwt_segment(token: &str, i: usize) -> Value {
    let seg = token.split('.').nth(i).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).expect("base64url")).expect("JSON segment")
}

/// Verifies an access token with the published keys, pinned to ES256, and
/// returns its claims.
async fn verify_access_token(
    app: &TestApp,
    token: &str,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks: JwkSet = app.jwks().await;
    let header = jsonwebtoken::decode_header(token)?;
    let Some(jwk) = header.kid.as_deref().and_then(|kid| jwks.find(kid)) else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into());
    };
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&[AUDIENCE]);
    v.set_issuer(&[app.issuer()]);
    // The test clock is not the wall clock; exp is checked by hand.
    v.validate_exp = false;
    Ok(jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &v)?.claims)
}

fn events_of(events: &[String], kind: &str) -> usize {
    events.iter().filter(|k| *k == kind).count()
}

/// Changes one character (in the middle) to another base64url character.
fn tamper(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).expect("ascii")
}

fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// =========================================================================
// 1C. Token endpoint: general rules and client authentication
// =========================================================================

#[tokio::test]
async fn conformance_1c_20_post_and_form_only() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(code_form(&flow, Some(&flow.verifier)))
        .finish();

    // GET with the whole (valid) grant in the query: 405, OAuth JSON, no token.
    let r = app
        .http()
        .get(app.url(&format!("/token?{query}")))
        .header("authorization", basic_header("c1", C1_SECRET))
        .send()
        .await
        .unwrap();
    let a = expect_error(r, 405, "invalid_request", &never).await;
    assert_eq!(a.header("allow"), Some("POST"));

    // Other methods too.
    let r = app
        .http()
        .put(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .form(&code_form(&flow, Some(&flow.verifier)))
        .send()
        .await
        .unwrap();
    expect_error(r, 405, "invalid_request", &never).await;

    // A JSON body, even one carrying a valid grant: 400 invalid_request.
    let json = serde_json::json!({
        "grant_type": "authorization_code",
        "code": flow.code,
        "redirect_uri": flow.redirect_uri,
        "code_verifier": flow.verifier,
    });
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .json(&json)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request", &never).await;

    // A form-shaped body under another media type is not a form either.
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .header("content-type", "text/plain")
        .body(query.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request", &never).await;

    // None of those was processed: the same grant as a POSTed form (with a
    // charset parameter, as many clients send) succeeds.
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body(query)
        .send()
        .await
        .unwrap();
    expect_tokens(r).await;
}

#[tokio::test]
async fn conformance_1c_21_credentials_never_in_the_uri() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    let form = code_form(&flow, Some(&flow.verifier));

    // Both credentials in the query, the grant in the body.
    let url = app.url(&format!(
        "/token?client_id=c1&client_secret={}",
        form_encode(C1_SECRET)
    ));
    let r = app.http().post(url).form(&form).send().await.unwrap();
    expect_error(r, 401, "invalid_client", &never).await;

    // client_id in the body, the secret only in the query: a confidential
    // client without authentication.
    let url = app.url(&format!("/token?client_secret={}", form_encode(C1_SECRET)));
    let mut with_id = form.clone();
    with_id.push(("client_id", "c1"));
    let r = app.http().post(url).form(&with_id).send().await.unwrap();
    expect_error(r, 401, "invalid_client", &never).await;
    // A secret put in the URI is not logged either (URIs end up in logs,
    // which is why RFC 6749 §2.3.1 forbids them there).
    assert!(
        !captured_logs().contains(C1_SECRET),
        "the client secret reached the logs"
    );

    // Control: the same code with the secret where it belongs works, so the
    // refusals were about where the secret was.
    expect_tokens(redeem_as(&app, &flow, Auth::Post("c1", C1_SECRET)).await).await;
}

#[tokio::test]
async fn conformance_1c_22_bad_secret_with_basic() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let never = [
        flow.code.as_str(),
        flow.verifier.as_str(),
        "wrong-secret-0123456789-0123456789",
    ];

    let r = redeem_as(
        &app,
        &flow,
        Auth::Basic("c1", "wrong-secret-0123456789-0123456789"),
    )
    .await;
    let a = expect_error(r, 401, "invalid_client", &never).await;
    assert_eq!(
        a.header("www-authenticate"),
        Some("Basic realm=\"tessera\"")
    );
    insta::assert_json_snapshot!("invalid_client_bad_basic_secret", a.json());

    // An unknown client over Basic, a malformed Basic value and another
    // scheme are all Basic attempts: 401 with the challenge.
    let r = redeem_as(&app, &flow, Auth::Basic("nobody", C1_SECRET)).await;
    let a = expect_error(r, 401, "invalid_client", &never).await;
    assert_eq!(
        a.header("www-authenticate"),
        Some("Basic realm=\"tessera\"")
    );
    for header in ["Basic !!!not-base64!!!", "Basic YzE=", "Bearer abc"] {
        let r = app
            .http()
            .post(app.url("/token"))
            .header("authorization", header)
            .form(&code_form(&flow, Some(&flow.verifier)))
            .send()
            .await
            .unwrap();
        let a = expect_error(r, 401, "invalid_client", &never).await;
        assert_eq!(
            a.header("www-authenticate"),
            Some("Basic realm=\"tessera\""),
            "{header}"
        );
    }

    // Control: the right secret redeems the same code.
    expect_tokens(redeem_as(&app, &flow, Auth::Basic("c1", C1_SECRET)).await).await;
}

#[tokio::test]
async fn conformance_1c_23_bad_secret_in_body_unknown_or_missing_client() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let never = [
        flow.code.as_str(),
        flow.verifier.as_str(),
        "wrong-secret-0123456789-0123456789",
    ];

    // client_secret_post with a wrong secret: 401, no WWW-Authenticate [decision].
    let r = redeem_as(
        &app,
        &flow,
        Auth::Post("c1", "wrong-secret-0123456789-0123456789"),
    )
    .await;
    let a = expect_error(r, 401, "invalid_client", &never).await;
    assert_eq!(a.header("www-authenticate"), None);

    // Unknown client.
    let r = redeem_as(&app, &flow, Auth::Post("nobody", C1_SECRET)).await;
    let a = expect_error(r, 401, "invalid_client", &never).await;
    assert_eq!(a.header("www-authenticate"), None);
    let r = redeem_as(&app, &flow, Auth::Public("nobody")).await;
    expect_error(r, 401, "invalid_client", &never).await;

    // A confidential client naming itself without a secret, and a request
    // that names no client at all.
    let r = redeem_as(&app, &flow, Auth::Public("c1")).await;
    let a = expect_error(r, 401, "invalid_client", &never).await;
    assert_eq!(a.header("www-authenticate"), None);
    let r = redeem_as(&app, &flow, Auth::Nothing).await;
    expect_error(r, 401, "invalid_client", &never).await;

    // A public client's id with a secret it does not have.
    let p1 = app.code_for("p1", "a").await;
    let r = redeem_as(
        &app,
        &p1,
        Auth::Post("p1", "some-secret-0123456789-0123456789"),
    )
    .await;
    expect_error(
        r,
        401,
        "invalid_client",
        &[p1.code.as_str(), "some-secret-0123456789-0123456789"],
    )
    .await;

    // Control: client_secret_post with the right secret.
    expect_tokens(redeem_as(&app, &flow, Auth::Post("c1", C1_SECRET)).await).await;
}

#[tokio::test]
async fn conformance_1c_24_one_authentication_method_per_request() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    let form = code_form(&flow, Some(&flow.verifier));

    // Basic and client_secret in the body, both right.
    let mut both = form.clone();
    both.push(("client_secret", C1_SECRET));
    let r = app.token(&both, Some(("c1", C1_SECRET))).await;
    expect_error(r, 400, "invalid_request", &never).await;

    // Basic and client_secret_post with client_id, both right.
    let mut both = form.clone();
    both.push(("client_id", "c1"));
    both.push(("client_secret", C1_SECRET));
    let r = app.token(&both, Some(("c1", C1_SECRET))).await;
    expect_error(r, 400, "invalid_request", &never).await;

    // Control: Basic alone redeems the same code.
    expect_tokens(app.token(&form, Some(("c1", C1_SECRET))).await).await;
}

#[tokio::test]
async fn conformance_1c_25_basic_credentials_are_form_decoded() {
    let app = TestApp::spawn().await;
    app.register(client(AB_ID, Some(AB_SECRET), &[P1_REDIRECT], &["a", "b"]))
        .await;
    let flow = flow_for(&app, AuthRequest::new(AB_ID)).await;

    // Basic base64(urlencode(id) ":" urlencode(secret)): the encoded colon
    // stays in the id, `+` is a space, `%` and `&` survive.
    let body = expect_tokens(redeem_as(&app, &flow, Auth::Basic(AB_ID, AB_SECRET)).await).await;
    let rt = refresh_token_of(&body);
    let claims = jwt_segment(&access_token_of(&body), 1);
    assert_eq!(claims["client_id"], AB_ID);

    // The scheme name is case-insensitive (RFC 9110 §11.1).
    let lower = basic_header(AB_ID, AB_SECRET).replacen("Basic", "basic", 1);
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", lower)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let rt = refresh_token_of(&expect_tokens(r).await);

    // The same credentials in the form body work too.
    let rt = refresh_token_of(
        &expect_tokens(refresh_as(&app, &rt, None, Auth::Post(AB_ID, AB_SECRET)).await).await,
    );

    // Without the form encoding the id's colon would be the separator: that
    // is a different (unknown) client, not a wrong split that succeeds.
    let raw = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{AB_ID}:{AB_SECRET}"))
    );
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", raw)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ])
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_client", &[rt.as_str()]).await;

    // A secret that differs only by a form-decoding step is wrong.
    let r = refresh_as(
        &app,
        &rt,
        None,
        Auth::Basic(AB_ID, &AB_SECRET.replace(' ', "+")),
    )
    .await;
    expect_error(r, 401, "invalid_client", &[rt.as_str()]).await;

    // And the token still works for the right credentials.
    expect_tokens(refresh_as(&app, &rt, None, Auth::Basic(AB_ID, AB_SECRET)).await).await;
}

#[tokio::test]
async fn conformance_1c_26_grant_type_errors() {
    let app = TestApp::spawn().await;
    register_c3(&app).await;
    let c1 = Some(("c1", C1_SECRET));

    let r = app.token(&[("code", "x")], c1).await;
    expect_error(r, 400, "invalid_request", &[]).await;
    let r = app.token(&[("grant_type", ""), ("code", "x")], c1).await;
    expect_error(r, 400, "invalid_request", &[]).await;

    let r = app.token(&[("grant_type", "foo")], c1).await;
    let a = expect_error(r, 400, "unsupported_grant_type", &[]).await;
    insta::assert_json_snapshot!("unsupported_grant_type_foo", a.json());

    // ROPC is not served (RFC 9700 §2.4), whatever the credentials.
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", ALICE),
                ("password", ALICE_PASSWORD),
            ],
            c1,
        )
        .await;
    expect_error(r, 400, "unsupported_grant_type", &[ALICE_PASSWORD]).await;
    let r = app.token(&[("grant_type", "implicit")], c1).await;
    expect_error(r, 400, "unsupported_grant_type", &[]).await;

    // client_credentials for clients not registered for it.
    let r = app
        .token(
            &[("grant_type", "client_credentials")],
            Some(("c3", C3_SECRET)),
        )
        .await;
    expect_error(r, 400, "unauthorized_client", &[]).await;
    let r = app
        .token(&[("grant_type", "client_credentials"), ("scope", "a")], c1)
        .await;
    expect_error(r, 400, "unauthorized_client", &[]).await;
}

#[tokio::test]
async fn conformance_1c_27_duplicate_parameters() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let (code, uri, v) = (
        flow.code.as_str(),
        flow.redirect_uri.as_str(),
        flow.verifier.as_str(),
    );
    let never = [code, v];
    let c1 = Some(("c1", C1_SECRET));
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", uri),
        ("code_verifier", v),
    ];

    let repeated: Vec<(&str, &str)> = vec![
        ("code", "another-code-0123456789-0123456789-0123456"),
        ("code", ""),
        ("grant_type", "refresh_token"),
        ("grant_type", "authorization_code"),
        ("redirect_uri", uri),
        ("code_verifier", v),
        ("scope", "a"),
    ];
    for extra in repeated {
        let mut form = base.to_vec();
        if extra.0 == "scope" {
            form.push(extra);
        }
        form.push(extra);
        let r = app.token(&form, c1).await;
        expect_error(r, 400, "invalid_request", &never).await;
    }

    // Repeated credentials in the body.
    let mut form = base.to_vec();
    form.extend([
        ("client_id", "c1"),
        ("client_id", "c1"),
        ("client_secret", C1_SECRET),
    ]);
    expect_error(app.token(&form, None).await, 400, "invalid_request", &never).await;
    let mut form = base.to_vec();
    form.extend([
        ("client_id", "c1"),
        ("client_secret", C1_SECRET),
        ("client_secret", C1_SECRET),
    ]);
    expect_error(app.token(&form, None).await, 400, "invalid_request", &never).await;

    // A repeated Authorization header.
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .header("authorization", basic_header("c1", C1_SECRET))
        .form(&base)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request", &never).await;

    // None of these was processed: the code is still good.
    expect_tokens(app.token(&base, c1).await).await;
}

#[tokio::test]
async fn conformance_1c_28_success_response_format() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let request = AuthRequest::new("c1").scope("a b c");
    let back = browser
        .authorize_through_consent(&app, &request, ALICE, ALICE_PASSWORD, Some(&["b"]))
        .await;
    let flow = request.into_flow(&back);

    let r = redeem_as(&app, &flow, auth_of("c1")).await;
    let a = Answer::read(r).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_json_no_store(&a);
    let body = a.json();
    let keys: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
            "token_type"
        ])
    );
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body["expires_in"].is_i64() && body["expires_in"].as_i64() == Some(ACCESS_TOKEN_TTL),
        "{body}"
    );
    // The granted scope differs from the requested one, so it is REQUIRED.
    assert_eq!(body["scope"], "b");

    // The refresh response has the same shape.
    let again =
        expect_tokens(refresh_as(&app, &refresh_token_of(&body), None, auth_of("c1")).await).await;
    assert_eq!(again["scope"], "b");
    assert!(again.get("refresh_token").is_some());
    // Different access-token values across refreshes (EnsureAccessTokenValuesAreDifferent).
    assert_ne!(again["access_token"], body["access_token"]);

    // An error answer carries the same headers (checked by expect_error).
    expect_error(
        refresh_as(&app, "nonsense", None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[],
    )
    .await;
}

#[tokio::test]
async fn conformance_1c_29_brute_force_lockout() {
    let app = TestApp::spawn().await;
    let rt = refresh_token_of(&tokens(&app, "c1", "a").await);
    let wrong = "wrong-secret-0123456789-0123456789";
    let never = [rt.as_str(), wrong];

    // Failures spread over more than the 300 s window do not add up: nine,
    // then one more after the window, and c2 still authenticates (its answer
    // is about the grant, not about the client).
    for _ in 0..9 {
        expect_error(
            refresh_as(&app, &rt, None, Auth::Basic("c2", wrong)).await,
            401,
            "invalid_client",
            &never,
        )
        .await;
    }
    app.clock.advance(300);
    expect_error(
        refresh_as(&app, &rt, None, Auth::Basic("c2", wrong)).await,
        401,
        "invalid_client",
        &never,
    )
    .await;
    expect_error(
        refresh_as(&app, &rt, None, Auth::Basic("c2", C2_SECRET)).await,
        400,
        "invalid_grant",
        &never,
    )
    .await;

    // Ten failures within the window: each is an ordinary 401 ...
    for _ in 0..10 {
        expect_error(
            refresh_as(&app, &rt, None, Auth::Basic("c1", wrong)).await,
            401,
            "invalid_client",
            &never,
        )
        .await;
    }
    // ... and then c1 is locked out, even with the right secret, by any method.
    let a = expect_error(
        refresh_as(&app, &rt, None, Auth::Basic("c1", C1_SECRET)).await,
        429,
        "invalid_client",
        &never,
    )
    .await;
    assert_eq!(a.header("retry-after"), Some("60"));
    let a = expect_error(
        refresh_as(&app, &rt, None, Auth::Post("c1", C1_SECRET)).await,
        429,
        "invalid_client",
        &never,
    )
    .await;
    assert!(a.header("retry-after").is_some());
    expect_error(
        refresh_as(&app, &rt, None, Auth::Basic("c1", wrong)).await,
        429,
        "invalid_client",
        &never,
    )
    .await;
    assert_eq!(
        events_of(
            &app.security_events().await,
            "client_authentication_lockout"
        ),
        1
    );

    // Other clients are not affected.
    expect_error(
        refresh_as(&app, &rt, None, Auth::Basic("c2", C2_SECRET)).await,
        400,
        "invalid_grant",
        &never,
    )
    .await;

    // Still locked one second before the cool-down ends.
    app.clock.advance(59);
    let a = expect_error(
        refresh_as(&app, &rt, None, Auth::Basic("c1", C1_SECRET)).await,
        429,
        "invalid_client",
        &never,
    )
    .await;
    assert_eq!(a.header("retry-after"), Some("1"));

    // After the cool-down the right secret works, and the refresh token was
    // not harmed by the locked-out attempts.
    app.clock.advance(2);
    expect_tokens(refresh_as(&app, &rt, None, Auth::Basic("c1", C1_SECRET)).await).await;
}

// =========================================================================
// 1D. Authorization code properties
// =========================================================================

#[tokio::test]
async fn conformance_1d_31_code_single_use_revokes_tokens() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a b").await;
    let first = expect_tokens(app.redeem(&flow).await).await;
    let rt1 = refresh_token_of(&first);
    assert_eq!(
        events_of(&app.security_events().await, "authorization_code_replay"),
        0
    );

    // Second redemption: invalid_grant ...
    let a = expect_error(
        app.redeem(&flow).await,
        400,
        "invalid_grant",
        &[&flow.code, &flow.verifier, &rt1],
    )
    .await;
    insta::assert_json_snapshot!("invalid_grant_code_replay", a.json());
    // ... the tokens issued from the code are revoked ...
    expect_error(
        refresh_as(&app, &rt1, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&rt1],
    )
    .await;
    // ... and the replay is recorded.
    assert_eq!(
        events_of(&app.security_events().await, "authorization_code_replay"),
        1
    );

    // The same with a 30 s gap (oidcc-codereuse-30seconds).
    let flow = app.code_for("c1", "a").await;
    let rt = refresh_token_of(&expect_tokens(app.redeem(&flow).await).await);
    app.clock.advance(30);
    expect_error(
        app.redeem(&flow).await,
        400,
        "invalid_grant",
        &[&flow.code, &rt],
    )
    .await;
    expect_error(
        refresh_as(&app, &rt, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&rt],
    )
    .await;
    assert_eq!(
        events_of(&app.security_events().await, "authorization_code_replay"),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_1d_32_parallel_redemptions_consume_the_code_once() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let form: Vec<(String, String)> = code_form(&flow, Some(&flow.verifier))
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();

    let mut tasks = Vec::new();
    for _ in 0..10 {
        // One client (and so one connection) per request: truly parallel.
        let http = app.http();
        let url = app.url("/token");
        let form = form.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .header("authorization", basic_header("c1", C1_SECRET))
                .form(&form)
                .send()
                .await
                .expect("token request")
        }));
    }
    let mut successes = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let r = t.await.expect("task");
        if r.status() == 200 {
            successes.push(expect_tokens(r).await);
        } else {
            expect_error(r, 400, "invalid_grant", &[&flow.code, &flow.verifier]).await;
            failures += 1;
        }
    }
    // Exactly one request consumed the code; the other nine are replays. The
    // winner usually gets tokens, but a replay's revocation may land between
    // its consume and its grant check, and then it is refused too: both are
    // safe (docs/conformance.md item 32: every token issued is revoked, or only
    // one was ever issued).
    assert!(
        successes.len() <= 1,
        "at most one success, got {}",
        successes.len()
    );
    assert_eq!(successes.len() + failures, 10);
    assert_eq!(
        events_of(&app.security_events().await, "authorization_code_replay"),
        9,
        "every request but the one that consumed the code is a replay"
    );

    // The replays revoked whatever the success got.
    for tokens in &successes {
        let rt = refresh_token_of(tokens);
        expect_error(
            refresh_as(&app, &rt, None, auth_of("c1")).await,
            400,
            "invalid_grant",
            &[&rt],
        )
        .await;
    }
}

#[tokio::test]
async fn conformance_1d_33_code_lifetime() {
    let app = TestApp::spawn().await;

    // Redeemed one second before the 60 s lifetime ends: fine.
    let young = app.code_for("c1", "a").await;
    app.clock.advance(59);
    expect_tokens(app.redeem(&young).await).await;

    // Redeemed at 60 s: expired.
    let old = app.code_for("c1", "a").await;
    app.clock.advance(60);
    expect_error(
        app.redeem(&old).await,
        400,
        "invalid_grant",
        &[&old.code, &old.verifier],
    )
    .await;

    // And well after.
    let older = app.code_for("c1", "a").await;
    app.clock.advance(600);
    expect_error(
        app.redeem(&older).await,
        400,
        "invalid_grant",
        &[&older.code, &older.verifier],
    )
    .await;
}

#[tokio::test]
async fn conformance_1d_34_code_bound_to_client() {
    let app = TestApp::spawn().await;
    register_p2(&app).await;

    // c1's code with c2's valid credentials.
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    expect_error(
        redeem_as(&app, &flow, auth_of("c2")).await,
        400,
        "invalid_grant",
        &never,
    )
    .await;
    // The attempt burnt the code (it was consumed before the checks).
    expect_error(app.redeem(&flow).await, 400, "invalid_grant", &never).await;

    // p1's code presented by public client p2.
    let p1 = app.code_for("p1", "a").await;
    expect_error(
        redeem_as(&app, &p1, Auth::Public("p2")).await,
        400,
        "invalid_grant",
        &[&p1.code, &p1.verifier],
    )
    .await;

    // c1's code with client_id=c1 but no authentication.
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    expect_error(
        redeem_as(&app, &flow, Auth::Public("c1")).await,
        401,
        "invalid_client",
        &never,
    )
    .await;

    // c2's credentials with client_id=c1 in the body (ensure-client-id-in-token-endpoint):
    // refused (invalid_request here; invalid_client would also do), never a success.
    let mut form = code_form(&flow, Some(&flow.verifier));
    form.push(("client_id", "c1"));
    expect_error(
        app.token(&form, Some(("c2", C2_SECRET))).await,
        400,
        "invalid_request",
        &never,
    )
    .await;

    // The code owner still redeems it: none of those requests came from an
    // authenticated owner, so none could spend the code.
    let body = expect_tokens(app.redeem(&flow).await).await;
    assert_eq!(jwt_segment(&access_token_of(&body), 1)["client_id"], "c1");
}

#[tokio::test]
async fn conformance_1d_35_code_bound_to_redirect_uri() {
    let app = TestApp::spawn().await;
    register_c3(&app).await;
    let cb2 = "https://client.example/cb2";

    // Authorized with cb, redeemed with cb2 (also registered).
    let flow = app.code_for("c1", "a").await;
    assert_eq!(flow.redirect_uri, C1_REDIRECT);
    let mut form = code_form(&flow, Some(&flow.verifier));
    form.retain(|(k, _)| *k != "redirect_uri");
    let mut other = form.clone();
    other.push(("redirect_uri", cb2));
    expect_error(
        app.token(&other, Some(("c1", C1_SECRET))).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;

    // redirect_uri omitted although the authorization request had one.
    let flow = app.code_for("c1", "a").await;
    let mut form = code_form(&flow, Some(&flow.verifier));
    form.retain(|(k, _)| *k != "redirect_uri");
    expect_error(
        app.token(&form, Some(("c1", C1_SECRET))).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;

    // Control: authorized with cb2 and redeemed with cb2.
    let flow = flow_for(&app, AuthRequest::new("c1").set("redirect_uri", cb2)).await;
    expect_tokens(app.redeem(&flow).await).await;

    // A client with one redirect URI that the authorization request did not
    // name: omitting it at the token endpoint is fine, sending the same one
    // is fine, sending another is not.
    let implicit = || AuthRequest::new("c3").remove("redirect_uri");
    let flow = flow_for(&app, implicit()).await;
    let mut form = code_form(&flow, Some(&flow.verifier));
    form.retain(|(k, _)| *k != "redirect_uri");
    expect_tokens(app.token(&form, Some(("c3", C3_SECRET))).await).await;

    let flow = flow_for(&app, implicit()).await;
    expect_tokens(redeem_as(&app, &flow, auth_of("c3")).await).await;

    let flow = flow_for(&app, implicit()).await;
    let mut form = code_form(&flow, Some(&flow.verifier));
    form.retain(|(k, _)| *k != "redirect_uri");
    form.push(("redirect_uri", "http://127.0.0.1/elsewhere"));
    expect_error(
        app.token(&form, Some(("c3", C3_SECRET))).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;
}

#[tokio::test]
async fn conformance_1d_36_codes_and_tokens_unguessable() {
    let app = TestApp::spawn().await;
    let flows = [
        app.code_for("c1", "a").await,
        app.code_for("c1", "a").await,
        app.code_for("c1", "a").await,
    ];
    let codes: BTreeSet<&str> = flows.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes.len(), 3, "codes repeat");
    for f in &flows {
        assert_opaque("code", &f.code);
    }

    // One character changed, one dropped, one added: unknown codes.
    let flow = &flows[0];
    for forged in [
        tamper(&flow.code),
        flow.code[..flow.code.len() - 1].to_owned(),
        format!("{}A", flow.code),
    ] {
        let mut forged_flow = flow.clone();
        forged_flow.code = forged.clone();
        expect_error(
            app.redeem(&forged_flow).await,
            400,
            "invalid_grant",
            &[&forged, &flow.code],
        )
        .await;
    }
    // The real code was not touched by the forgeries.
    let body = expect_tokens(app.redeem(flow).await).await;

    // Tokens: refresh tokens are opaque base64url, access tokens are JWTs.
    let other = expect_tokens(app.redeem(&flows[1]).await).await;
    assert_opaque("refresh_token", &refresh_token_of(&body));
    assert_ne!(refresh_token_of(&body), refresh_token_of(&other));
    assert_jwt_charset(&access_token_of(&body));
    assert_ne!(access_token_of(&body), access_token_of(&other));
    let jti = |b: &Value| {
        jwt_segment(&access_token_of(b), 1)["jti"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(jti(&body), jti(&other));
    assert!(
        URL_SAFE_NO_PAD.decode(jti(&body)).unwrap().len() >= 16,
        "jti below 128 bits"
    );
}

#[tokio::test]
async fn conformance_1d_37_failed_pkce_burns_the_code() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let wrong = new_verifier();
    let never = [flow.code.as_str(), flow.verifier.as_str(), wrong.as_str()];
    expect_error(
        redeem_with_verifier(&app, &flow, Some(&wrong)).await,
        400,
        "invalid_grant",
        &never,
    )
    .await;
    // The right verifier afterwards: too late.
    expect_error(
        redeem_with_verifier(&app, &flow, Some(&flow.verifier)).await,
        400,
        "invalid_grant",
        &never,
    )
    .await;

    // Same with a missing verifier first.
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    expect_error(
        redeem_with_verifier(&app, &flow, None).await,
        400,
        "invalid_grant",
        &never,
    )
    .await;
    expect_error(app.redeem(&flow).await, 400, "invalid_grant", &never).await;
}

// =========================================================================
// 1E. PKCE
// =========================================================================

#[tokio::test]
async fn conformance_1e_38_verifier_mismatch() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let wrong = new_verifier();
    expect_error(
        redeem_with_verifier(&app, &flow, Some(&wrong)).await,
        400,
        "invalid_grant",
        &[&flow.code, &flow.verifier, &wrong],
    )
    .await;

    // Control: another code with its own verifier.
    let flow = app.code_for("c1", "a").await;
    expect_tokens(redeem_with_verifier(&app, &flow, Some(&flow.verifier)).await).await;

    // Same for a public client.
    let flow = app.code_for("p1", "a").await;
    let wrong = new_verifier();
    expect_error(
        redeem_with_verifier(&app, &flow, Some(&wrong)).await,
        400,
        "invalid_grant",
        &[&flow.code, &wrong],
    )
    .await;
}

#[tokio::test]
async fn conformance_1e_39_verifier_missing() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    expect_error(
        redeem_with_verifier(&app, &flow, None).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;
    // An empty value counts as missing.
    let flow = app.code_for("c1", "a").await;
    expect_error(
        redeem_with_verifier(&app, &flow, Some("")).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;
    let flow = app.code_for("p1", "a").await;
    expect_error(
        redeem_with_verifier(&app, &flow, None).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;
}

#[tokio::test]
async fn conformance_1e_40_verifier_without_challenge_is_refused() {
    let app = TestApp::spawn().await;
    register_legacy(&app).await;
    let no_pkce = || {
        AuthRequest::new("legacy")
            .remove("code_challenge")
            .remove("code_challenge_method")
    };

    // A confidential client authorized without a challenge, then a verifier
    // at the token endpoint: a downgrade attempt.
    let flow = flow_for(&app, no_pkce()).await;
    let a = expect_error(
        redeem_with_verifier(&app, &flow, Some(&flow.verifier)).await,
        400,
        "invalid_request",
        &[&flow.code, &flow.verifier],
    )
    .await;
    assert!(a.json().get("access_token").is_none());

    // Control: the same client without a verifier gets tokens.
    let flow = flow_for(&app, no_pkce()).await;
    expect_tokens(redeem_with_verifier(&app, &flow, None).await).await;
}

#[tokio::test]
async fn conformance_1e_41_challenge_is_not_a_verifier() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let challenge = CodeChallenge::s256_of(&flow.verifier).as_str().to_owned();
    // Treating the S256 challenge as a plain verifier.
    expect_error(
        redeem_with_verifier(&app, &flow, Some(&challenge)).await,
        400,
        "invalid_grant",
        &[&flow.code, &flow.verifier],
    )
    .await;
    // code_challenge_method at the token endpoint changes nothing.
    let flow = app.code_for("c1", "a").await;
    let challenge = CodeChallenge::s256_of(&flow.verifier).as_str().to_owned();
    let mut form = code_form(&flow, Some(&challenge));
    form.push(("code_challenge_method", "plain"));
    expect_error(
        app.token(&form, Some(("c1", C1_SECRET))).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;
}

#[tokio::test]
async fn conformance_1e_42_plain_is_refused() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let verifier = new_verifier();
    for method in [Some("plain"), None, Some("s256"), Some("S512")] {
        let mut request = AuthRequest::new("c1").set("code_challenge", &verifier);
        request = match method {
            Some(m) => request.set("code_challenge_method", m),
            None => request.remove("code_challenge_method"),
        };
        let r = browser.authorize(&request).await;
        assert_eq!(r.status(), 302, "{method:?}");
        let loc = location(&r);
        assert!(loc.starts_with(C1_REDIRECT), "{method:?}: {loc}");
        assert_eq!(
            param(&loc, "error").as_deref(),
            Some("invalid_request"),
            "{method:?}: {loc}"
        );
        assert_eq!(param(&loc, "code"), None);
        assert_eq!(param(&loc, "state").as_deref(), Some("xyz"));
        assert!(
            param(&loc, "error_description")
                .unwrap_or_default()
                .chars()
                .all(is_error_char)
        );
    }
}

#[tokio::test]
async fn conformance_1e_43_verifier_abnf() {
    let app = TestApp::spawn().await;
    let bad = [
        "a".repeat(42),
        "b".repeat(129),
        format!("{}+", "c".repeat(42)),
        format!("{}/", "d".repeat(42)),
    ];
    for verifier in &bad {
        // The challenge is the real S256 of the bad verifier, so only the ABNF
        // can refuse it.
        let challenge = CodeChallenge::s256_of(verifier).as_str().to_owned();
        let request = AuthRequest::new("c1").set("code_challenge", &challenge);
        let flow = flow_for(&app, request).await;
        expect_error(
            redeem_with_verifier(&app, &flow, Some(verifier)).await,
            400,
            "invalid_grant",
            &[&flow.code],
        )
        .await;
    }
    // The edges of the ABNF are accepted.
    for verifier in ["A".repeat(43), "z".repeat(128), "aZ09-._~".repeat(6)] {
        let challenge = CodeChallenge::s256_of(&verifier).as_str().to_owned();
        let flow = flow_for(
            &app,
            AuthRequest::new("c1").set("code_challenge", &challenge),
        )
        .await;
        expect_tokens(redeem_with_verifier(&app, &flow, Some(&verifier)).await).await;
    }
}

#[tokio::test]
async fn conformance_1e_44_pkce_required() {
    let app = TestApp::spawn().await;
    register_legacy(&app).await;
    let browser = app.browser();
    for client_id in ["p1", "c1"] {
        let request = AuthRequest::new(client_id)
            .remove("code_challenge")
            .remove("code_challenge_method");
        let r = browser.authorize(&request).await;
        assert_eq!(r.status(), 302);
        let loc = location(&r);
        assert!(loc.starts_with(default_redirect(client_id)), "{loc}");
        assert_eq!(
            param(&loc, "error").as_deref(),
            Some("invalid_request"),
            "{client_id}: {loc}"
        );
        assert_eq!(param(&loc, "code"), None);
    }
    // Control: the legacy opt-out lets the same request through to login.
    let request = AuthRequest::new("legacy")
        .remove("code_challenge")
        .remove("code_challenge_method");
    let r = browser.authorize(&request).await;
    assert!(location(&r).starts_with("/login?"), "{}", location(&r));
}

#[tokio::test]
async fn conformance_1e_45_challenge_not_disclosed() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let request = AuthRequest::new("c1").scope("a");
    let challenge = CodeChallenge::s256_of(&request.verifier)
        .as_str()
        .to_owned();

    let r = browser.authorize(&request).await;
    let login = location(&r);
    assert!(!login.contains(&challenge), "{login}");
    let r = browser.login(&login, ALICE, ALICE_PASSWORD).await;
    let consent = location(&r);
    assert!(!consent.contains(&challenge), "{consent}");
    let form = browser.form_at(&consent).await;
    let r = browser.submit(&form, Some(("decision", "approve"))).await;
    let back = location(&r);
    assert!(back.starts_with(C1_REDIRECT), "{back}");
    assert!(
        !back.contains(&challenge),
        "the authorization response leaks the challenge: {back}"
    );
    let flow = request.into_flow(&back);
    assert!(!flow.code.contains(&challenge));

    let r = app.redeem(&flow).await;
    let a = Answer::read(r).await;
    assert_eq!(a.status, 200);
    assert!(!a.text.contains(&challenge), "{}", a.text);
    assert!(!a.text.contains(&flow.verifier), "{}", a.text);
    let at = access_token_of(&a.json());
    let claims = jwt_segment(&at, 1).to_string();
    assert!(
        !claims.contains(&challenge) && !claims.contains(&flow.verifier),
        "{claims}"
    );
}

#[tokio::test]
async fn conformance_1e_46_constant_challenge_is_recorded() {
    let app = TestApp::spawn().await;
    let first = AuthRequest::new("c1");
    let challenge = CodeChallenge::s256_of(&first.verifier).as_str().to_owned();
    let verifier = first.verifier.clone();
    let same = || {
        let mut r = AuthRequest::new("c1").set("code_challenge", &challenge);
        r.verifier = verifier.clone();
        r
    };
    let count = |events: Vec<String>| events_of(&events, "constant_pkce_challenge");

    let a = flow_for(&app, first).await;
    assert_eq!(
        count(app.security_events().await),
        0,
        "a first use is not an event"
    );
    // Another client using the same value is not this client's reuse.
    let mut other = AuthRequest::new("c2").set("code_challenge", &challenge);
    other.verifier = verifier.clone();
    let c2 = flow_for(&app, other).await;
    assert_eq!(count(app.security_events().await), 0);

    let b = flow_for(&app, same()).await;
    assert_eq!(count(app.security_events().await), 1);

    // Recorded, not refused: both codes redeem.
    expect_tokens(app.redeem(&a).await).await;
    expect_tokens(app.redeem(&b).await).await;
    expect_tokens(app.redeem(&c2).await).await;

    // Beyond 24 hours the old uses no longer count.
    app.clock.advance(DAY + 1);
    let c = flow_for(&app, same()).await;
    assert_eq!(count(app.security_events().await), 1);
    expect_tokens(app.redeem(&c).await).await;
}

// =========================================================================
// 1F. Refresh tokens
// =========================================================================

#[tokio::test]
async fn conformance_1f_47_refresh_happy_path() {
    let app = TestApp::spawn().await;
    let first = tokens(&app, "c1", "a b").await;
    app.clock.advance(100);
    let second =
        expect_tokens(refresh_as(&app, &refresh_token_of(&first), None, auth_of("c1")).await).await;
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["scope"], "a b");

    // The new access token is for the same user, client and scope, minted now.
    let c1 = jwt_segment(&access_token_of(&first), 1);
    let c2 = jwt_segment(&access_token_of(&second), 1);
    assert_eq!(c2["sub"], c1["sub"]);
    assert_eq!(c2["client_id"], "c1");
    assert_eq!(c2["scope"], "a b");
    assert_eq!(c2["iat"], T0 + 100);
    assert_eq!(c2["exp"], T0 + 100 + ACCESS_TOKEN_TTL);

    // client_secret_post works for refresh as well.
    expect_tokens(
        refresh_as(
            &app,
            &refresh_token_of(&second),
            None,
            Auth::Post("c1", C1_SECRET),
        )
        .await,
    )
    .await;
}

#[tokio::test]
async fn conformance_1f_48_refresh_token_bound_to_client() {
    let app = TestApp::spawn().await;
    register_p2(&app).await;

    // c1's token with c2's valid credentials: refused, and not burnt.
    let rt = refresh_token_of(&tokens(&app, "c1", "a").await);
    expect_error(
        refresh_as(&app, &rt, None, auth_of("c2")).await,
        400,
        "invalid_grant",
        &[&rt],
    )
    .await;
    let rt =
        refresh_token_of(&expect_tokens(refresh_as(&app, &rt, None, auth_of("c1")).await).await);
    // Twice, to be sure the first refusal did not count as reuse.
    expect_error(
        refresh_as(&app, &rt, None, auth_of("c2")).await,
        400,
        "invalid_grant",
        &[&rt],
    )
    .await;
    expect_tokens(refresh_as(&app, &rt, None, auth_of("c1")).await).await;

    // p1's token presented by public p2.
    let rt = refresh_token_of(&tokens(&app, "p1", "a").await);
    expect_error(
        refresh_as(&app, &rt, None, Auth::Public("p2")).await,
        400,
        "invalid_grant",
        &[&rt],
    )
    .await;
    expect_tokens(refresh_as(&app, &rt, None, Auth::Public("p1")).await).await;

    assert_eq!(
        events_of(&app.security_events().await, "refresh_token_reuse"),
        0
    );
}

#[tokio::test]
async fn conformance_1f_49_confidential_clients_must_authenticate_to_refresh() {
    let app = TestApp::spawn().await;
    let rt = refresh_token_of(&tokens(&app, "c1", "a").await);
    let a = expect_error(
        refresh_as(&app, &rt, None, Auth::Public("c1")).await,
        401,
        "invalid_client",
        &[&rt],
    )
    .await;
    assert_eq!(a.header("www-authenticate"), None);
    expect_error(
        refresh_as(&app, &rt, None, Auth::Nothing).await,
        401,
        "invalid_client",
        &[&rt],
    )
    .await;
    // Control: authenticated, the same token works.
    expect_tokens(refresh_as(&app, &rt, None, auth_of("c1")).await).await;
}

#[tokio::test]
async fn conformance_1f_50_public_client_refresh_tokens_rotate() {
    let app = TestApp::spawn().await;
    let first = tokens(&app, "p1", "a").await;
    let rt1 = refresh_token_of(&first);
    let second = expect_tokens(refresh_as(&app, &rt1, None, Auth::Public("p1")).await).await;
    let rt2 = refresh_token_of(&second);
    assert_ne!(rt2, rt1);
    assert_ne!(second["access_token"], first["access_token"]);
    // The new token works ...
    let rt3 = refresh_token_of(
        &expect_tokens(refresh_as(&app, &rt2, None, Auth::Public("p1")).await).await,
    );
    assert_ne!(rt3, rt2);
    // ... the old one does not.
    expect_error(
        refresh_as(&app, &rt1, None, Auth::Public("p1")).await,
        400,
        "invalid_grant",
        &[&rt1],
    )
    .await;
}

#[tokio::test]
async fn conformance_1f_51_refresh_reuse_revokes_family() {
    let app = TestApp::spawn().await;
    let rt1 = refresh_token_of(&tokens(&app, "c1", "a").await);
    // Another grant of the same user and client: a separate family.
    let unrelated = refresh_token_of(&tokens(&app, "c1", "a").await);

    let second = expect_tokens(refresh_as(&app, &rt1, None, auth_of("c1")).await).await;
    let rt2 = refresh_token_of(&second);
    assert_ne!(rt2, rt1);
    assert_eq!(
        events_of(&app.security_events().await, "refresh_token_reuse"),
        0
    );

    // Replay of RT1 once the retry window has passed (refresh_retry_window
    // covers the replay inside it): refused, and the whole family dies, RT2
    // included.
    app.clock
        .advance(tessera_authorization_server::config::DEFAULT_REFRESH_RETRY_WINDOW_SECS);
    expect_error(
        refresh_as(&app, &rt1, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&rt1, &rt2],
    )
    .await;
    expect_error(
        refresh_as(&app, &rt2, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&rt2],
    )
    .await;
    assert_eq!(
        events_of(&app.security_events().await, "refresh_token_reuse"),
        1
    );

    // Only that family.
    expect_tokens(refresh_as(&app, &unrelated, None, auth_of("c1")).await).await;
}

#[tokio::test]
async fn conformance_1f_52_down_scoping() {
    let app = TestApp::spawn().await;
    let rt = refresh_token_of(&tokens(&app, "c1", "a b").await);

    let narrowed = expect_tokens(refresh_as(&app, &rt, Some("a"), auth_of("c1")).await).await;
    assert_eq!(narrowed["scope"], "a");
    assert_eq!(jwt_segment(&access_token_of(&narrowed), 1)["scope"], "a");

    // The new refresh token keeps the grant's scope.
    let full =
        expect_tokens(refresh_as(&app, &refresh_token_of(&narrowed), None, auth_of("c1")).await)
            .await;
    assert_eq!(full["scope"], "a b");
    assert_eq!(jwt_segment(&access_token_of(&full), 1)["scope"], "a b");

    // Any order, any subset.
    let again =
        expect_tokens(refresh_as(&app, &refresh_token_of(&full), Some("b a"), auth_of("c1")).await)
            .await;
    assert_eq!(again["scope"], "a b");
    let b =
        expect_tokens(refresh_as(&app, &refresh_token_of(&again), Some("b"), auth_of("c1")).await)
            .await;
    assert_eq!(b["scope"], "b");
}

#[tokio::test]
async fn conformance_1f_53_up_scoping_is_refused() {
    let app = TestApp::spawn().await;
    let rt = refresh_token_of(&tokens(&app, "c1", "a b").await);
    // c is registered for c1 but was not granted; zzz is not registered at all.
    for scope in ["a b c", "c", "zzz", "a zzz"] {
        expect_error(
            refresh_as(&app, &rt, Some(scope), auth_of("c1")).await,
            400,
            "invalid_scope",
            &[&rt],
        )
        .await;
    }
    // The refusals did not spend the token.
    let body = expect_tokens(refresh_as(&app, &rt, None, auth_of("c1")).await).await;
    assert_eq!(body["scope"], "a b");
}

#[tokio::test]
async fn conformance_1f_54_expired_or_ended_refresh_tokens() {
    let app = TestApp::spawn().await;

    // Idle expiry: 30 days without use.
    let used = refresh_token_of(&tokens(&app, "c1", "a").await);
    let idle = refresh_token_of(&tokens(&app, "c1", "a").await);
    app.clock.advance(30 * DAY - 1);
    let used =
        refresh_token_of(&expect_tokens(refresh_as(&app, &used, None, auth_of("c1")).await).await);
    app.clock.advance(1);
    expect_error(
        refresh_as(&app, &idle, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&idle],
    )
    .await;
    // Use resets the idle clock.
    expect_tokens(refresh_as(&app, &used, None, auth_of("c1")).await).await;

    // Absolute lifetime: 90 days from the grant, however often it is used.
    let start = app.state.now();
    let mut rt = refresh_token_of(&tokens(&app, "c1", "a").await);
    for day in [29, 58, 87, 89] {
        app.clock.set(start + day * DAY);
        rt = refresh_token_of(
            &expect_tokens(refresh_as(&app, &rt, None, auth_of("c1")).await).await,
        );
    }
    app.clock.set(start + 90 * DAY);
    expect_error(
        refresh_as(&app, &rt, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&rt],
    )
    .await;

    // A password change ends the user's refresh tokens, and only theirs.
    let app = TestApp::spawn().await;
    let alice_rt = refresh_token_of(&tokens(&app, "c1", "a").await);
    let request = AuthRequest::new("c1");
    let back = app
        .browser()
        .authorize_through_consent(&app, &request, BOB, BOB_PASSWORD, None)
        .await;
    let bob_rt =
        refresh_token_of(&expect_tokens(app.redeem(&request.into_flow(&back)).await).await);
    let changed = app
        .admin
        .set_password(
            ALICE,
            &SecretString::new("new-password-123"),
            app.state.now(),
        )
        .await;
    assert!(changed.expect("set_password"));
    expect_error(
        refresh_as(&app, &alice_rt, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&alice_rt],
    )
    .await;
    expect_tokens(refresh_as(&app, &bob_rt, None, auth_of("c1")).await).await;
}

#[tokio::test]
async fn conformance_1f_55_refresh_token_integrity() {
    let app = TestApp::spawn().await;
    let rt = refresh_token_of(&tokens(&app, "c1", "a").await);
    for forged in [
        tamper(&rt),
        rt[..rt.len() - 1].to_owned(),
        format!("{rt}A"),
        rt.to_uppercase(),
    ] {
        expect_error(
            refresh_as(&app, &forged, None, auth_of("c1")).await,
            400,
            "invalid_grant",
            &[&forged, &rt],
        )
        .await;
    }
    // The forgeries neither worked nor harmed the real token.
    expect_tokens(refresh_as(&app, &rt, None, auth_of("c1")).await).await;
    assert_eq!(
        events_of(&app.security_events().await, "refresh_token_reuse"),
        0
    );
}

#[tokio::test]
async fn conformance_1f_56_refresh_tokens_only_for_clients_allowed_them() {
    let app = TestApp::spawn().await;
    register_c3(&app).await;
    let flow = app.code_for("c3", "a").await;
    let body = expect_tokens(redeem_as(&app, &flow, auth_of("c3")).await).await;
    assert!(body.get("refresh_token").is_none(), "{body}");

    // grant_type=refresh_token from that client, with a real token of
    // another client and with a made-up one.
    let c1_rt = refresh_token_of(&tokens(&app, "c1", "a").await);
    expect_error(
        refresh_as(&app, &c1_rt, None, auth_of("c3")).await,
        400,
        "unauthorized_client",
        &[&c1_rt],
    )
    .await;
    expect_error(
        refresh_as(&app, "made-up", None, auth_of("c3")).await,
        400,
        "unauthorized_client",
        &[],
    )
    .await;
    // c1's token was not affected.
    expect_tokens(refresh_as(&app, &c1_rt, None, auth_of("c1")).await).await;
}

// =========================================================================
// 1M. Cross-cutting
// =========================================================================

#[tokio::test]
async fn conformance_1m_96_access_tokens_are_signed_typed_jwts() {
    let app = TestApp::spawn().await;
    let body = tokens(&app, "c1", "a b").await;
    let at = access_token_of(&body);

    let header = jwt_segment(&at, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims = verify_access_token(&app, &at)
        .await
        .expect("verifies with the published key");
    assert_eq!(claims["iss"], app.issuer());
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["client_id"], "c1");
    assert_eq!(claims["scope"], "a b");
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["exp"], T0 + ACCESS_TOKEN_TTL);
    if let Some(nbf) = claims.get("nbf") {
        assert!(nbf.as_i64().unwrap() <= T0);
    }
    let alice = app.store.user_by_username(ALICE).await.unwrap().unwrap();
    assert_eq!(claims["sub"], alice.user_id.as_str());

    // The signature covers the claims: a widened scope no longer verifies.
    let mut forged = jwt_segment(&at, 1);
    forged["scope"] = "a b c".into();
    let parts: Vec<&str> = at.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    assert!(verify_access_token(&app, &forged).await.is_err());
    // And an unsigned copy is not a token.
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#),
        parts[1]
    );
    assert!(verify_access_token(&app, &unsigned).await.is_err());
}

/// The SQLite files this process has open, found through `/proc/self/fd`:
/// the store's own connections. Each entry is the database and its WAL.
#[cfg(target_os = "linux")]
fn open_databases() -> Vec<Vec<PathBuf>> {
    let mut dbs = BTreeSet::new();
    for entry in std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
    {
        if let Ok(target) = std::fs::read_link(entry.path())
            && target.file_name().is_some_and(|n| n == "tessera.db")
        {
            dbs.insert(target);
        }
    }
    dbs.into_iter()
        .map(|db| {
            let mut wal = db.clone().into_os_string();
            wal.push("-wal");
            vec![db, PathBuf::from(wal)]
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn conformance_1m_99_secrets_at_rest_are_hashed() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let body = expect_tokens(app.redeem(&flow).await).await;
    let rt1 = refresh_token_of(&body);
    let rt2 =
        refresh_token_of(&expect_tokens(refresh_as(&app, &rt1, None, auth_of("c1")).await).await);

    // Through the store: refresh tokens are found by their hash, never by
    // their value.
    assert!(
        app.store
            .refresh_token(&TokenHash::of(&rt2))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        app.store
            .refresh_token(&TokenHash::from_stored(rt2.clone()))
            .await
            .unwrap()
            .is_none()
    );

    // In the files (SQLite; PostgreSQL's files are the server's): this
    // app's database is the open one holding the hash of rt2 (random, so no
    // other test's database has it).
    if app.backend == Backend::Postgres {
        return;
    }
    let mine: Vec<Vec<u8>> = open_databases()
        .into_iter()
        .map(|files| {
            files
                .iter()
                .flat_map(|f| std::fs::read(f).unwrap_or_default())
                .collect::<Vec<u8>>()
        })
        .filter(|bytes| contains(bytes, TokenHash::of(&rt2).as_str()))
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "cannot find this test's database among the open ones"
    );
    let bytes = &mine[0];
    let at = access_token_of(&body);
    assert!(
        contains(bytes, TokenHash::of(&flow.code).as_str()),
        "codes are kept by hash"
    );
    assert!(contains(bytes, TokenHash::of(&rt1).as_str()));
    for (what, raw) in [
        ("code", flow.code.as_str()),
        ("refresh token", rt1.as_str()),
        ("rotated refresh token", rt2.as_str()),
        ("access token", at.as_str()),
        ("PKCE verifier", flow.verifier.as_str()),
        ("client secret", C1_SECRET),
        ("client secret", C2_SECRET),
        ("user password", ALICE_PASSWORD),
    ] {
        assert!(!contains(bytes, raw), "the database holds a raw {what}");
    }
}
