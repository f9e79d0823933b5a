//! Housekeeping through the running server's state: retry copies are wiped
//! once their window has passed, expired tokens go, live ones stay.

use tessera_authorization_server::config::DEFAULT_REFRESH_RETRY_WINDOW_SECS as WINDOW;
use tessera_authorization_server::housekeeping;
use tessera_core::secrets::TokenHash;

use crate::harness::*;

#[tokio::test]
async fn a_pass_wipes_passed_retry_copies_and_removes_expired_tokens() {
    let app = TestApp::spawn().await;
    let first = app.tokens_for("c1", "a").await;
    let rt1 = TokenHash::of(&refresh_token(&first));
    let second = expect_token_response(app.refresh("c1", &refresh_token(&first)).await).await;
    let refreshed_at = app.state.now();
    assert!(
        app.store
            .refresh_retry(&rt1, refreshed_at)
            .await
            .unwrap()
            .is_some()
    );

    // Inside the window the copy stays.
    housekeeping::run_once(&app.state).await;
    assert!(
        app.store
            .refresh_retry(&rt1, refreshed_at)
            .await
            .unwrap()
            .is_some()
    );

    // Past it, the copy is wiped (asked as of before, it is gone for good).
    app.clock.advance(WINDOW);
    housekeeping::run_once(&app.state).await;
    assert!(
        app.store
            .refresh_retry(&rt1, refreshed_at)
            .await
            .unwrap()
            .is_none()
    );

    // Past the access-token lifetime the first access token's row goes; the
    // refresh tokens (30 days) stay, and RT2 still refreshes.
    let jti = |body: &serde_json::Value| {
        jwt_claims(&access_token(body))["jti"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    app.clock.advance(app.state.config.lifetimes.access_token);
    housekeeping::run_once(&app.state).await;
    assert!(
        app.store
            .access_token_by_jti(&jti(&first))
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.store.refresh_token(&rt1).await.unwrap().is_some());
    expect_token_response(app.refresh("c1", &refresh_token(&second)).await).await;
    assert!(
        app.store
            .access_token_by_jti(&jti(&second))
            .await
            .unwrap()
            .is_none()
    );
}
