//! Authorization endpoint, redirect URIs and browser pages
//! (docs/conformance.md §1A, §1B, §1K, items 98, 100).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use scraper::{Html, Selector};
use tessera_authorization_server::admin::Admin;
use tessera_core::redirect_uri::Mode;
use tessera_runtime::SystemRandomness;

#[allow(unused_imports)]
use crate::harness::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// One string with an HTML break-out and two template-injection probes.
const PAYLOAD: &str = "\"><script>alert(1)</script>{{7*7}}${7*7}";

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_owned())
        .unwrap_or_default()
}

fn challenge_of(req: &AuthRequest) -> String {
    req.params
        .iter()
        .find(|(k, _)| k == "code_challenge")
        .map(|(_, v)| v.clone())
        .expect("request has a challenge")
}

/// Whether the server stored an authorization code for this request (each
/// `AuthRequest` carries a fresh PKCE challenge, stored with its code).
async fn code_issued(app: &TestApp, req: &AuthRequest) -> bool {
    app.store
        .code_challenge_seen(&req.client_id, &challenge_of(req), 0)
        .await
        .expect("store")
}

/// A fetched response, body read.
struct Page {
    what: String,
    status: u16,
    headers: HeaderMap,
    body: String,
}

async fn read(what: &str, r: reqwest::Response) -> Page {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.text().await.expect("body");
    Page {
        what: what.to_owned(),
        status,
        headers,
        body,
    }
}

/// The answer is the HTML error page: 400, no `Location`. Returns the body.
async fn expect_error_page(r: reqwest::Response, what: &str) -> String {
    let page = read(what, r).await;
    assert_eq!(page.status, 400, "{what}: {}", page.body);
    assert!(
        page.headers.get("location").is_none(),
        "{what}: must not redirect, got {:?}",
        page.headers.get("location")
    );
    assert_eq!(
        header(&page.headers, "content-type"),
        "text/html; charset=utf-8",
        "{what}"
    );
    assert!(
        page.body.contains("<h1>"),
        "{what}: an HTML page: {}",
        page.body
    );
    page.body
}

/// RFC 6749 §4.1.2.1 / §5.2: `error` and `error_description` use only
/// %x20-21 / %x23-5B / %x5D-7E.
fn assert_error_charset(value: &str, what: &str) {
    assert!(
        value
            .bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
        "{what}: {value:?} has a character outside %x20-21 / %x23-5B / %x5D-7E"
    );
}

/// The answer is an error redirect to `redirect` with `error`, a description,
/// the exact `state` (or none), and `iss`, each once. Returns the `Location`.
fn expect_redirect_error(
    app: &TestApp,
    r: &reqwest::Response,
    status: u16,
    redirect: &str,
    error: &str,
    state: Option<&str>,
    what: &str,
) -> String {
    let loc = location(r);
    assert_eq!(r.status().as_u16(), status, "{what}: {loc}");
    assert!(loc.starts_with(&format!("{redirect}?")), "{what}: {loc}");
    assert!(!loc.contains('#'), "{what}: no fragment: {loc}");
    let params = query_params(&loc);
    for name in ["error", "error_description", "state", "iss", "code"] {
        assert!(
            params.iter().filter(|(k, _)| k == name).count() <= 1,
            "{what}: {name} at most once: {loc}"
        );
    }
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some(error),
        "{what}: {loc}"
    );
    let description = param(&loc, "error_description").unwrap_or_default();
    assert!(!description.is_empty(), "{what}: error_description: {loc}");
    assert_error_charset(error, what);
    assert_error_charset(&description, what);
    assert_eq!(
        param(&loc, "state").as_deref(),
        state,
        "{what}: state: {loc}"
    );
    assert_eq!(
        param(&loc, "iss").as_deref(),
        Some(app.issuer()),
        "{what}: iss: {loc}"
    );
    assert!(
        param(&loc, "code").is_none(),
        "{what}: no code with an error: {loc}"
    );
    loc
}

/// Authorize and log in; returns the consent page URL.
async fn to_consent(browser: &Browser, req: &AuthRequest, user: &str, password: &str) -> String {
    let r = browser.authorize(req).await;
    assert_eq!(r.status(), 302, "authorize");
    let login = location(&r);
    assert!(login.starts_with("/login?request="), "{login}");
    let r = browser.login(&login, user, password).await;
    assert_eq!(r.status(), 303, "login");
    let consent = location(&r);
    assert!(consent.starts_with("/consent?request="), "{consent}");
    consent
}

/// The `tessera_session` `Set-Cookie` header of a response, if any.
fn session_set_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tessera_session="))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.trim_start_matches("tessera_session=").to_owned()
}

fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

fn select_texts(html: &str, selector: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(selector).expect("selector");
    doc.select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect()
}

fn select_attrs(html: &str, selector: &str, attr: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(selector).expect("selector");
    doc.select(&sel)
        .filter_map(|e| e.value().attr(attr).map(str::to_owned))
        .collect()
}

/// A `Location` that stays on this server: a local path or our own origin.
fn assert_not_offsite(app: &TestApp, r: &reqwest::Response, what: &str) {
    let loc = location(r);
    let local_path = loc.starts_with('/') && !loc.starts_with("//") && !loc.starts_with("/\\");
    let own_origin = loc.starts_with(&format!("{}/", app.base));
    assert!(
        loc.is_empty() || local_path || own_origin,
        "{what}: redirect off the host: {loc}"
    );
    assert!(!loc.contains("evil"), "{what}: {loc}");
}

/// One of every kind of HTML page the browser can see, with the status each
/// must have.
async fn every_page_kind(app: &TestApp) -> Vec<Page> {
    let mut pages = Vec::new();
    let b = app.browser();

    let r = b
        .authorize(&AuthRequest::new("c1").set("client_id", "nope"))
        .await;
    pages.push((400, read("/authorize error page (unknown client)", r).await));
    let r = b
        .authorize(&AuthRequest::new("c1").set("redirect_uri", "https://evil.example/cb"))
        .await;
    pages.push((
        400,
        read("/authorize error page (unregistered redirect_uri)", r).await,
    ));
    let r = b
        .http
        .post(app.url("/authorize"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("POST");
    pages.push((
        400,
        read("POST /authorize error page (not a form)", r).await,
    ));

    let r = b.authorize(&AuthRequest::new("c1")).await;
    let login_url = location(&r);
    let r = b.get(&login_url).await;
    let login = read("/login page", r).await;
    let mut form = Form::parse(&login.body);
    pages.push((200, login));

    form.set("username", ALICE)
        .set("password", "wrong-password");
    let r = b.submit(&form, None).await;
    pages.push((401, read("/login failed sign-in page", r).await));
    let r = app
        .http()
        .get(app.url(&login_url))
        .send()
        .await
        .expect("GET");
    pages.push((400, read("/login without a session", r).await));
    let mut no_csrf = form.clone();
    no_csrf.remove("csrf_token");
    let r = b.submit(&no_csrf, None).await;
    pages.push((403, read("/login POST without csrf_token", r).await));

    form.set("password", ALICE_PASSWORD);
    let r = b.submit(&form, None).await;
    assert_eq!(r.status(), 303);
    let consent_url = location(&r);
    let r = b.get(&consent_url).await;
    let consent = read("/consent page", r).await;
    let mut consent_form = Form::parse(&consent.body);
    pages.push((200, consent));
    consent_form.remove("csrf_token");
    let r = b.submit(&consent_form, Some(("decision", "approve"))).await;
    pages.push((403, read("/consent POST without csrf_token", r).await));
    let r = app
        .http()
        .get(app.url(&consent_url))
        .send()
        .await
        .expect("GET");
    pages.push((400, read("/consent without a session", r).await));
    let r = b.get("/no-such-page").await;
    pages.push((404, read("not-found page", r).await));

    for (status, page) in &pages {
        assert_eq!(page.status, *status, "{}: {}", page.what, page.body);
    }
    pages.into_iter().map(|(_, p)| p).collect()
}

// ---------------------------------------------------------------------------
// 1A. Authorization endpoint: client and redirect_uri validation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn conformance_1a_01_exact_redirect_uri_match() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
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
        // The same, with the NUL itself after decoding.
        "https://client.example/cb\0",
        "https://client.example/cb ",
        "https://client.example/cb2/",
    ];
    for v in variants {
        let req = AuthRequest::new("c1").set("redirect_uri", v);
        let r = browser.authorize(&req).await;
        let body = expect_error_page(r, &format!("redirect_uri {v:?}")).await;
        assert!(
            body.contains("redirect_uri"),
            "the page names the redirect URI problem for {v:?}: {body}"
        );
        assert!(!code_issued(&app, &req).await, "no code for {v:?}");
    }

    // Control: each registered URI, exactly, goes on to the login page, and
    // through to a code at that URI.
    for exact in [C1_REDIRECT, "https://client.example/cb2"] {
        let req = AuthRequest::new("c1").set("redirect_uri", exact);
        let r = app.browser().authorize(&req).await;
        assert_eq!(r.status(), 302, "{exact}");
        assert!(
            location(&r).starts_with("/login?request="),
            "{exact}: {}",
            location(&r)
        );
        let back = app
            .browser()
            .authorize_through_consent(&req, ALICE, ALICE_PASSWORD, None)
            .await;
        assert!(back.starts_with(&format!("{exact}?code=")), "{back}");
        assert!(code_issued(&app, &req).await, "{exact}");
    }
}

#[tokio::test]
async fn conformance_1a_02_never_redirect_on_client_or_redirect_uri_error() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let cases = [
        (
            "unknown client_id",
            AuthRequest::new("c1").set("client_id", "nope"),
            "unknown client_id",
        ),
        (
            "missing client_id",
            AuthRequest::new("c1").remove("client_id"),
            "client_id is missing",
        ),
        (
            "empty client_id",
            AuthRequest::new("c1").set("client_id", ""),
            "client_id is missing",
        ),
        (
            "redirect_uri of another client",
            AuthRequest::new("c1").set("redirect_uri", C2_REDIRECT),
            "not registered for this application",
        ),
        (
            "redirect_uri missing with two registered",
            AuthRequest::new("c1").remove("redirect_uri"),
            "redirect_uri is required",
        ),
        (
            "redirect_uri empty with two registered",
            AuthRequest::new("c1").set("redirect_uri", ""),
            "redirect_uri is required",
        ),
        (
            "redirect_uri repeated",
            AuthRequest::new("c1").add("redirect_uri", C1_REDIRECT),
            "redirect_uri is repeated",
        ),
        (
            "redirect_uri repeated, two registered values",
            AuthRequest::new("c1").add("redirect_uri", "https://client.example/cb2"),
            "redirect_uri is repeated",
        ),
        (
            "client_id repeated",
            AuthRequest::new("c1").add("client_id", "c1"),
            "client_id is repeated",
        ),
        (
            "client_id repeated, another client",
            AuthRequest::new("c1").add("client_id", "c2"),
            "client_id is repeated",
        ),
    ];
    for (what, req, message) in cases {
        let body = expect_error_page(browser.authorize(&req).await, what).await;
        assert!(
            body.contains(message),
            "{what}: the page says {message:?}: {body}"
        );
        assert!(!code_issued(&app, &req).await, "{what}");
    }

    // The same by POST.
    let req = AuthRequest::new("c1").set("client_id", "nope");
    let r = browser
        .http
        .post(app.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(req.query())
        .send()
        .await
        .expect("POST");
    expect_error_page(r, "POST with an unknown client").await;

    // The page itself, for review.
    let body = expect_error_page(
        browser
            .authorize(&AuthRequest::new("c1").set("client_id", "nope"))
            .await,
        "snapshot",
    )
    .await;
    // The server's display name carries its (per-run) port.
    let body = body.replace(&app.addr.port().to_string(), "[port]");
    insta::assert_snapshot!("unknown_client_error_page", body);
}

/// A change that spoils an otherwise good request.
type Spoil = fn(AuthRequest) -> AuthRequest;

#[tokio::test]
async fn conformance_1a_03_validate_client_and_redirect_uri_first() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let untrusted: [(&str, Spoil); 4] = [
        ("unknown client", |r| r.set("client_id", "nope")),
        ("missing client_id", |r| r.remove("client_id")),
        ("unregistered redirect_uri", |r| {
            r.set("redirect_uri", "https://evil.example/cb")
        }),
        ("redirect_uri of another client", |r| {
            r.set("redirect_uri", C2_REDIRECT)
        }),
    ];
    let other_errors: [(&str, Spoil); 7] = [
        ("response_type=bogus", |r| r.set("response_type", "bogus")),
        ("response_type=token", |r| r.set("response_type", "token")),
        ("response_type missing", |r| r.remove("response_type")),
        ("request_uri", |r| {
            r.set("request_uri", "https://evil.example/request.jwt")
        }),
        ("scope missing", |r| r.remove("scope")),
        ("code_challenge missing", |r| {
            r.remove("code_challenge").remove("code_challenge_method")
        }),
        ("state repeated", |r| r.add("state", "other")),
    ];
    for (bad_trust, spoil_trust) in untrusted {
        for (bad_other, spoil_other) in other_errors {
            let what = format!("{bad_trust} + {bad_other}");
            let req = spoil_other(spoil_trust(AuthRequest::new("c1")));
            expect_error_page(browser.authorize(&req).await, &what).await;
        }
    }
}

#[tokio::test]
async fn conformance_1a_04_errors_after_trust_are_redirected() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let cases: Vec<(&str, AuthRequest, &str, Option<&str>)> = vec![
        (
            "response_type missing",
            AuthRequest::new("c1").remove("response_type"),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "response_type=token",
            AuthRequest::new("c1").set("response_type", "token"),
            "unsupported_response_type",
            Some("xyz"),
        ),
        (
            "response_type=code id_token",
            AuthRequest::new("c1").set("response_type", "code id_token"),
            "unsupported_response_type",
            Some("xyz"),
        ),
        (
            "response_type=bogus",
            AuthRequest::new("c1").set("response_type", "bogus"),
            "unsupported_response_type",
            Some("xyz"),
        ),
        (
            "scope=unknown_scope",
            AuthRequest::new("c1").scope("unknown_scope"),
            "invalid_scope",
            Some("xyz"),
        ),
        (
            "scope partly unknown",
            AuthRequest::new("c1").scope("a unknown_scope"),
            "invalid_scope",
            Some("xyz"),
        ),
        (
            "scope missing",
            AuthRequest::new("c1").remove("scope"),
            "invalid_scope",
            Some("xyz"),
        ),
        (
            "p1 asks for a scope it lacks",
            AuthRequest::new("p1").scope("c"),
            "invalid_scope",
            Some("xyz"),
        ),
        // A repeated state has no single value to echo.
        (
            "state repeated",
            AuthRequest::new("c1").add("state", "b"),
            "invalid_request",
            None,
        ),
        (
            "scope repeated",
            AuthRequest::new("c1").add("scope", "b"),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "response_type repeated",
            AuthRequest::new("c1").add("response_type", "code"),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "code_challenge repeated",
            AuthRequest::new("c1").add(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "public client without code_challenge",
            AuthRequest::new("p1")
                .remove("code_challenge")
                .remove("code_challenge_method"),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "confidential client without code_challenge (PKCE required for all)",
            AuthRequest::new("c1")
                .remove("code_challenge")
                .remove("code_challenge_method"),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "code_challenge_method=S512",
            AuthRequest::new("c1").set("code_challenge_method", "S512"),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "code_challenge_method=plain",
            AuthRequest::new("c1").set("code_challenge_method", "plain"),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "code_challenge_method missing",
            AuthRequest::new("c1").remove("code_challenge_method"),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "code_challenge of 42 characters",
            AuthRequest::new("c1").set("code_challenge", &"a".repeat(42)),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "code_challenge of 129 characters",
            AuthRequest::new("c1").set("code_challenge", &"a".repeat(129)),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "code_challenge with a character outside the ABNF",
            AuthRequest::new("c1").set("code_challenge", &format!("{}+", "a".repeat(42))),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "prompt=none login",
            AuthRequest::new("c1").set("prompt", "none login"),
            "invalid_request",
            Some("xyz"),
        ),
        (
            "response_mode=fragment",
            AuthRequest::new("c1").set("response_mode", "fragment"),
            "invalid_request",
            Some("xyz"),
        ),
    ];
    for (what, req, error, state) in cases {
        let r = browser.authorize(&req).await;
        let redirect = req.redirect_uri.clone();
        expect_redirect_error(&app, &r, 302, &redirect, error, state, what);
        if req.params.iter().any(|(k, _)| k == "code_challenge") {
            assert!(!code_issued(&app, &req).await, "{what}");
        }
    }

    // A client not allowed the code flow.
    let mut cc = client("cc", Some(C1_SECRET), &["https://cc.example/cb"], &["a"]);
    cc.grant_types = vec!["client_credentials".into()];
    app.register(cc).await;
    let req = AuthRequest::new("cc").set("redirect_uri", "https://cc.example/cb");
    let r = browser.authorize(&req).await;
    expect_redirect_error(
        &app,
        &r,
        302,
        "https://cc.example/cb",
        "unauthorized_client",
        Some("xyz"),
        "client_credentials-only client",
    );

    // The user clicks Deny.
    let req = AuthRequest::new("c1");
    let consent = to_consent(&browser, &req, ALICE, ALICE_PASSWORD).await;
    let form = browser.form_at(&consent).await;
    let r = browser.submit(&form, Some(("decision", "deny"))).await;
    expect_redirect_error(
        &app,
        &r,
        303,
        C1_REDIRECT,
        "access_denied",
        Some("xyz"),
        "Deny",
    );
    assert!(!code_issued(&app, &req).await, "Deny issues no code");

    // Unchecking every scope is a denial too.
    let req = AuthRequest::new("c1").scope("a b");
    let r = browser.authorize(&req).await;
    let consent = location(&r);
    assert!(consent.starts_with("/consent?"), "{consent}");
    let mut form = browser.form_at(&consent).await;
    form.remove("scope");
    let r = browser.submit(&form, Some(("decision", "approve"))).await;
    expect_redirect_error(
        &app,
        &r,
        303,
        C1_REDIRECT,
        "access_denied",
        Some("xyz"),
        "nothing checked",
    );
    assert!(!code_issued(&app, &req).await);
}

#[tokio::test]
async fn conformance_1a_05_state_passed_through_unchanged() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let emoji = "a b+&c=\u{1F600}";
    let long: String = "xyZ09~-._ +&=%/?\u{e9}#".repeat(80);
    assert!((1024..=2048).contains(&long.len()), "{}", long.len());

    for state in [emoji, long.as_str(), "xyz"] {
        // Success.
        let req = AuthRequest::new("c1").set("state", state);
        let back = browser
            .authorize_through_consent(&req, ALICE, ALICE_PASSWORD, None)
            .await;
        assert!(back.starts_with(&format!("{C1_REDIRECT}?code=")), "{back}");
        assert_eq!(
            param(&back, "state").as_deref(),
            Some(state),
            "success keeps the exact state"
        );
        assert_eq!(
            query_params(&back)
                .iter()
                .filter(|(k, _)| k == "state")
                .count(),
            1
        );

        // Error.
        let req = AuthRequest::new("c1")
            .set("state", state)
            .scope("unknown_scope");
        let r = browser.authorize(&req).await;
        expect_redirect_error(
            &app,
            &r,
            302,
            C1_REDIRECT,
            "invalid_scope",
            Some(state),
            "error keeps the exact state",
        );
    }

    // The exact encoding of the checklist, written by hand.
    let raw = format!(
        "/authorize?{}&state=a%20b%2B%26c%3D%F0%9F%98%80",
        AuthRequest::new("c1").remove("state").query()
    );
    let r = browser.get(&raw).await;
    let loc = location(&r);
    assert_eq!(r.status(), 302);
    assert_eq!(param(&loc, "state").as_deref(), Some(emoji), "{loc}");
    assert!(
        param(&loc, "code").is_some(),
        "consent is remembered, so a code: {loc}"
    );
    let raw = format!(
        "/authorize?{}&state=a%20b%2B%26c%3D%F0%9F%98%80",
        AuthRequest::new("c1")
            .remove("state")
            .scope("unknown_scope")
            .query()
    );
    let r = browser.get(&raw).await;
    expect_redirect_error(
        &app,
        &r,
        302,
        C1_REDIRECT,
        "invalid_scope",
        Some(emoji),
        "hand-encoded state",
    );

    // No state (or an empty one) in the request: none in the response.
    for req in [
        AuthRequest::new("c1").remove("state"),
        AuthRequest::new("c1").set("state", ""),
    ] {
        let back = browser
            .authorize_through_consent(&req, ALICE, ALICE_PASSWORD, None)
            .await;
        assert!(param(&back, "code").is_some(), "{back}");
        assert!(
            !query_params(&back).iter().any(|(k, _)| k == "state"),
            "no state on success: {back}"
        );
        let r = browser.authorize(&req.clone().scope("unknown_scope")).await;
        let loc = expect_redirect_error(
            &app,
            &r,
            302,
            C1_REDIRECT,
            "invalid_scope",
            None,
            "no state on error",
        );
        assert!(
            !query_params(&loc).iter().any(|(k, _)| k == "state"),
            "{loc}"
        );
    }
}

#[tokio::test]
async fn conformance_1a_06_iss_in_every_authorization_response() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let count_iss = |loc: &str| query_params(loc).iter().filter(|(k, _)| k == "iss").count();

    // Success.
    let back = browser
        .authorize_through_consent(&AuthRequest::new("c1"), ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(param(&back, "code").is_some(), "{back}");
    assert_eq!(param(&back, "iss").as_deref(), Some(app.issuer()), "{back}");
    assert_eq!(count_iss(&back), 1, "{back}");

    // Success without any page (remembered consent), for a public client too.
    let r = browser.authorize(&AuthRequest::new("c1")).await;
    assert_eq!(param(&location(&r), "iss").as_deref(), Some(app.issuer()));
    let back = app
        .browser()
        .authorize_through_consent(&AuthRequest::new("p1"), BOB, BOB_PASSWORD, None)
        .await;
    assert!(param(&back, "code").is_some(), "{back}");
    assert_eq!(param(&back, "iss").as_deref(), Some(app.issuer()), "{back}");

    // invalid_scope, unsupported_response_type, login_required.
    let r = browser
        .authorize(&AuthRequest::new("c1").scope("unknown_scope"))
        .await;
    let loc = expect_redirect_error(
        &app,
        &r,
        302,
        C1_REDIRECT,
        "invalid_scope",
        Some("xyz"),
        "invalid_scope",
    );
    assert_eq!(count_iss(&loc), 1);
    let r = browser
        .authorize(&AuthRequest::new("c1").set("response_type", "token"))
        .await;
    expect_redirect_error(
        &app,
        &r,
        302,
        C1_REDIRECT,
        "unsupported_response_type",
        Some("xyz"),
        "unsupported_response_type",
    );
    let r = app
        .browser()
        .authorize(&AuthRequest::new("c1").set("prompt", "none"))
        .await;
    expect_redirect_error(
        &app,
        &r,
        302,
        C1_REDIRECT,
        "login_required",
        Some("xyz"),
        "prompt=none, signed out",
    );

    // access_denied.
    let fresh = app.browser();
    let consent = to_consent(&fresh, &AuthRequest::new("c2"), BOB, BOB_PASSWORD).await;
    let form = fresh.form_at(&consent).await;
    let r = fresh.submit(&form, Some(("decision", "deny"))).await;
    let loc = expect_redirect_error(
        &app,
        &r,
        303,
        C2_REDIRECT,
        "access_denied",
        Some("xyz"),
        "access_denied",
    );
    assert_eq!(count_iss(&loc), 1);
}

#[tokio::test]
async fn conformance_1a_07_unknown_parameters_ignored() {
    let app = TestApp::spawn().await;
    let browser = app.browser();

    // Each one alone is accepted: on to the login page.
    let accepted: Vec<(&str, AuthRequest)> = vec![
        (
            "extra=foobar",
            AuthRequest::new("c1").add("extra", "foobar"),
        ),
        (
            "unknown parameter with markup",
            AuthRequest::new("c1").add("x<y", PAYLOAD),
        ),
        ("nonce=", AuthRequest::new("c1").add("nonce", "")),
        ("prompt=", AuthRequest::new("c1").add("prompt", "")),
        ("max_age=", AuthRequest::new("c1").add("max_age", "")),
        (
            "response_mode=",
            AuthRequest::new("c1").add("response_mode", ""),
        ),
        ("request=", AuthRequest::new("c1").add("request", "")),
        (
            "request_uri=",
            AuthRequest::new("c1").add("request_uri", ""),
        ),
        ("state=", AuthRequest::new("c1").set("state", "")),
        (
            "redirect_uri= with one registered URI",
            AuthRequest::new("c2").set("redirect_uri", ""),
        ),
        (
            "redirect_uri omitted with one registered URI",
            AuthRequest::new("c2").remove("redirect_uri"),
        ),
    ];
    for (what, req) in accepted {
        let r = browser.authorize(&req).await;
        assert_eq!(r.status(), 302, "{what}");
        assert!(
            location(&r).starts_with("/login?request="),
            "{what}: {}",
            location(&r)
        );
    }

    // All together, through to a code.
    let req = AuthRequest::new("c1")
        .add("extra", "foobar")
        .add("nonce", "")
        .add("prompt", "")
        .add("max_age", "")
        .add("response_mode", "")
        .add("request_uri", "")
        .add("request", "");
    let back = browser
        .authorize_through_consent(&req, ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(back.starts_with(&format!("{C1_REDIRECT}?code=")), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
    assert!(
        !back.contains("extra") && !back.contains("foobar"),
        "unknown parameters are not echoed: {back}"
    );
    assert!(code_issued(&app, &req).await);

    // An omitted redirect_uri defaults to the single registered one.
    let back = browser
        .authorize_through_consent(
            &AuthRequest::new("c2").remove("redirect_uri"),
            ALICE,
            ALICE_PASSWORD,
            None,
        )
        .await;
    assert!(back.starts_with(&format!("{C2_REDIRECT}?code=")), "{back}");
}

#[tokio::test]
async fn conformance_1a_08_get_and_post_both_supported() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let post = |body: String, content_type: &'static str| {
        browser
            .http
            .post(app.url("/authorize"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    // A form POST works all the way.
    let req = AuthRequest::new("c1");
    let r = post(req.query(), "application/x-www-form-urlencoded")
        .await
        .expect("POST");
    assert_eq!(r.status(), 303);
    let login = location(&r);
    assert!(login.starts_with("/login?request="), "{login}");
    let r = browser.login(&login, ALICE, ALICE_PASSWORD).await;
    let consent = location(&r);
    let form = browser.form_at(&consent).await;
    let r = browser.submit(&form, Some(("decision", "approve"))).await;
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert!(back.starts_with(&format!("{C1_REDIRECT}?code=")), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
    assert!(code_issued(&app, &req).await);
    // With a charset parameter too.
    let r = post(
        AuthRequest::new("c1").query(),
        "application/x-www-form-urlencoded; charset=UTF-8",
    )
    .await
    .expect("POST");
    assert_eq!(r.status(), 303);
    assert!(param(&location(&r), "code").is_some(), "{}", location(&r));

    // POST errors after trust are redirected like GET ones.
    let r = post(
        AuthRequest::new("c1").scope("unknown_scope").query(),
        "application/x-www-form-urlencoded",
    )
    .await
    .expect("POST");
    expect_redirect_error(
        &app,
        &r,
        303,
        C1_REDIRECT,
        "invalid_scope",
        Some("xyz"),
        "POST invalid_scope",
    );

    // Rejected cleanly, never half-processed: not a form, or parameters only
    // in the query string of a POST.
    let fresh = app.browser();
    let req = AuthRequest::new("c1");
    let r = fresh
        .http
        .post(app.url("/authorize"))
        .header("content-type", "application/json")
        .body(serde_json::to_string(&req.params).expect("json"))
        .send()
        .await
        .expect("POST");
    assert!(
        session_set_cookie(&r).is_none(),
        "no session is started for a rejected request"
    );
    expect_error_page(r, "POST with a JSON body").await;
    let r = fresh
        .http
        .post(app.url(&format!("/authorize?{}", req.query())))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("POST");
    assert!(session_set_cookie(&r).is_none());
    expect_error_page(r, "POST with the parameters in the query only").await;
    assert!(!code_issued(&app, &req).await);
}

#[tokio::test]
async fn conformance_1a_09_scope_order_does_not_matter() {
    let app = TestApp::spawn().await;
    let mut granted = Vec::new();
    for (scope, user, password) in [("b a", ALICE, ALICE_PASSWORD), ("a b", BOB, BOB_PASSWORD)] {
        let browser = app.browser();
        let req = AuthRequest::new("c1").scope(scope);
        let consent = to_consent(&browser, &req, user, password).await;
        let form = browser.form_at(&consent).await;
        assert_eq!(
            form.all("scope"),
            vec!["a", "b"],
            "{scope:?}: the same boxes"
        );
        let r = browser.submit(&form, Some(("decision", "approve"))).await;
        let flow = req.into_flow(&location(&r));
        let r = app.redeem(&flow).await;
        assert_eq!(r.status(), 200, "{scope:?}");
        let body: serde_json::Value = r.json().await.expect("json");
        granted.push(body["scope"].as_str().unwrap_or_default().to_owned());

        // Consent given in one order covers the other.
        let other = if scope == "a b" { "b a" } else { "a b" };
        let r = browser
            .authorize(&AuthRequest::new("c1").scope(other))
            .await;
        assert!(
            param(&location(&r), "code").is_some(),
            "{scope:?} then {other:?}: {}",
            location(&r)
        );
    }
    assert_eq!(granted, vec!["a b", "a b"]);
}

#[tokio::test]
async fn conformance_1a_10_pkce_accepted_where_optional() {
    let app = TestApp::spawn().await;
    let redirect = "https://legacy.example/cb";
    let mut legacy = client("legacy", Some(LEGACY_SECRET), &[redirect], &["a"]);
    legacy.require_pkce = false;
    app.register(legacy).await;
    let browser = app.browser();
    let app_ref = &app;
    let redeem = |code: String, verifier: Option<String>| async move {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", redirect.to_owned()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        app_ref.token(&form, Some(("legacy", LEGACY_SECRET))).await
    };

    // With S256 PKCE: accepted, and the verifier is then checked.
    let req = AuthRequest::new("legacy").set("redirect_uri", redirect);
    let back = browser
        .authorize_through_consent(&req, ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(back.starts_with(&format!("{redirect}?code=")), "{back}");
    assert!(code_issued(&app, &req).await);
    let r = redeem(
        param(&back, "code").unwrap_or_default(),
        Some(req.verifier.clone()),
    )
    .await;
    assert_eq!(r.status(), 200, "the right verifier redeems");

    let req = AuthRequest::new("legacy").set("redirect_uri", redirect);
    let back = browser
        .authorize_through_consent(&req, ALICE, ALICE_PASSWORD, None)
        .await;
    let r = redeem(
        param(&back, "code").unwrap_or_default(),
        Some(new_verifier()),
    )
    .await;
    assert_eq!(r.status(), 400, "a wrong verifier does not");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");

    // Without PKCE: allowed for this legacy client only.
    let req = AuthRequest::new("legacy")
        .set("redirect_uri", redirect)
        .remove("code_challenge")
        .remove("code_challenge_method");
    let back = browser
        .authorize_through_consent(&req, ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(back.starts_with(&format!("{redirect}?code=")), "{back}");
}

#[tokio::test]
async fn conformance_1a_11_no_cors_on_authorize() {
    let app = TestApp::spawn().await;
    let http = app.http();
    let origin = "https://evil.example";
    let assert_no_cors = |headers: &HeaderMap, what: &str| {
        for name in [
            "access-control-allow-origin",
            "access-control-allow-credentials",
            "access-control-allow-methods",
            "access-control-allow-headers",
        ] {
            assert!(
                headers.get(name).is_none(),
                "{what}: {name}: {:?}",
                headers.get(name)
            );
        }
    };

    let r = http
        .request(reqwest::Method::OPTIONS, app.url("/authorize"))
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("OPTIONS");
    assert!(
        !r.status().is_success(),
        "a preflight is not approved: {}",
        r.status()
    );
    assert_no_cors(r.headers(), "OPTIONS /authorize");

    let query = AuthRequest::new("c1").query();
    let r = http
        .get(app.url(&format!("/authorize?{query}")))
        .header("origin", origin)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 302);
    assert_no_cors(r.headers(), "GET /authorize");

    let r = http
        .get(app.url("/authorize?client_id=nope"))
        .header("origin", origin)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 400);
    assert_no_cors(r.headers(), "GET /authorize error page");

    let query = AuthRequest::new("c1").scope("unknown_scope").query();
    let r = http
        .get(app.url(&format!("/authorize?{query}")))
        .header("origin", origin)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 302);
    assert_no_cors(r.headers(), "GET /authorize error redirect");

    let r = http
        .post(app.url("/authorize"))
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(AuthRequest::new("c1").query())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 303);
    assert_no_cors(r.headers(), "POST /authorize");
}

#[tokio::test]
async fn conformance_1a_12_not_an_open_redirector() {
    let app = TestApp::spawn().await;
    let browser = app.browser();

    // The user is authenticated before any redirect back to the client.
    let req = AuthRequest::new("c1");
    let r = browser
        .authorize(&req.clone().add("next", "//evil.com"))
        .await;
    assert_eq!(r.status(), 302);
    let login = location(&r);
    assert!(
        login.starts_with("/login?request="),
        "to the login page, not the client: {login}"
    );
    assert!(!code_issued(&app, &req).await);

    // No redirect parameter on any AS page leads off the host.
    for path in [
        "/login?next=//evil.com",
        "/login?next=https://evil.com",
        "/login?rd=https://evil.com",
        "/login?redirect=/%5Cevil.com",
        "/logout?redirect=https://evil.com",
        "/logout?post_logout_redirect_uri=https://evil.com",
        "/consent?next=//evil.com",
        "/authorize?next=//evil.com",
        "/authorize?client_id=nope&redirect_uri=https://evil.com",
    ] {
        let r = browser.get(path).await;
        assert_not_offsite(&app, &r, path);
    }

    // The same on the login page of a live request, and through the login.
    let r = browser.get(&format!("{login}&next=//evil.com")).await;
    assert_eq!(r.status(), 200);
    assert_not_offsite(&app, &r, "login page with next");
    let mut form = browser.form_at(&login).await;
    form.set("username", ALICE)
        .set("password", ALICE_PASSWORD)
        .set("next", "//evil.com")
        .set("rd", "https://evil.com");
    let r = browser.submit(&form, None).await;
    assert_eq!(r.status(), 303);
    assert_not_offsite(&app, &r, "POST /login with next");
    let consent = location(&r);
    assert!(consent.starts_with("/consent?request="), "{consent}");
    let mut form = browser.form_at(&consent).await;
    form.set("next", "//evil.com")
        .set("redirect_uri", "https://evil.com/cb");
    let r = browser.submit(&form, Some(("decision", "approve"))).await;
    assert!(
        location(&r).starts_with(&format!("{C1_REDIRECT}?code=")),
        "only the registered URI: {}",
        location(&r)
    );
}

#[tokio::test]
async fn conformance_1a_13_no_307_after_post() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let post_authorize = |req: AuthRequest| {
        browser
            .http
            .post(app.url("/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(req.query())
            .send()
    };

    // GET /authorize answers 302.
    let r = browser
        .authorize(&AuthRequest::new("c1").scope("unknown_scope"))
        .await;
    assert_eq!(r.status(), 302, "GET error redirect");
    let r = app
        .browser()
        .authorize(&AuthRequest::new("c1").set("prompt", "none"))
        .await;
    assert_eq!(r.status(), 302, "GET prompt=none");

    // Every POST is answered 303.
    let r = post_authorize(AuthRequest::new("c1").set("prompt", "none"))
        .await
        .expect("POST");
    assert_eq!(r.status(), 303, "POST /authorize prompt=none");
    let r = post_authorize(AuthRequest::new("c1").scope("unknown_scope"))
        .await
        .expect("POST");
    assert_eq!(r.status(), 303, "POST /authorize error");
    let r = post_authorize(AuthRequest::new("c1")).await.expect("POST");
    assert_eq!(r.status(), 303, "POST /authorize to login");
    let login = location(&r);

    // A failed login is a page, not a redirect that would re-post.
    let mut form = browser.form_at(&login).await;
    form.set("username", ALICE)
        .set("password", "wrong-password");
    let r = browser.submit(&form, None).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("location").is_none());

    let r = browser.login(&login, ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303, "POST /login");
    let consent = location(&r);
    let form = browser.form_at(&consent).await;
    let r = browser.submit(&form, Some(("decision", "approve"))).await;
    assert_eq!(r.status(), 303, "POST /consent approve");
    assert!(param(&location(&r), "code").is_some());

    // Login straight to a code (consent remembered) is 303 as well.
    let other = app.browser();
    let r = other.authorize(&AuthRequest::new("c1")).await;
    let r = other.login(&location(&r), ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303, "POST /login to the client");
    assert!(param(&location(&r), "code").is_some(), "{}", location(&r));

    // Deny.
    let r = browser
        .authorize(&AuthRequest::new("c1").set("prompt", "consent"))
        .await;
    let form = browser.form_at(&location(&r)).await;
    let r = browser.submit(&form, Some(("decision", "deny"))).await;
    assert_eq!(r.status(), 303, "POST /consent deny");

    // Signed in, consent remembered: POST /authorize to a code.
    let r = post_authorize(AuthRequest::new("c1")).await.expect("POST");
    assert_eq!(r.status(), 303, "POST /authorize to the client");
    assert!(param(&location(&r), "code").is_some(), "{}", location(&r));
}

#[tokio::test]
async fn conformance_1a_14_consent_is_shown() {
    let app = TestApp::spawn().await;
    let browser = app.browser();

    // Confidential client: remembered per (user, client, scope set).
    browser
        .authorize_through_consent(&AuthRequest::new("c1"), ALICE, ALICE_PASSWORD, None)
        .await;
    let r = browser.authorize(&AuthRequest::new("c1")).await;
    assert!(
        param(&location(&r), "code").is_some(),
        "remembered: {}",
        location(&r)
    );
    let r = browser
        .authorize(&AuthRequest::new("c1").set("redirect_uri", "https://client.example/cb2"))
        .await;
    assert!(
        param(&location(&r), "code").is_some(),
        "a confidential client's consent is not tied to the URI: {}",
        location(&r)
    );
    let r = browser
        .authorize(&AuthRequest::new("c1").scope("a c"))
        .await;
    assert!(
        location(&r).starts_with("/consent?"),
        "a new scope: {}",
        location(&r)
    );

    // prompt=consent always shows the page, every time.
    for round in 0..2 {
        let req = AuthRequest::new("c1").set("prompt", "consent");
        let r = browser.authorize(&req).await;
        let consent = location(&r);
        assert!(
            consent.starts_with("/consent?request="),
            "round {round}: {consent}"
        );
        assert!(!code_issued(&app, &req).await);
        let form = browser.form_at(&consent).await;
        let r = browser.submit(&form, Some(("decision", "approve"))).await;
        assert!(param(&location(&r), "code").is_some());
    }

    // Another user sees the page for the same client.
    let bobs = app.browser();
    let consent = to_consent(&bobs, &AuthRequest::new("c1"), BOB, BOB_PASSWORD).await;
    assert!(consent.starts_with("/consent?"));

    // Public client: honoured only for the exact redirect URI that got it.
    let at_5000 = "http://127.0.0.1:5000/cb";
    let at_6000 = "http://127.0.0.1:6000/cb";
    let back = browser
        .authorize_through_consent(
            &AuthRequest::new("p1").set("redirect_uri", at_5000),
            ALICE,
            ALICE_PASSWORD,
            None,
        )
        .await;
    assert!(back.starts_with(&format!("{at_5000}?code=")), "{back}");
    let r = browser
        .authorize(&AuthRequest::new("p1").set("redirect_uri", at_5000))
        .await;
    assert!(
        location(&r).starts_with(&format!("{at_5000}?code=")),
        "same URI: remembered: {}",
        location(&r)
    );
    let req = AuthRequest::new("p1").set("redirect_uri", at_6000);
    let r = browser.authorize(&req).await;
    assert!(
        location(&r).starts_with("/consent?request="),
        "another port: asked again: {}",
        location(&r)
    );
    assert!(!code_issued(&app, &req).await);
    let r = browser
        .authorize(
            &AuthRequest::new("p1")
                .set("redirect_uri", at_5000)
                .set("prompt", "consent"),
        )
        .await;
    assert!(
        location(&r).starts_with("/consent?request="),
        "prompt=consent, public client: {}",
        location(&r)
    );
}

// ---------------------------------------------------------------------------
// 1B. Loopback and TLS rules for redirect URIs
// ---------------------------------------------------------------------------

#[tokio::test]
async fn conformance_1b_15_loopback_port_flexibility_only() {
    let app = TestApp::spawn().await;
    app.register(client("p6", None, &["http://[::1]/cb"], &["a"]))
        .await;
    app.register(client("plh", None, &["http://localhost:9000/cb"], &["a"]))
        .await;
    let browser = app.browser();

    for (client_id, uri) in [
        ("p1", P1_REDIRECT),
        ("p1", "http://127.0.0.1:53124/cb"),
        ("p1", "http://127.0.0.1:1/cb"),
        ("p1", "http://127.0.0.1:65535/cb"),
        ("p6", "http://[::1]:53124/cb"),
        ("plh", "http://localhost:9000/cb"),
    ] {
        let r = browser
            .authorize(&AuthRequest::new(client_id).set("redirect_uri", uri))
            .await;
        assert_eq!(r.status(), 302, "{client_id} {uri}");
        assert!(
            location(&r).starts_with("/login?request="),
            "{client_id} {uri}: {}",
            location(&r)
        );
    }
    // The code goes to the port the client asked for.
    let back = browser
        .authorize_through_consent(
            &AuthRequest::new("p1").set("redirect_uri", "http://127.0.0.1:53124/cb"),
            ALICE,
            ALICE_PASSWORD,
            None,
        )
        .await;
    assert!(
        back.starts_with("http://127.0.0.1:53124/cb?code="),
        "{back}"
    );

    for (client_id, uri) in [
        ("p1", "http://127.0.0.1:53124/cb?bar=foo"),
        ("p1", "http://127.0.0.1:53124/other"),
        ("p1", "http://127.0.0.1:53124/cb/"),
        ("p1", "http://localhost:53124/cb"),
        ("p1", "http://localhost/cb"),
        ("p1", "http://127.0.0.1.evil.com/cb"),
        ("p1", "http://127.0.0.1@evil.com/cb"),
        ("p1", "http://127.0.0.1:53124@evil.com/cb"),
        ("p1", "http://127.0.0.2:53124/cb"),
        ("p1", "https://127.0.0.1:53124/cb"),
        ("p1", "http://[::1]:53124/cb"),
        ("p1", "http://127.0.0.1:0/cb"),
        ("p1", "http://127.0.0.1:99999/cb"),
        ("p1", "http://127.0.0.1:/cb"),
        ("p6", "http://127.0.0.1:53124/cb"),
        ("plh", "http://127.0.0.1:9000/cb"),
        ("plh", "http://localhost:9001/cb"),
        ("plh", "http://localhost/cb"),
    ] {
        let req = AuthRequest::new(client_id).set("redirect_uri", uri);
        expect_error_page(browser.authorize(&req).await, &format!("{client_id} {uri}")).await;
    }
}

#[tokio::test]
async fn conformance_1b_16_http_redirect_uris_only_for_loopback() {
    let app = TestApp::spawn().await;
    let production = Admin::new(
        app.store.clone(),
        Arc::new(SystemRandomness),
        Mode::Production,
    )
    .await
    .expect("admin");
    let spec = |id: &str, uri: &str| client(id, Some(C1_SECRET), &[uri], &["a"]);

    // Development mode (this server): http only for loopback and localhost.
    for (id, uri) in [
        ("d1", "http://client.example/cb"),
        ("d2", "http://10.0.0.1/cb"),
        ("d3", "http://localhost.evil.com/cb"),
    ] {
        assert!(
            app.admin
                .register_client(&spec(id, uri), false, T0)
                .await
                .is_err(),
            "dev: {uri}"
        );
        assert!(
            app.store.client(id).await.expect("store").is_none(),
            "dev: {uri} not stored"
        );
    }
    for (id, uri) in [
        ("d4", "http://localhost:9000/callback"),
        ("d5", "http://127.0.0.1/cb"),
    ] {
        assert!(
            app.admin
                .register_client(&spec(id, uri), false, T0)
                .await
                .is_ok(),
            "dev: {uri}"
        );
    }

    // Production mode: http only for loopback IP literals.
    for (id, uri) in [
        ("q1", "http://client.example/cb"),
        ("q2", "http://localhost:9000/callback"),
    ] {
        assert!(
            production
                .register_client(&spec(id, uri), false, T0)
                .await
                .is_err(),
            "prod: {uri}"
        );
        assert!(
            app.store.client(id).await.expect("store").is_none(),
            "prod: {uri} not stored"
        );
    }
    for (id, uri) in [
        ("q3", "http://127.0.0.1/cb"),
        ("q4", "http://[::1]/cb"),
        ("q5", "https://client.example/cb"),
    ] {
        assert!(
            production
                .register_client(&spec(id, uri), false, T0)
                .await
                .is_ok(),
            "prod: {uri}"
        );
    }

    // Requesting an http URI that is not registered is refused with a page.
    for uri in ["http://client.example/cb", "http://client2.example/cb"] {
        expect_error_page(
            app.browser()
                .authorize(&AuthRequest::new("c1").set("redirect_uri", uri))
                .await,
            uri,
        )
        .await;
    }
}

#[tokio::test]
async fn conformance_1b_17_registration_rejects_dangerous_uris() {
    let app = TestApp::spawn().await;
    let dangerous = [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "\tjavascript:alert(1)",
        "javascript://client.example/%0Aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "DATA:text/html,x",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "https://x.example/cb#frag",
        "https://x.example/cb#",
        "/relative/cb",
        "cb",
        "//x.example/cb",
        "https://x.example/*",
        "https://*.x.example/cb",
        "https://x.example/cb*",
        "https://user:pw@x.example/cb",
        "https://X.example/cb",
        "https://x.example:443/cb",
        "https://x.example/a/../cb",
        "",
    ];
    for (i, uri) in dangerous.iter().enumerate() {
        let id = format!("bad{i}");
        let spec = client(&id, Some(C1_SECRET), &[uri], &["a"]);
        let result = app.admin.register_client(&spec, false, T0).await;
        assert!(result.is_err(), "{uri:?} must be refused");
        assert!(
            app.store.client(&id).await.expect("store").is_none(),
            "{uri:?} not stored"
        );
    }

    // One bad URI among good ones spoils the registration; an update of an
    // existing client with a bad URI leaves it as it was.
    let spec = client(
        "mixed",
        Some(C1_SECRET),
        &["https://ok.example/cb", "javascript:alert(1)"],
        &["a"],
    );
    assert!(app.admin.register_client(&spec, false, T0).await.is_err());
    assert!(app.store.client("mixed").await.expect("store").is_none());
    let spec = client(
        "c1",
        Some(C1_SECRET),
        &[C1_REDIRECT, "javascript:alert(1)"],
        &["a", "b", "c"],
    );
    assert!(app.admin.register_client(&spec, false, T0).await.is_err());
    let c1 = app.store.client("c1").await.expect("store").expect("c1");
    assert_eq!(
        c1.redirect_uris,
        vec![
            C1_REDIRECT.to_owned(),
            "https://client.example/cb2".to_owned()
        ]
    );

    // Control: an ordinary https URI registers.
    let spec = client("good", Some(C1_SECRET), &["https://x.example/cb"], &["a"]);
    assert!(app.admin.register_client(&spec, false, T0).await.is_ok());
    assert!(app.store.client("good").await.expect("store").is_some());
}

// ---------------------------------------------------------------------------
// 1K. Browser-facing pages
// ---------------------------------------------------------------------------

#[tokio::test]
async fn conformance_1k_80_clickjacking_headers() {
    let app = TestApp::spawn().await;
    for page in every_page_kind(&app).await {
        let csp = header(&page.headers, "content-security-policy");
        assert!(
            csp.split(';').any(|d| d.trim() == "frame-ancestors 'none'"),
            "{}: Content-Security-Policy {csp:?}",
            page.what
        );
        assert_eq!(
            header(&page.headers, "x-frame-options"),
            "DENY",
            "{}",
            page.what
        );
    }
}

#[tokio::test]
async fn conformance_1k_81_consent_csrf() {
    let app = TestApp::spawn().await;

    // Alice and Bob, each at the consent page in their own browser.
    let alice = app.browser();
    let alice_req = AuthRequest::new("c1");
    let r = alice.authorize(&alice_req).await;
    let set_cookie = session_set_cookie(&r).expect("a session cookie");
    let attributes = cookie_attributes(&set_cookie);
    assert!(attributes.contains(&"httponly".to_owned()), "{set_cookie}");
    assert!(
        attributes.contains(&"samesite=lax".to_owned())
            || attributes.contains(&"samesite=strict".to_owned()),
        "{set_cookie}"
    );
    let r = alice.login(&location(&r), ALICE, ALICE_PASSWORD).await;
    let alice_consent = location(&r);
    let alice_form = alice.form_at(&alice_consent).await;
    let bob = app.browser();
    let bob_req = AuthRequest::new("c1");
    let bob_consent = to_consent(&bob, &bob_req, BOB, BOB_PASSWORD).await;
    let bob_form = bob.form_at(&bob_consent).await;
    let alice_csrf = alice_form.get("csrf_token").expect("csrf field").to_owned();
    let bob_csrf = bob_form.get("csrf_token").expect("csrf field").to_owned();
    let bob_request = bob_form.get("request").expect("request field").to_owned();
    assert_ne!(alice_csrf, bob_csrf, "CSRF tokens are per session");

    let approve = Some(("decision", "approve"));
    let refused = |r: &reqwest::Response, status: u16, what: &str| {
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert!(
            r.headers().get("location").is_none(),
            "{what}: {}",
            location(r)
        );
    };

    // No CSRF token, or an empty one.
    let mut form = alice_form.clone();
    form.remove("csrf_token");
    refused(&alice.submit(&form, approve).await, 403, "no csrf_token");
    form.set("csrf_token", "");
    refused(&alice.submit(&form, approve).await, 403, "empty csrf_token");
    // Bob's token in Alice's browser.
    form.set("csrf_token", &bob_csrf);
    refused(
        &alice.submit(&form, approve).await,
        403,
        "csrf_token from another session",
    );
    // Alice's token twice and Bob's once.
    let mut form = alice_form.clone();
    form.fields.push(("csrf_token".into(), bob_csrf.clone()));
    let r = alice.submit(&form, approve).await;
    assert!(
        r.status().is_client_error() && r.headers().get("location").is_none(),
        "repeated csrf_token: {}",
        r.status()
    );
    // Alice's own token with Bob's pending request.
    let mut form = alice_form.clone();
    form.set("request", &bob_request);
    let r = alice.submit(&form, approve).await;
    assert!(
        r.status().is_client_error(),
        "another session's request id: {}",
        r.status()
    );
    assert!(r.headers().get("location").is_none());
    // A cross-site POST carries no cookie (SameSite): refused.
    let mut fields = alice_form.fields.clone();
    fields.push(("decision".into(), "approve".into()));
    let r = app
        .http()
        .post(app.url("/consent"))
        .form(&fields)
        .send()
        .await
        .expect("POST");
    refused(&r, 403, "no session cookie");
    // An approval by GET is not honoured: it only shows the page.
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            alice_form
                .fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .append_pair("decision", "approve")
        .append_pair("approve", "1")
        .finish();
    let r = alice.get(&format!("/consent?{query}")).await;
    assert!(
        !r.status().is_redirection(),
        "GET approval: {} {}",
        r.status(),
        location(&r)
    );
    assert!(r.headers().get("location").is_none());

    assert!(
        !code_issued(&app, &alice_req).await,
        "no code for Alice from any of that"
    );
    assert!(
        !code_issued(&app, &bob_req).await,
        "no code for Bob from any of that"
    );

    // Control: the real forms still work, each in its own browser.
    let r = alice.submit(&alice_form, approve).await;
    assert_eq!(r.status(), 303);
    assert!(param(&location(&r), "code").is_some(), "{}", location(&r));
    assert!(code_issued(&app, &alice_req).await);
    let r = bob.submit(&bob_form, approve).await;
    assert!(param(&location(&r), "code").is_some(), "{}", location(&r));
    assert!(code_issued(&app, &bob_req).await);

    // A consent form submitted twice issues no second code.
    let r = alice.submit(&alice_form, approve).await;
    assert!(
        r.status().is_client_error() && r.headers().get("location").is_none(),
        "double submit: {}",
        r.status()
    );

    // An expired request cannot be approved.
    let req = AuthRequest::new("c1").set("prompt", "consent");
    let r = alice.authorize(&req).await;
    let form = alice.form_at(&location(&r)).await;
    app.clock
        .advance(app.state.config.authorization_request_ttl + 1);
    let r = alice.submit(&form, approve).await;
    assert!(
        r.status().is_client_error() && r.headers().get("location").is_none(),
        "expired request: {}",
        r.status()
    );
    assert!(!code_issued(&app, &req).await);
}

#[tokio::test]
async fn conformance_1k_82_login_csrf_and_session_fixation() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let req = AuthRequest::new("c1");
    let r = browser.authorize(&req).await;
    let before = session_set_cookie(&r).expect("a session cookie before login");
    let attributes = cookie_attributes(&before);
    assert!(attributes.contains(&"httponly".to_owned()), "{before}");
    assert!(attributes.contains(&"samesite=lax".to_owned()), "{before}");
    assert!(attributes.contains(&"path=/".to_owned()), "{before}");
    let login = location(&r);
    let form = browser.form_at(&login).await;

    // Login CSRF: the form must carry this session's token and request.
    let other = app.browser();
    let r = other.authorize(&AuthRequest::new("c2")).await;
    let other_form = other.form_at(&location(&r)).await;
    let mut bad = form.clone();
    bad.set("username", ALICE).set("password", ALICE_PASSWORD);
    bad.remove("csrf_token");
    let r = browser.submit(&bad, None).await;
    assert_eq!(r.status(), 403, "no csrf_token");
    assert!(session_set_cookie(&r).is_none() && r.headers().get("location").is_none());
    bad.set("csrf_token", other_form.get("csrf_token").expect("csrf"));
    let r = browser.submit(&bad, None).await;
    assert_eq!(r.status(), 403, "csrf_token of another session");
    assert!(session_set_cookie(&r).is_none() && r.headers().get("location").is_none());
    let mut bad = form.clone();
    bad.set("username", ALICE).set("password", ALICE_PASSWORD);
    bad.set("request", other_form.get("request").expect("request"));
    let r = browser.submit(&bad, None).await;
    assert!(
        r.status().is_client_error(),
        "request id of another session: {}",
        r.status()
    );
    assert!(session_set_cookie(&r).is_none() && r.headers().get("location").is_none());
    let r = app
        .http()
        .post(app.url("/login"))
        .form(&form.fields)
        .send()
        .await
        .expect("POST");
    assert!(
        r.status().is_client_error(),
        "no session cookie: {}",
        r.status()
    );
    assert!(session_set_cookie(&r).is_none() && r.headers().get("location").is_none());

    // A failed login: same status and page whether the user exists or not,
    // and no new session.
    let mut failures = Vec::new();
    for username in [ALICE, "nosuchuser"] {
        let mut f = form.clone();
        f.set("username", username)
            .set("password", "wrong-password-1");
        let r = browser.submit(&f, None).await;
        assert!(
            session_set_cookie(&r).is_none(),
            "{username}: no session on failure"
        );
        let status = r.status();
        let body = r
            .text()
            .await
            .expect("body")
            .replace(&format!("value=\"{username}\""), "value=\"[user]\"");
        assert!(!body.contains(username), "{username}");
        failures.push((status, body));
    }
    assert_eq!(failures[0].0, 401);
    assert_eq!(
        failures[0], failures[1],
        "a failed login does not say whether the user exists"
    );

    // Success: a new session id.
    let r = browser.login(&login, ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let after = session_set_cookie(&r).expect("a new session cookie on login");
    assert!(
        cookie_attributes(&after).contains(&"httponly".to_owned()),
        "{after}"
    );
    assert!(
        cookie_attributes(&after).contains(&"samesite=lax".to_owned()),
        "{after}"
    );
    let (before, after) = (cookie_value(&before), cookie_value(&after));
    assert!(
        before.len() >= 43 && after.len() >= 43,
        "256-bit session ids"
    );
    assert_ne!(before, after, "the session id rotates on login");

    // The pre-login id (one an attacker could have planted) is worthless now.
    let consent = location(&r);
    assert!(consent.starts_with("/consent?"), "{consent}");
    let with_cookie = |value: String| {
        app.http()
            .get(app.url(&consent))
            .header("cookie", format!("tessera_session={value}"))
            .send()
    };
    let r = with_cookie(before.clone()).await.expect("GET");
    assert!(
        r.status().is_client_error(),
        "old session id: {}",
        r.status()
    );
    let r = with_cookie(after).await.expect("GET");
    assert_eq!(r.status(), 200, "new session id");
    let query = AuthRequest::new("c1").set("prompt", "none").query();
    let r = app
        .http()
        .get(app.url(&format!("/authorize?{query}")))
        .header("cookie", format!("tessera_session={before}"))
        .send()
        .await
        .expect("GET");
    expect_redirect_error(
        &app,
        &r,
        302,
        C1_REDIRECT,
        "login_required",
        Some("xyz"),
        "old session id is signed out",
    );
}

#[tokio::test]
async fn conformance_1k_83_response_headers_on_as_pages() {
    let app = TestApp::spawn().await;
    let pages = every_page_kind(&app).await;
    for page in &pages {
        assert_eq!(
            header(&page.headers, "referrer-policy"),
            "no-referrer",
            "{}",
            page.what
        );
        assert_eq!(
            header(&page.headers, "cache-control"),
            "no-store",
            "{}",
            page.what
        );
        // No third-party resources: no scripts at all, and every reference
        // is a path on this server.
        assert!(
            select_texts(&page.body, "script").is_empty() && !page.body.contains("<script"),
            "{}",
            page.what
        );
        for (selector, attr) in [
            ("[src]", "src"),
            ("[href]", "href"),
            ("[action]", "action"),
            ("[srcset]", "srcset"),
        ] {
            for value in select_attrs(&page.body, selector, attr) {
                assert!(
                    value.starts_with('/') && !value.starts_with("//"),
                    "{}: {attr}={value:?}",
                    page.what
                );
            }
        }
    }

    // The redirects that carry a code or an error are not cached or leaked
    // by Referer either.
    let browser = app.browser();
    let r = browser.authorize(&AuthRequest::new("c1")).await;
    let mut redirects = vec![("to login", r)];
    let r = browser
        .login(&location(&redirects[0].1), ALICE, ALICE_PASSWORD)
        .await;
    let consent = location(&r);
    redirects.push(("to consent", r));
    let form = browser.form_at(&consent).await;
    redirects.push((
        "code after consent",
        browser.submit(&form, Some(("decision", "approve"))).await,
    ));
    redirects.push((
        "code from /authorize",
        browser.authorize(&AuthRequest::new("c1")).await,
    ));
    redirects.push((
        "error from /authorize",
        browser
            .authorize(&AuthRequest::new("c1").scope("unknown_scope"))
            .await,
    ));
    for (what, r) in &redirects {
        assert!(r.status().is_redirection(), "{what}");
        assert_eq!(
            header(r.headers(), "referrer-policy"),
            "no-referrer",
            "{what}"
        );
        assert_eq!(header(r.headers(), "cache-control"), "no-store", "{what}");
    }

    // The login page, for review (per-run values redacted).
    let login = pages
        .iter()
        .find(|p| p.what == "/login page")
        .expect("login page");
    let form = Form::parse(&login.body);
    let redacted = login
        .body
        .replace(form.get("csrf_token").expect("csrf"), "[csrf_token]")
        .replace(form.get("request").expect("request"), "[request_id]")
        .replace(&app.addr.port().to_string(), "[port]");
    insta::assert_snapshot!("login_page", redacted);
}

#[tokio::test]
async fn conformance_1k_84_xss_on_error_and_consent_pages() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let no_markup = |body: &str, what: &str| {
        assert!(!body.contains("<script"), "{what}: raw script tag: {body}");
        assert!(!body.contains(PAYLOAD), "{what}: raw payload: {body}");
        assert!(select_texts(body, "script").is_empty(), "{what}");
    };
    let page_headers = |headers: &HeaderMap, what: &str| {
        assert_eq!(
            header(headers, "content-type"),
            "text/html; charset=utf-8",
            "{what}"
        );
        assert_eq!(
            header(headers, "x-content-type-options"),
            "nosniff",
            "{what}"
        );
    };

    // Reflected request values on error pages.
    for (what, req) in [
        (
            "client_id",
            AuthRequest::new("c1").set("client_id", PAYLOAD),
        ),
        (
            "redirect_uri",
            AuthRequest::new("c1").set("redirect_uri", PAYLOAD),
        ),
        (
            "redirect_uri javascript:",
            AuthRequest::new("c1").set("redirect_uri", "javascript:alert(1)"),
        ),
        (
            "state with an unknown client",
            AuthRequest::new("c1")
                .set("client_id", "nope")
                .set("state", PAYLOAD),
        ),
        (
            "scope with an unknown client",
            AuthRequest::new("c1")
                .set("client_id", "nope")
                .scope(PAYLOAD),
        ),
    ] {
        let r = browser.authorize(&req).await;
        page_headers(r.headers(), what);
        let body = expect_error_page(r, what).await;
        no_markup(&body, what);
        assert!(!body.contains("javascript:"), "{what}");
    }

    // Reflected values in redirects are URL-encoded, and the description is
    // ours, not the request's.
    for (what, req, error) in [
        (
            "state",
            AuthRequest::new("c1")
                .set("state", PAYLOAD)
                .scope("unknown_scope"),
            "invalid_scope",
        ),
        (
            "scope",
            AuthRequest::new("c1").set("state", PAYLOAD).scope(PAYLOAD),
            "invalid_scope",
        ),
        (
            "response_type",
            AuthRequest::new("c1")
                .set("state", PAYLOAD)
                .set("response_type", PAYLOAD),
            "unsupported_response_type",
        ),
        (
            "unknown repeated parameter",
            AuthRequest::new("c1")
                .set("state", PAYLOAD)
                .add(PAYLOAD, "1")
                .add(PAYLOAD, "2"),
            "invalid_request",
        ),
    ] {
        let r = browser.authorize(&req).await;
        let loc = expect_redirect_error(&app, &r, 302, C1_REDIRECT, error, Some(PAYLOAD), what);
        assert!(
            !loc.contains(['<', '>', '"', '\'', '{', '}', ' ']),
            "{what}: {loc}"
        );
        let description = param(&loc, "error_description").unwrap_or_default();
        assert!(
            !description.contains("script") && !description.contains("7*7"),
            "{what}: {description}"
        );
    }

    // A client whose registered name is a payload: escaped on the login and
    // consent pages, and shown as plain text, not evaluated.
    let mut evil = client("xss", Some(C1_SECRET), &["https://xss.example/cb"], &["a"]);
    evil.name = Some(PAYLOAD.to_owned());
    app.register(evil).await;
    let req = AuthRequest::new("xss").set("redirect_uri", "https://xss.example/cb");
    let r = browser.authorize(&req).await;
    let login = location(&r);
    let r = browser.get(&login).await;
    page_headers(r.headers(), "login page");
    let body = r.text().await.expect("body");
    no_markup(&body, "login page, client name");
    assert_eq!(
        select_texts(&body, "p.lead strong"),
        vec![PAYLOAD.to_owned()],
        "the name is text: {body}"
    );

    // The username on the failed-login page.
    let mut form = Form::parse(&body);
    form.set("username", PAYLOAD)
        .set("password", "wrong-password");
    let r = browser.submit(&form, None).await;
    assert_eq!(r.status(), 401);
    page_headers(r.headers(), "failed login page");
    let failed = r.text().await.expect("body");
    no_markup(&failed, "failed login page, username");
    assert_eq!(
        select_attrs(&failed, "input#username", "value"),
        vec![PAYLOAD.to_owned()],
        "{failed}"
    );

    let r = browser.login(&login, ALICE, ALICE_PASSWORD).await;
    let r = browser.get(&location(&r)).await;
    page_headers(r.headers(), "consent page");
    let body = r.text().await.expect("body");
    no_markup(&body, "consent page, client name");
    assert_eq!(
        select_texts(&body, "p.lead strong"),
        vec![PAYLOAD.to_owned()],
        "{body}"
    );
}

/// Display values an attacker might add to the login and consent page URLs.
const SPOOF_QUERY: &str = "client_name=Evil+Corp&redirect_host=evil.example&client_id=c2&username=mallory&logo_uri=https%3A%2F%2Fevil.example%2Flogo.png";

#[tokio::test]
async fn conformance_1k_85_consent_shows_the_real_client() {
    let app = TestApp::spawn().await;
    let spoof = |req: AuthRequest| {
        req.add("client_name", "Evil Corp")
            .add("redirect_host", "evil.example")
            .add("logo_uri", "https://evil.example/logo.png")
            .add("client_uri", "https://evil.example/")
    };

    let cases = [
        (
            AuthRequest::new("c1"),
            ALICE,
            ALICE_PASSWORD,
            "Client c1",
            "client.example",
        ),
        (
            AuthRequest::new("c1").set("redirect_uri", "https://client.example/cb2"),
            BOB,
            BOB_PASSWORD,
            "Client c1",
            "client.example",
        ),
        (
            AuthRequest::new("c2"),
            ALICE,
            ALICE_PASSWORD,
            "Client c2",
            "client2.example",
        ),
        (
            AuthRequest::new("p1").set("redirect_uri", "http://127.0.0.1:5000/cb"),
            BOB,
            BOB_PASSWORD,
            "Client p1",
            "127.0.0.1",
        ),
    ];
    for (req, user, password, name, host) in cases {
        let browser = app.browser();
        let req = spoof(req);
        let r = browser.authorize(&req).await;
        let login = location(&r);
        // The page URLs carry the same spoofed values, as a phishing link would.
        let login_page = browser
            .get(&format!("{login}&{SPOOF_QUERY}"))
            .await
            .text()
            .await
            .expect("body");
        assert_eq!(
            select_texts(&login_page, "p.lead strong"),
            vec![name.to_owned()],
            "login page for {name}"
        );
        let r = browser.login(&login, user, password).await;
        let consent_url = location(&r);
        assert!(consent_url.starts_with("/consent?"), "{consent_url}");
        let consent = browser
            .get(&format!("{consent_url}&{SPOOF_QUERY}"))
            .await
            .text()
            .await
            .expect("body");
        let what = format!("{name} at {}", req.redirect_uri);
        assert_eq!(
            select_texts(&consent, "p.lead strong"),
            vec![name.to_owned()],
            "{what}: {consent}"
        );
        let notes = select_texts(&consent, "p.note strong");
        assert_eq!(
            notes,
            vec![host.to_owned(), user.to_owned()],
            "{what}: host, then the signed-in user"
        );
        for page in [&login_page, &consent] {
            assert!(
                !page.contains("Evil")
                    && !page.contains("evil.example")
                    && !page.contains("mallory"),
                "{what}: request values are not shown"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 1M. Cross-cutting
// ---------------------------------------------------------------------------

#[tokio::test]
async fn conformance_1m_098_no_ssrf_via_request_uri() {
    let app = TestApp::spawn().await;
    let canary = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("canary");
    let canary_url = format!(
        "http://127.0.0.1:{}/x",
        canary.local_addr().expect("addr").port()
    );
    let browser = app.browser();

    let r = browser
        .authorize(&AuthRequest::new("c1").set("request_uri", &canary_url))
        .await;
    expect_redirect_error(
        &app,
        &r,
        302,
        C1_REDIRECT,
        "request_uri_not_supported",
        Some("xyz"),
        "request_uri, c1",
    );
    let r = browser
        .authorize(&AuthRequest::new("p1").set("request_uri", &canary_url))
        .await;
    expect_redirect_error(
        &app,
        &r,
        302,
        P1_REDIRECT,
        "request_uri_not_supported",
        Some("xyz"),
        "request_uri, p1",
    );
    // Only request_uri and client_id, the PAR/JAR shape.
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", "c2")
        .append_pair("request_uri", &canary_url)
        .finish();
    let r = browser.get(&format!("/authorize?{query}")).await;
    let loc = location(&r);
    assert!(
        loc.starts_with(&format!("{C2_REDIRECT}?error=")) && !loc.contains("code="),
        "{loc}"
    );
    // With an untrusted client or redirect URI: a page, and still no fetch.
    let r = browser
        .authorize(
            &AuthRequest::new("c1")
                .set("client_id", "nope")
                .set("request_uri", &canary_url),
        )
        .await;
    expect_error_page(r, "request_uri, unknown client").await;
    // A request object is refused as well.
    let r = browser
        .authorize(&AuthRequest::new("c1").set("request", "eyJhbGciOiJub25lIn0.e30."))
        .await;
    expect_redirect_error(
        &app,
        &r,
        302,
        C1_REDIRECT,
        "request_not_supported",
        Some("xyz"),
        "request object",
    );

    let accepted = tokio::time::timeout(Duration::from_millis(300), canary.accept()).await;
    assert!(
        accepted.is_err(),
        "the authorization server connected to the request_uri"
    );
}

#[tokio::test]
async fn conformance_1m_100_redirect_uri_response_building() {
    let app = TestApp::spawn().await;
    let registered = "https://q.example/cb?tenant=7";
    app.register(client("q1", Some(C1_SECRET), &[registered], &["a"]))
        .await;
    let browser = app.browser();
    let count = |loc: &str, name: &str| query_params(loc).iter().filter(|(k, _)| k == name).count();

    // Success: the registered query kept, each response parameter once.
    for req in [
        AuthRequest::new("q1").set("redirect_uri", registered),
        AuthRequest::new("q1")
            .set("redirect_uri", registered)
            .set("response_mode", "query"),
        AuthRequest::new("q1").remove("redirect_uri"),
    ] {
        let back = browser
            .authorize_through_consent(&req, ALICE, ALICE_PASSWORD, None)
            .await;
        assert!(back.starts_with(&format!("{registered}&code=")), "{back}");
        assert!(!back.contains('#'), "{back}");
        for (name, n) in [
            ("tenant", 1),
            ("code", 1),
            ("state", 1),
            ("iss", 1),
            ("error", 0),
        ] {
            assert_eq!(count(&back, name), n, "{name} in {back}");
        }
        assert_eq!(param(&back, "tenant").as_deref(), Some("7"));
        assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
        assert_eq!(param(&back, "iss").as_deref(), Some(app.issuer()));
    }

    // Errors too, including for a fragment response mode.
    for (req, error) in [
        (
            AuthRequest::new("q1")
                .set("redirect_uri", registered)
                .scope("unknown_scope"),
            "invalid_scope",
        ),
        (
            AuthRequest::new("q1")
                .set("redirect_uri", registered)
                .set("response_mode", "fragment"),
            "invalid_request",
        ),
    ] {
        let r = browser.authorize(&req).await;
        let loc = location(&r);
        assert_eq!(r.status(), 302);
        assert!(loc.starts_with(&format!("{registered}&error=")), "{loc}");
        assert!(!loc.contains('#'), "{loc}");
        for (name, n) in [
            ("tenant", 1),
            ("error", 1),
            ("state", 1),
            ("iss", 1),
            ("code", 0),
        ] {
            assert_eq!(count(&loc, name), n, "{name} in {loc}");
        }
        assert_eq!(param(&loc, "error").as_deref(), Some(error));
    }

    // A registered URI ending in `?` or `&` gets no doubled separator.
    for (id, uri) in [
        ("q2", "https://q2.example/cb?"),
        ("q3", "https://q3.example/cb?tenant=7&"),
    ] {
        app.register(client(id, Some(C1_SECRET), &[uri], &["a"]))
            .await;
        let back = browser
            .authorize_through_consent(
                &AuthRequest::new(id).set("redirect_uri", uri),
                ALICE,
                ALICE_PASSWORD,
                None,
            )
            .await;
        assert!(back.starts_with(&format!("{uri}code=")), "{back}");
        assert!(
            !back.contains("?&") && !back.contains("&&") && !back.contains("??"),
            "{back}"
        );
        assert_eq!(
            (
                count(&back, "code"),
                count(&back, "state"),
                count(&back, "iss")
            ),
            (1, 1, 1),
            "{back}"
        );
    }

    // The registered URI with its query is matched exactly too.
    for uri in [
        "https://q.example/cb",
        "https://q.example/cb?tenant=8",
        "https://q.example/cb?tenant=7&x=1",
        "https://q.example/cb?tenant=7&code=x",
    ] {
        expect_error_page(
            browser
                .authorize(&AuthRequest::new("q1").set("redirect_uri", uri))
                .await,
            uri,
        )
        .await;
    }

    // A registered URI cannot carry a response parameter itself.
    for (i, uri) in [
        "https://x.example/cb?code=1",
        "https://x.example/cb?state=1",
        "https://x.example/cb?iss=https://evil.example",
        "https://x.example/cb?error=access_denied",
        "https://x.example/cb?error_description=x",
        "https://x.example/cb?access_token=x",
        "https://x.example/cb?a=1&code=2",
    ]
    .iter()
    .enumerate()
    {
        let id = format!("rp{i}");
        assert!(
            app.admin
                .register_client(&client(&id, Some(C1_SECRET), &[uri], &["a"]), false, T0)
                .await
                .is_err(),
            "{uri}"
        );
        assert!(
            app.store.client(&id).await.expect("store").is_none(),
            "{uri}"
        );
    }
}
