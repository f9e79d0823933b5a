//! Edges of request handling: re-authentication by age, bodies that cannot
//! be read, wrong methods, and production-mode cookies.

use crate::harness::*;

#[tokio::test]
async fn max_age_forces_a_new_login_when_the_last_one_is_too_old() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let first = browser
        .authorize_through_consent(&app, &AuthRequest::new("c1"), ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(first.starts_with(C1_REDIRECT));

    // max_age=0 means "authenticate now", even in the same second.
    let r = browser
        .authorize(&AuthRequest::new("c1").set("max_age", "0"))
        .await;
    assert!(location(&r).starts_with("/login?"), "{}", location(&r));

    // A login 100 s old satisfies max_age=100 but not max_age=99.
    app.clock.advance(100);
    let r = browser
        .authorize(&AuthRequest::new("c1").set("max_age", "100"))
        .await;
    assert!(location(&r).starts_with(C1_REDIRECT), "{}", location(&r));
    let r = browser
        .authorize(&AuthRequest::new("c1").set("max_age", "99"))
        .await;
    assert!(location(&r).starts_with("/login?"), "{}", location(&r));

    // A malformed max_age is an error at the (trusted) redirect URI.
    let r = browser
        .authorize(&AuthRequest::new("c1").set("max_age", "-1"))
        .await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn an_oversized_token_request_gets_an_oauth_shaped_answer() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(200 * 1024);
    let r = app
        .token(
            &[("grant_type", "authorization_code"), ("code", &big)],
            Some(("c1", C1_SECRET)),
        )
        .await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn oversized_forms_and_wrong_methods_on_pages_get_readable_pages() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let big = "x".repeat(200 * 1024);
    for path in ["/login", "/consent", "/authorize"] {
        let r = browser
            .http
            .post(app.url(path))
            .form(&[("username", big.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(r.text().await.unwrap().contains("too large"), "{path}");

        let r = browser.http.delete(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 405, "{path}");
        assert_eq!(r.headers()["allow"], "GET, POST");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
    }
}

#[tokio::test]
async fn production_mode_cookies_are_secure_and_host_prefixed() {
    let app = TestApp::spawn_with_issuer(Some("https://as.example"), |_| {}).await;
    let r = app.browser().authorize(&AuthRequest::new("c1")).await;
    assert_eq!(r.status(), 302);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-tessera_session="), "{cookie}");
    for attribute in ["; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Domain="),
        "__Host- cookies carry no Domain: {cookie}"
    );

    // Errors carry the https issuer.
    let r = app
        .browser()
        .authorize(&AuthRequest::new("c1").scope("nope"))
        .await;
    assert_eq!(
        param(&location(&r), "iss").as_deref(),
        Some("https://as.example")
    );
}

#[tokio::test]
async fn development_mode_cookies_are_not_marked_secure() {
    let app = TestApp::spawn().await;
    let r = app.browser().authorize(&AuthRequest::new("c1")).await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("tessera_session="), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "a plain-http browser would drop it: {cookie}"
    );
}
