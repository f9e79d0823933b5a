//! The clock is read once per request on the token and authorize paths: the
//! use case takes one `now` and every decision (expiry, `iat`, the signing
//! key, security events) uses it, so no two steps of one request can
//! disagree about the time.

use crate::harness::*;

#[tokio::test]
async fn the_clock_is_read_once_per_token_and_authorize_request() {
    let app = TestApp::spawn().await;
    let count = || app.clock.reads();

    // Client credentials: the authenticated client's one reading.
    let before = count();
    let r = app.client_credentials("svc", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(count() - before, 1, "client_credentials");

    // Authorize with a signed-in session and remembered consent: a code at once.
    let browser = app.browser();
    let request = AuthRequest::new("c1");
    let first = browser
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(first.starts_with(C1_REDIRECT));
    let request = AuthRequest::new("c1").scope("openid a");
    let first = browser
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(first.starts_with(C1_REDIRECT));
    let again = AuthRequest::new("c1").scope("openid a");
    let before = count();
    let r = browser.authorize(&again).await;
    let back = location(&r);
    assert!(param(&back, "code").is_some(), "{back}");
    assert_eq!(count() - before, 1, "authorize");

    // The code exchange (access token, ID token, refresh token) and a refresh.
    let before = count();
    let r = app.redeem(&again.into_flow(&back)).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["id_token"].is_string());
    assert_eq!(count() - before, 1, "authorization_code");
    let before = count();
    let r = app.refresh("c1", &refresh_token(&body)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(count() - before, 1, "refresh_token");
}
