//! The refresh retry window: the same client presenting the same refresh
//! token again within `refresh_retry_window_secs`, its child pair unused,
//! gets that same pair; every other reuse revokes the family (RFC 9700
//! §4.14.2) and records a security event.

use tessera_authorization_server::config::DEFAULT_REFRESH_RETRY_WINDOW_SECS as WINDOW;

use crate::harness::*;

/// Each test, on SQLite and on PostgreSQL (when `TESSERA_TEST_POSTGRES_URL`
/// is set).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::harness::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::harness::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    ten_parallel_refreshes_with_one_token_all_get_the_same_pair,
    a_retry_inside_the_window_gets_the_same_pair_and_one_at_its_end_revokes,
    a_replay_after_the_child_was_used_revokes_the_family,
    another_client_presenting_a_rotated_token_gets_invalid_grant_and_the_family_ends,
    a_zero_window_turns_retries_off,
    a_retry_asking_for_another_scope_is_reuse,
);

fn reuse_events(events: &[String]) -> usize {
    events
        .iter()
        .filter(|e| *e == "refresh_token_reuse")
        .count()
}

async fn ten_parallel_refreshes_with_one_token_all_get_the_same_pair(backend: Backend) {
    let Some(app) = TestApp::builder().backend(backend).try_spawn().await else {
        return;
    };
    let rt1 = refresh_token(&app.tokens_for("c1", "a b").await);
    let (url, auth) = (app.url("/token"), basic_header("c1", C1_SECRET));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (http, url, auth, rt1) = (app.http(), url.clone(), auth.clone(), rt1.clone());
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .header("authorization", auth)
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &rt1)])
                .send()
                .await
                .unwrap()
        }));
    }
    let mut pairs = Vec::new();
    for t in tasks {
        let body = expect_token_response(t.await.unwrap()).await;
        assert_eq!(body["scope"], "a b");
        pairs.push((access_token(&body), refresh_token(&body)));
    }
    assert!(pairs.iter().all(|p| *p == pairs[0]), "one pair for all ten");
    let (at2, rt2) = pairs[0].clone();
    assert_ne!(rt2, rt1);
    assert_eq!(reuse_events(&app.security_events().await), 0);

    // The family is intact: the pair works, and the child refreshes.
    app.assert_active("rs1", &at2, "the shared access token")
        .await;
    let third = expect_token_response(app.refresh("c1", &rt2).await).await;
    assert_ne!(refresh_token(&third), rt2);
}

async fn a_retry_inside_the_window_gets_the_same_pair_and_one_at_its_end_revokes(backend: Backend) {
    let Some(app) = TestApp::builder().backend(backend).try_spawn().await else {
        return;
    };
    let rt1 = refresh_token(&app.tokens_for("c1", "a").await);
    let second = expect_token_response(app.refresh("c1", &rt1).await).await;

    app.clock.advance(WINDOW - 1);
    let retried = expect_token_response(app.refresh("c1", &rt1).await).await;
    assert_eq!(refresh_token(&retried), refresh_token(&second));
    assert_eq!(access_token(&retried), access_token(&second));
    // The access token has aged: expires_in says how long it has left.
    let full = second["expires_in"].as_i64().unwrap();
    assert_eq!(retried["expires_in"].as_i64().unwrap(), full - (WINDOW - 1));

    app.clock.advance(1);
    let rt2 = refresh_token(&second);
    expect_oauth_error(app.refresh("c1", &rt1).await, 400, "invalid_grant", &[&rt2]).await;
    expect_oauth_error(app.refresh("c1", &rt2).await, 400, "invalid_grant", &[]).await;
    app.assert_inactive("rs1", &access_token(&second), "the child access token")
        .await;
    assert_eq!(reuse_events(&app.security_events().await), 1);
}

async fn a_replay_after_the_child_was_used_revokes_the_family(backend: Backend) {
    let Some(app) = TestApp::builder().backend(backend).try_spawn().await else {
        return;
    };
    let rt1 = refresh_token(&app.tokens_for("c1", "a").await);
    let rt2 = refresh_token(&expect_token_response(app.refresh("c1", &rt1).await).await);
    let third = expect_token_response(app.refresh("c1", &rt2).await).await;
    let rt3 = refresh_token(&third);

    // Still inside RT1's window, but its child RT2 has been used.
    app.clock.advance(1);
    expect_oauth_error(
        app.refresh("c1", &rt1).await,
        400,
        "invalid_grant",
        &[&rt2, &rt3],
    )
    .await;
    expect_oauth_error(app.refresh("c1", &rt3).await, 400, "invalid_grant", &[]).await;
    app.assert_inactive("rs1", &access_token(&third), "the newest access token")
        .await;
    assert_eq!(reuse_events(&app.security_events().await), 1);
}

async fn another_client_presenting_a_rotated_token_gets_invalid_grant_and_the_family_ends(
    backend: Backend,
) {
    let Some(app) = TestApp::builder().backend(backend).try_spawn().await else {
        return;
    };
    let rt1 = refresh_token(&app.tokens_for("c1", "a").await);
    let second = expect_token_response(app.refresh("c1", &rt1).await).await;
    let (at2, rt2) = (access_token(&second), refresh_token(&second));
    // A live token of c1 presented by c2 is refused and changes nothing.
    expect_oauth_error(app.refresh("c2", &rt2).await, 400, "invalid_grant", &[]).await;
    assert_eq!(reuse_events(&app.security_events().await), 0);
    // A rotated one is a leaked token in use, even inside c1's retry window:
    // c2 never sees the pair, and the family ends.
    expect_oauth_error(
        app.refresh("c2", &rt1).await,
        400,
        "invalid_grant",
        &[&at2, &rt2],
    )
    .await;
    assert_eq!(reuse_events(&app.security_events().await), 1);
    expect_oauth_error(app.refresh("c1", &rt2).await, 400, "invalid_grant", &[]).await;
}

async fn a_zero_window_turns_retries_off(backend: Backend) {
    let Some(app) = TestApp::builder()
        .backend(backend)
        .configure(|c| c.refresh_retry_window_secs = 0)
        .try_spawn()
        .await
    else {
        return;
    };
    let rt1 = refresh_token(&app.tokens_for("c1", "a").await);
    let rt2 = refresh_token(&expect_token_response(app.refresh("c1", &rt1).await).await);
    expect_oauth_error(app.refresh("c1", &rt1).await, 400, "invalid_grant", &[&rt2]).await;
    expect_oauth_error(app.refresh("c1", &rt2).await, 400, "invalid_grant", &[]).await;
    assert_eq!(reuse_events(&app.security_events().await), 1);
}

async fn a_retry_asking_for_another_scope_is_reuse(backend: Backend) {
    let Some(app) = TestApp::builder().backend(backend).try_spawn().await else {
        return;
    };
    let rt1 = refresh_token(&app.tokens_for("c1", "a b").await);
    let rt2 = refresh_token(&expect_token_response(app.refresh("c1", &rt1).await).await);
    let r = app
        .token_with(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt1),
                ("scope", "a"),
            ],
            auth_of("c1"),
        )
        .await;
    expect_oauth_error(r, 400, "invalid_grant", &[&rt2]).await;
    expect_oauth_error(app.refresh("c1", &rt2).await, 400, "invalid_grant", &[]).await;
}
