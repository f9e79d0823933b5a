//! Edges of request handling: re-authentication by age, bodies that cannot
//! be read, wrong methods, and production-mode cookies.

use crate::harness::*;
use tessera_authorization_server::clock::Clock as _;

#[tokio::test]
async fn max_age_forces_a_new_login_when_the_last_one_is_too_old() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let first = browser
        .authorize_through_consent(&AuthRequest::new("c1"), ALICE, ALICE_PASSWORD, None)
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
    let app = TestApp::builder()
        .issuer("https://as.example")
        .spawn()
        .await;
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

/// Review finding M1: the login that `prompt=login` or `max_age` demands
/// cannot be skipped by going straight to the consent page or posting it.
#[tokio::test]
async fn a_fresh_login_demanded_by_the_request_cannot_be_skipped() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let first = browser
        .authorize_through_consent(&AuthRequest::new("c1"), ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(first.starts_with(C1_REDIRECT));

    for (name, value) in [("prompt", "login consent"), ("max_age", "300")] {
        // Signed in hours ago (the session lasts 8 h).
        app.clock.advance(3 * 3600);
        let r = browser
            .authorize(&AuthRequest::new("c1").set(name, value))
            .await;
        let login = location(&r);
        assert!(login.starts_with("/login?request="), "{name}: {login}");
        let consent_url = login.replacen("/login", "/consent", 1);

        // Straight to the consent page: back to login.
        let r = browser.get(&consent_url).await;
        assert_eq!(r.status(), 302, "{name}");
        assert_eq!(location(&r), login, "{name}");

        // Posting the consent form (with this session's valid CSRF token,
        // read from the login form) does not issue a code either.
        let mut form = browser.form_at(&login).await;
        form.remove("username").remove("password");
        form.action = "/consent".into();
        form.fields.push(("scope".into(), "a".into()));
        let r = browser.submit(&form, Some(("decision", "approve"))).await;
        assert_eq!(r.status(), 303, "{name}");
        assert_eq!(
            location(&r),
            login,
            "{name}: no code without the fresh login"
        );

        // Logging in again completes the request.
        let r = browser.login(&login, ALICE, ALICE_PASSWORD).await;
        let next = location(&r);
        assert!(
            next.starts_with("/consent?") || next.starts_with(C1_REDIRECT),
            "{name}: {next}"
        );
    }
}

/// Review finding M2: failed authentications count per client *and* source
/// address, so nobody can lock a client out by knowing its public id.
#[tokio::test]
async fn a_lockout_from_one_address_does_not_lock_the_client_out_elsewhere() {
    let app = TestApp::spawn().await;
    let attacker = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let attempt = |client: &reqwest::Client, secret: &str| {
        client
            .post(app.url("/token"))
            .header("authorization", basic_header("c1", secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    for _ in 0..10 {
        assert_eq!(attempt(&attacker, "wrong").await.unwrap().status(), 401);
    }
    assert_eq!(
        attempt(&attacker, "wrong").await.unwrap().status(),
        429,
        "locked out from 127.0.0.2"
    );
    // From the client's own address a wrong secret is an ordinary 401, and
    // the right secret still authenticates
    // (c1 is not registered for client credentials: 400 unauthorized_client,
    // which comes only after authentication succeeded).
    assert_eq!(attempt(&app.http(), "wrong").await.unwrap().status(), 401);
    let r = attempt(&app.http(), C1_SECRET).await.unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
}

/// Review finding L2: removing a client ends its client-credentials tokens,
/// which belong to no grant.
#[tokio::test]
async fn removing_a_client_ends_its_client_credentials_tokens() {
    let app = TestApp::spawn().await;
    let r = app.client_credentials("svc", &[]).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let token = access_token(&body);
    app.assert_active("rs1", &token, "before removal").await;
    assert!(
        app.admin
            .remove_client("svc", app.clock.now())
            .await
            .unwrap()
    );
    let v = app.introspection("rs1", &token).await;
    assert_eq!(v, serde_json::json!({ "active": false }));
}

/// Issue 13 (medium, PostgreSQL only before): a NUL byte in `client_id`
/// (authorize, token, Basic, revoke, end_session), `resource`, `username`
/// or `nonce` gave 503 with two ERROR lines. Now it is refused at the edge
/// with the answer each endpoint owes, on every backend (CI runs this suite
/// on PostgreSQL too).
#[tokio::test]
async fn issue13_a_nul_byte_is_a_clear_4xx_on_every_endpoint() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    // /authorize: an untrusted client → the error page.
    let r = browser
        .authorize(&AuthRequest::new("c1").set("client_id", "c\u{0}1"))
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("client_id contains a NUL"));
    // /authorize: a trusted client and redirect → invalid_request back to it.
    for (name, value) in [("nonce", "n\u{0}"), ("resource", "https://rs\u{0}.example")] {
        let r = browser
            .authorize(&AuthRequest::new("c1").set(name, value))
            .await;
        assert_eq!(r.status(), 302, "{name}");
        let back = location(&r);
        assert!(back.starts_with(C1_REDIRECT), "{back}");
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("invalid_request"),
            "{name}: {back}"
        );
    }
    // /token with client_id in the body, and with a NUL in Basic.
    let r = app
        .token_with(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "s\u{0}vc"),
            ],
            ClientAuth::Nothing,
        )
        .await;
    expect_oauth_error(r, 400, "invalid_request", &[]).await;
    let r = app
        .token_with(
            &[("grant_type", "client_credentials")],
            ClientAuth::Basic("s\u{0}vc", SVC_SECRET),
        )
        .await;
    expect_oauth_error(r, 401, "invalid_client", &[SVC_SECRET]).await;
    // /revoke.
    let r = app
        .post_form(
            "/revoke",
            &[("token", "x"), ("client_id", "p\u{0}1")],
            ClientAuth::Nothing,
        )
        .await;
    expect_oauth_error(r, 400, "invalid_request", &[]).await;
    // /end_session: a page.
    let r = browser.get("/end_session?client_id=c%001").await;
    assert!(r.status().is_client_error(), "{}", r.status());
    // The login form: a NUL username is a failed sign-in, not a 5xx.
    let r = browser.authorize(&AuthRequest::new("c1")).await;
    let r = browser
        .login(&location(&r), "ali\u{0}ce", ALICE_PASSWORD)
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
}
