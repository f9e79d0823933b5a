//! Issue 13 item 7, production posture, over the real server: built-in TLS
//! (a self-signed certificate made in the test, trusted by the test's
//! client alone), HSTS exactly when the issuer is https, and the security
//! headers on every response, whatever answered it.

use std::time::Duration;

use reqwest::header::HeaderMap;
use tessera_serve::{Tls, TlsFiles};

use crate::harness::*;

/// A self-signed certificate for `localhost`, written to `dir`, and the
/// server's TLS loaded from it (100 ms reloads).
fn tls_in(dir: &std::path::Path) -> (Tls, reqwest::Certificate, TlsFiles) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let mut files = TlsFiles::new(cert, key);
    files.reload_interval = Duration::from_millis(100);
    let trusted = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    (Tls::load(files.clone()).unwrap(), trusted, files)
}

/// A client that trusts only `cert` and finds `localhost` at the test
/// server's address.
fn https_client(app: &TestApp, cert: reqwest::Certificate) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .resolve("localhost", app.addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// docs/conformance.md item 18: the AS's endpoints over TLS, and nothing
/// processed in plain http on a TLS port.
#[tokio::test]
async fn issue13_item7_discovery_over_built_in_tls_with_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, trusted, _) = tls_in(dir.path());
    let app = TestApp::builder()
        .issuer("https://localhost")
        .configure(move |c| c.tls = Some(tls))
        .spawn()
        .await;
    let port = app.addr.port();
    let client = https_client(&app, trusted);
    let r = client
        .get(format!(
            "https://localhost:{port}/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    check_security_headers("discovery over TLS", r.headers());
    let metadata: serde_json::Value = r.json().await.unwrap();
    assert_eq!(metadata["issuer"], "https://localhost");

    // The port speaks TLS only: plain http gets no answer.
    let plain = app
        .http()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");

    // A client that does not trust the certificate refuses it.
    let stranger = reqwest::Client::builder()
        .resolve("localhost", app.addr)
        .build()
        .unwrap();
    let refused = stranger
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn issue13_item7_a_renewed_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, first, files) = tls_in(dir.path());
    let app = TestApp::builder()
        .issuer("https://localhost")
        .configure(move |c| c.tls = Some(tls))
        .spawn()
        .await;
    let url = format!("https://localhost:{}/healthz", app.addr.port());
    assert_eq!(
        https_client(&app, first)
            .get(&url)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let renewed = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&files.certificate, renewed.cert.pem()).unwrap();
    std::fs::write(&files.key, renewed.signing_key.serialize_pem()).unwrap();
    let trusted = reqwest::Certificate::from_pem(renewed.cert.pem().as_bytes()).unwrap();
    // A fresh client per attempt (no connection or session kept), trusting
    // only the renewed certificate.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = https_client(&app, trusted.clone()).get(&url).send().await;
        if matches!(&r, Ok(r) if r.status() == 200) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate is not served: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// docs/conformance.md item 83: HSTS in production.
#[tokio::test]
async fn issue13_item7_hsts_when_the_issuer_is_https_never_in_development() {
    // Development (http://127.0.0.1 issuer): no HSTS, on any answer.
    let dev = TestApp::spawn().await;
    for path in [
        "/",
        "/healthz",
        "/.well-known/openid-configuration",
        "/nope",
    ] {
        let r = dev.http().get(dev.url(path)).send().await.unwrap();
        assert!(
            !r.headers().contains_key("strict-transport-security"),
            "{path}"
        );
    }

    // Behind a TLS-terminating proxy (https issuer, plain http here): the
    // browser reaches the issuer over https, so HSTS is sent.
    let proxied = TestApp::builder()
        .issuer("https://as.example")
        .spawn()
        .await;
    for path in ["/healthz", "/nope", "/token"] {
        let r = proxied.http().get(proxied.url(path)).send().await.unwrap();
        assert_eq!(
            r.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }

    // Configurable, and 0 turns it off.
    let short = TestApp::builder()
        .issuer("https://as.example")
        .configure(|c| c.hsts_max_age_secs = 300)
        .spawn()
        .await;
    let r = short
        .http()
        .get(short.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["strict-transport-security"], "max-age=300");
    let off = TestApp::builder()
        .issuer("https://as.example")
        .configure(|c| c.hsts_max_age_secs = 0)
        .spawn()
        .await;
    let r = off.http().get(off.url("/healthz")).send().await.unwrap();
    assert!(!r.headers().contains_key("strict-transport-security"));
}

/// The headers every answer carries (issue 13 item 7).
fn check_security_headers(what: &str, h: &HeaderMap) {
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
    };
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert!(
        get("content-security-policy").contains("frame-ancestors 'none'"),
        "{what}"
    );
    assert!(!get("cache-control").is_empty(), "{what}");
}

/// `Cache-Control: no-store`: answers that carry codes, tokens or a user's
/// data (RFC 6749 §5.1).
fn check_no_store(what: &str, h: &HeaderMap) {
    assert_eq!(
        h.get("cache-control").map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{what}"
    );
}

/// docs/conformance.md item 83 (`Referrer-Policy`, `no-store`), on every
/// answer rather than on pages only.
#[tokio::test]
async fn issue13_item7_security_headers_on_every_response() {
    let app = TestApp::spawn().await;
    let http = app.http();
    let mut seen = 0;
    let mut wrong = Vec::new();

    // Every route, with the methods it answers and one it does not, and
    // paths that are no route at all.
    for (method, path, status) in [
        ("GET", "/", 200),
        ("GET", "/healthz", 200),
        ("GET", "/.well-known/openid-configuration", 200),
        ("GET", "/.well-known/oauth-authorization-server", 200),
        ("GET", "/jwks.json", 200),
        ("GET", "/static/tessera.css", 200),
        ("GET", "/authorize", 400),
        ("GET", "/login", 400),
        ("GET", "/consent", 400),
        ("GET", "/end_session", 200),
        ("GET", "/userinfo", 401),
        ("POST", "/token", 400),
        ("POST", "/revoke", 400),
        ("POST", "/introspect", 400),
        ("GET", "/token", 405),
        ("DELETE", "/authorize", 405),
        ("POST", "/.well-known/openid-configuration", 405),
        ("POST", "/jwks.json", 405),
        ("GET", "/nope", 404),
        ("GET", "/static/nope.js", 404),
    ] {
        let r = http
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        let what = format!("{method} {path}");
        if r.status().as_u16() != status {
            wrong.push(format!("{what}: {} (expected {status})", r.status()));
        }
        check_security_headers(&what, r.headers());
        if !matches!(
            path,
            "/jwks.json"
                | "/static/tessera.css"
                | "/.well-known/openid-configuration"
                | "/.well-known/oauth-authorization-server"
        ) || status != 200
        {
            check_no_store(&what, r.headers());
        }
        seen += 1;
    }

    assert!(wrong.is_empty(), "{wrong:#?}");

    // What may be cached says so itself, and keeps it.
    let r = http.get(app.url("/jwks.json")).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");

    // Error bodies: an OAuth error in JSON, and a body over the limit.
    let r = app
        .token(
            &[("grant_type", "authorization_code")],
            Some(("c1", "wrong")),
        )
        .await;
    assert_eq!(r.status(), 401);
    check_security_headers("token with a wrong secret", r.headers());
    check_no_store("token with a wrong secret", r.headers());
    let r = http
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    check_security_headers("token with an oversized body", r.headers());

    // The browser flow's redirects, the one carrying the code included,
    // then the tokens.
    let browser = app.browser();
    let request = AuthRequest::new("c1").scope("a");
    let r = browser.authorize(&request).await;
    assert_eq!(r.status(), 302);
    check_security_headers("authorize redirect", r.headers());
    let login_url = location(&r);
    let r = browser.login(&login_url, ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303);
    check_security_headers("login redirect", r.headers());
    let form = browser.form_at(&location(&r)).await;
    let r = browser.submit(&form, Some(("decision", "approve"))).await;
    assert_eq!(r.status(), 303);
    check_security_headers("redirect with the code", r.headers());
    check_no_store("redirect with the code", r.headers());
    let flow = request.into_flow(&location(&r));
    let r = app.redeem(&flow).await;
    assert_eq!(r.status(), 200);
    check_security_headers("token response", r.headers());
    check_no_store("token response", r.headers());
    let tokens: serde_json::Value = r.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let r = http
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    check_security_headers("userinfo", r.headers());
    check_no_store("userinfo", r.headers());
    assert!(seen >= 20);
}
