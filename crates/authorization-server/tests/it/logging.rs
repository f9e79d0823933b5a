//! Secrets, codes and tokens never appear in logs (docs/conformance.md
//! item 99, RFC 9700 §4.9.3 for the resource side, ARCHITECTURE.md's invariants).

use crate::harness::*;

#[tokio::test]
async fn secrets_codes_and_tokens_never_reach_the_logs() {
    let app = TestApp::spawn().await;
    let mut secrets: Vec<String> = vec![C1_SECRET.into(), ALICE_PASSWORD.into()];

    // A failed login with a password that is close to the real one.
    let browser = app.browser();
    let r = browser.authorize(&AuthRequest::new("c1")).await;
    let wrong_password = format!("{ALICE_PASSWORD}-typo");
    let r = browser.login(&location(&r), ALICE, &wrong_password).await;
    assert_eq!(r.status(), 401);
    secrets.push(wrong_password);

    // The full dance, then a refresh, a replayed code and a replayed refresh token.
    let request = AuthRequest::new("c1").scope("a b");
    let back = browser
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    let flow = request.into_flow(&back);
    secrets.push(flow.code.clone());
    secrets.push(flow.verifier.clone());
    let tokens: serde_json::Value = app.redeem(&flow).await.json().await.unwrap();
    let rt1 = tokens["refresh_token"].as_str().unwrap().to_owned();
    secrets.push(tokens["access_token"].as_str().unwrap().to_owned());
    secrets.push(rt1.clone());
    let refreshed: serde_json::Value = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
            Some(("c1", C1_SECRET)),
        )
        .await
        .json()
        .await
        .unwrap();
    secrets.push(refreshed["refresh_token"].as_str().unwrap().to_owned());
    secrets.push(refreshed["access_token"].as_str().unwrap().to_owned());
    // Refresh replay first: a code replay would revoke the grant, after which
    // the old refresh token is refused as revoked rather than as reused. Past
    // the retry window, so it counts as reuse.
    app.clock
        .advance(tessera_authorization_server::config::DEFAULT_REFRESH_RETRY_WINDOW_SECS);
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
            Some(("c1", C1_SECRET)),
        )
        .await;
    assert_eq!(r.status(), 400, "refresh replay");
    assert_eq!(app.redeem(&flow).await.status(), 400, "code replay");
    // A wrong client secret.
    let wrong_secret = format!("{C1_SECRET}-wrong");
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
            Some(("c1", &wrong_secret)),
        )
        .await;
    assert_eq!(r.status(), 401);
    secrets.push(wrong_secret);

    let logs = captured_logs();
    // The capture works: the events we expect are there...
    assert!(
        logs.contains("login_succeeded"),
        "log capture is not working"
    );
    assert!(logs.contains("refresh token reused"));
    assert!(logs.contains("authorization code replayed"));
    // ...and no secret is.
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
    }
    // Not even the session cookie.
    assert!(!logs.contains("tessera_session="));
}

/// The OpenID Connect additions keep the rule: ID tokens, UserInfo tokens
/// (good and bad) and logout hints never reach the logs.
#[tokio::test]
async fn id_tokens_and_userinfo_tokens_never_reach_the_logs() {
    use crate::oidc_basic_op::{oidc_app, oidc_request, oidc_tokens, userinfo_get};
    let app = oidc_app().await;
    let browser = app.browser();
    let body = oidc_tokens(&app, &browser, oidc_request("c1")).await;
    let id_token = body["id_token"].as_str().unwrap().to_owned();
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo_get(&app, &access).await.status(), 200);
    let bogus = "bogus-userinfo-token-0123456789";
    assert_eq!(userinfo_get(&app, bogus).await.status(), 401);
    let r = browser
        .get(&format!("/end_session?id_token_hint={id_token}"))
        .await;
    assert_eq!(r.status(), 200);
    let logs = captured_logs();
    assert!(
        logs.contains("tessera::audit") && logs.contains("logout"),
        "the logout's audit event is logged"
    );
    for secret in [id_token.as_str(), access.as_str(), bogus] {
        assert!(!logs.contains(secret), "a token reached the logs");
    }
}
