//! Issue 13 item 2 (endpoint budgets) and the medium finding "anonymous
//! `/authorize` requests store unbounded data": token buckets per source
//! address and per client at the back channel, a failure budget for refused
//! grants, and bounded, short-lived records for browsers that have not
//! signed in. Over a budget: 429, `Retry-After`, an OAuth-shaped JSON body
//! (a page in the browser). Time is the manual clock: a budget refills when
//! the test advances it.

use std::net::IpAddr;

use tessera_authorization_server::budgets::{BudgetPolicy, Rate};
use tessera_core::secrets::TokenHash;
use tessera_runtime::Clock as _;

use crate::harness::*;

fn events_of(events: &[String], kind: &str) -> usize {
    events.iter().filter(|k| *k == kind).count()
}

fn only(set: impl FnOnce(&mut BudgetPolicy)) -> BudgetPolicy {
    let mut p = BudgetPolicy {
        back_channel_per_address: None,
        back_channel_per_client: None,
        grant_failures: None,
        anonymous_authorizations_per_address: None,
        anonymous_authorizations_total: None,
    };
    set(&mut p);
    p
}

async fn with_budgets(policy: BudgetPolicy) -> TestApp {
    TestApp::builder()
        .configure(move |c| c.budgets = policy)
        .spawn()
        .await
}

async fn svc_token_from(app: &TestApp, from: [u8; 4], secret: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .local_address(IpAddr::from(from))
        .build()
        .unwrap()
        .post(app.url("/token"))
        .header("authorization", basic_header("svc", secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

/// A 429 with `Retry-After` and the OAuth JSON body; returns the wait.
async fn expect_over_budget(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 429);
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("Retry-After");
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    retry_after
}

#[tokio::test]
async fn issue13_item2_the_back_channel_is_budgeted_per_source_address() {
    let app = with_budgets(only(|p| {
        p.back_channel_per_address = Some(Rate::new(1.0, 3.0));
    }))
    .await;
    let a = [127, 0, 0, 1];
    for _ in 0..2 {
        assert_eq!(svc_token_from(&app, a, SVC_SECRET).await.status(), 200);
    }
    // Failed authentications spend it too (it is counted before them).
    assert_eq!(
        svc_token_from(&app, a, "wrong-but-long-enough-0123456789abc")
            .await
            .status(),
        401
    );
    assert_eq!(
        expect_over_budget(svc_token_from(&app, a, SVC_SECRET).await).await,
        "1"
    );
    expect_over_budget(svc_token_from(&app, a, SVC_SECRET).await).await;
    // Another address has its own budget; introspection and revocation
    // share this one.
    assert_eq!(
        svc_token_from(&app, [127, 0, 0, 2], SVC_SECRET)
            .await
            .status(),
        200
    );
    expect_over_budget(app.revoke("anything", None, auth_of("c1")).await).await;
    // One trip, one event, however many requests it refused.
    assert_eq!(events_of(&app.security_events().await, "rate_limited"), 1);
    // A second later one more request is allowed.
    app.clock.advance(1);
    assert_eq!(svc_token_from(&app, a, SVC_SECRET).await.status(), 200);
    expect_over_budget(svc_token_from(&app, a, SVC_SECRET).await).await;
}

#[tokio::test]
async fn issue13_item2_the_back_channel_is_budgeted_per_client() {
    let app = with_budgets(only(|p| {
        p.back_channel_per_client = Some(Rate::new(1.0, 2.0));
    }))
    .await;
    assert_eq!(
        svc_token_from(&app, [127, 0, 0, 1], SVC_SECRET)
            .await
            .status(),
        200
    );
    assert_eq!(
        svc_token_from(&app, [127, 0, 0, 2], SVC_SECRET)
            .await
            .status(),
        200
    );
    // From any address: the client's own budget is spent.
    expect_over_budget(svc_token_from(&app, [127, 0, 0, 3], SVC_SECRET).await).await;
    // Other clients are not affected.
    let r = app.revoke("anything", None, auth_of("c1")).await;
    assert_eq!(r.status(), 200);
    app.clock.advance(1);
    assert_eq!(
        svc_token_from(&app, [127, 0, 0, 3], SVC_SECRET)
            .await
            .status(),
        200
    );
}

/// "Invalid refresh tokens and codes from an authenticated client count too
/// (today 200 bogus refresh tokens in a row were never slowed)."
#[tokio::test]
async fn issue13_item2_refused_grants_spend_the_clients_failure_budget() {
    let app = TestApp::spawn().await; // the defaults: 30 at once, then 1 a second
    let body = app.tokens_for("c1", "a").await;
    let rt = refresh_token(&body);
    // A bogus code counts like a bogus refresh token: one failure each.
    let r = app
        .token_with(
            &[
                ("grant_type", "authorization_code"),
                ("code", "bogus-code"),
                ("redirect_uri", C1_REDIRECT),
                ("code_verifier", &"v".repeat(43)),
            ],
            auth_of("c1"),
        )
        .await;
    expect_oauth_error(r, 400, "invalid_grant", &[]).await;
    for i in 1..30 {
        let bogus = format!("bogus-refresh-token-{i}");
        expect_oauth_error(
            app.refresh_as(&bogus, None, auth_of("c1")).await,
            400,
            "invalid_grant",
            &[],
        )
        .await;
    }
    // 30 refused: the next grant request of c1 from here waits, even with
    // its real refresh token ...
    let wait = expect_over_budget(app.refresh_as(&rt, None, auth_of("c1")).await).await;
    assert_eq!(wait, "1");
    assert!(
        app.security_events()
            .await
            .contains(&"rate_limited".to_owned())
    );
    // ... while c2 is not slowed, and neither is c1 from another address.
    let other = app.tokens_for("c2", "a").await;
    assert!(other["access_token"].is_string());
    let from_elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap()
        .post(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(from_elsewhere.status(), 200);
    // A second later one more attempt is allowed (and refused, and spent).
    app.clock.advance(1);
    expect_oauth_error(
        app.refresh_as("bogus-again", None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[],
    )
    .await;
    expect_over_budget(app.refresh_as("bogus-again", None, auth_of("c1")).await).await;
}

#[tokio::test]
async fn issue13_successful_grants_do_not_spend_the_failure_budget() {
    let app = with_budgets(only(|p| {
        p.grant_failures = Some(Rate::new(1.0, 2.0));
    }))
    .await;
    for _ in 0..10 {
        assert_eq!(app.client_credentials("svc", &[]).await.status(), 200);
    }
}

/// The finding: "500 requests with a 60 KB `state` added 35 MB to the
/// database in 14 s". A `state` over 2048 bytes is refused with a page and
/// nothing is stored; anonymous parkings are budgeted per address.
#[tokio::test]
async fn issue13_anonymous_authorize_requests_are_bounded_per_address() {
    let app = with_budgets(only(|p| {
        p.anonymous_authorizations_per_address = Some(Rate::new(1.0, 5.0));
    }))
    .await;
    // The finding's 60 KB state does not even get a hearing (the URI is
    // over 8 KiB: 414) ...
    let huge = "s".repeat(60_000);
    let r = app
        .http()
        .get(app.url(&format!(
            "/authorize?{}",
            AuthRequest::new("c1").set("state", &huge).query()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 414);
    assert!(r.headers().get("set-cookie").is_none(), "no session for it");
    // ... and a state over 2048 bytes is refused with a page.
    let huge = "s".repeat(3000);
    let r = app
        .http()
        .get(app.url(&format!(
            "/authorize?{}",
            AuthRequest::new("c1").set("state", &huge).query()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("set-cookie").is_none(), "no session for it");
    assert!(r.text().await.unwrap().contains("state is too long"));

    for _ in 0..5 {
        let r = app.browser().authorize(&AuthRequest::new("c1")).await;
        assert_eq!(r.status(), 302, "GET /authorize redirects with 302");
        assert!(location(&r).starts_with("/login?"));
    }
    let r = app.browser().authorize(&AuthRequest::new("c1")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(r.headers().get("set-cookie").is_none(), "nothing stored");
    assert!(r.text().await.unwrap().contains("Too many sign-ins"));
    // Another address is not affected.
    let r = app
        .browser_from(IpAddr::from([127, 0, 0, 2]))
        .authorize(&AuthRequest::new("c1"))
        .await;
    assert_eq!(r.status(), 302, "GET /authorize redirects with 302");
}

#[tokio::test]
async fn issue13_a_signed_in_browser_does_not_spend_the_anonymous_budget() {
    let app = with_budgets(only(|p| {
        p.anonymous_authorizations_per_address = Some(Rate::new(1.0, 1.0));
    }))
    .await;
    let browser = app.browser();
    let back = browser
        .authorize_through_consent(&AuthRequest::new("c1"), ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(back.starts_with(C1_REDIRECT), "{back}");
    // The only anonymous token went to the first request; signed in, the
    // browser starts as many as it likes.
    for _ in 0..5 {
        let r = browser.authorize(&AuthRequest::new("c1")).await;
        assert_eq!(r.status(), 302, "GET /authorize redirects with 302");
        assert!(location(&r).starts_with(C1_REDIRECT));
    }
    // A browser that is not signed in is refused.
    assert_eq!(
        app.browser()
            .authorize(&AuthRequest::new("c1"))
            .await
            .status(),
        429
    );
}

#[tokio::test]
async fn issue13_anonymous_authorize_requests_are_bounded_per_node() {
    let app = with_budgets(only(|p| {
        p.anonymous_authorizations_total = Some(Rate::new(1.0, 3.0));
    }))
    .await;
    for i in 1..=3u8 {
        let r = app
            .browser_from(IpAddr::from([127, 0, 1, i]))
            .authorize(&AuthRequest::new("c1"))
            .await;
        assert_eq!(r.status(), 302, "GET /authorize redirects with 302");
    }
    let r = app
        .browser_from(IpAddr::from([127, 0, 1, 9]))
        .authorize(&AuthRequest::new("c1"))
        .await;
    assert_eq!(r.status(), 429);
}

/// "Each creates a session (kept 8 h)": now a browser that has not signed
/// in gets a session that lasts as long as its authorization request.
#[tokio::test]
async fn issue13_an_anonymous_session_lasts_as_long_as_its_request() {
    let app = TestApp::spawn().await;
    let r = app
        .http()
        .get(app.url(&format!("/authorize?{}", AuthRequest::new("c1").query())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "GET /authorize redirects with 302");
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("a session cookie");
    let hash = TokenHash::of(&cookie);
    let ttl = app.state.config.authorization_request_ttl;
    let now = app.clock.now();
    assert!(
        app.store
            .session(&hash, now + ttl - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        app.store.session(&hash, now + ttl).await.unwrap().is_none(),
        "gone with its request, not 8 h later"
    );
}
