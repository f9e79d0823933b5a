//! Introspection mode (RFC 7662): what is sent, what is accepted, caching
//! and single flight.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tessera_protected_resource::{Guard, GuardConfig, ManualClock};
use tokio::sync::Semaphore;

use crate::support::*;

struct Fixture {
    mock: MockAs,
    clock: ManualClock,
    app: axum::Router,
}

async fn fixture(configure: impl FnOnce(GuardConfig) -> GuardConfig) -> Fixture {
    let mock = MockAs::start().await;
    let clock = ManualClock::new(T0);
    let guard = Guard::new(configure(mock.introspection_config(&clock))).unwrap();
    let app = app(&guard);
    Fixture { mock, clock, app }
}

impl Fixture {
    async fn get(&self, token: &str) -> Answer {
        send(&self.app, get_photos(token)).await
    }

    fn activate(&self, token: &str, extra: serde_json::Value) {
        self.mock
            .activate(token, active_answer(self.mock.issuer(), extra));
    }
}

#[tokio::test]
async fn an_active_token_passes_with_its_claims() {
    let f = fixture(|c| c).await;
    f.activate(
        "opaque-token-1",
        json!({"aud": ["https://other.example", RESOURCE]}),
    );
    let a = f.get("opaque-token-1").await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["sub"], "alice");
    assert_eq!(a.json()["client_id"], "printer");
    assert_eq!(a.json()["scopes"], json!(["photos:read", "photos:write"]));
    assert_eq!(a.json()["exp"], T0 + 600);
    // What went to the AS: the token, a hint, and (checked by the mock) our
    // Basic credentials.
    let forms = f.mock.state.introspection_forms.lock().unwrap().clone();
    assert_eq!(
        forms,
        [vec![
            ("token".to_owned(), "opaque-token-1".to_owned()),
            ("token_type_hint".to_owned(), "access_token".to_owned()),
        ]]
    );
}

#[tokio::test]
async fn inactive_and_unknown_tokens_are_refused() {
    let f = fixture(|c| c).await;
    let d = f.get("never-issued").await.assert_invalid_token();
    assert!(d.contains("not active"), "{d}");
}

#[tokio::test]
async fn answers_that_do_not_fit_are_refused() {
    let f = fixture(|c| c).await;
    let cases = [
        ("wrong-aud", json!({"aud": "https://other.example"})),
        ("no-aud", json!({"aud": null})),
        ("wrong-iss", json!({"iss": "https://evil.example"})),
        ("refresh", json!({"token_type": "refresh_token"})),
        ("expired", json!({"exp": T0 - 30})),
        ("no-exp", json!({"exp": null})),
        ("future", json!({"nbf": T0 + 31})),
        ("no-sub", json!({"sub": null})),
        ("no-client", json!({"client_id": null})),
    ];
    for (token, extra) in cases {
        f.activate(token, extra);
        f.get(token).await.assert_invalid_token();
    }
    // Absent `iss` and `token_type` are fine: the AS we asked vouches.
    f.activate("plain", json!({"iss": null, "token_type": null}));
    assert_eq!(f.get("plain").await.status, 200);
}

#[tokio::test]
async fn missing_scope_is_403() {
    let f = fixture(|c| c).await;
    f.activate("reader", json!({"scope": "photos:read"}));
    assert_eq!(f.get("reader").await.status, 200);
    let c = send(&f.app, post_photos("reader"))
        .await
        .assert_error(403, "insufficient_scope");
    assert_eq!(c["scope"], "photos:write");
}

#[tokio::test]
async fn active_answers_are_cached_up_to_the_maximum() {
    let f = fixture(|c| c).await;
    f.activate("t", json!({}));
    for _ in 0..5 {
        assert_eq!(f.get("t").await.status, 200);
    }
    assert_eq!(f.mock.introspection_hits(), 1);
    f.clock.advance(29);
    assert_eq!(f.get("t").await.status, 200);
    assert_eq!(f.mock.introspection_hits(), 1);
    f.clock.advance(1);
    assert_eq!(f.get("t").await.status, 200);
    assert_eq!(
        f.mock.introspection_hits(),
        2,
        "30 s later the AS is asked again"
    );
    // Another token is another question.
    f.activate("u", json!({}));
    assert_eq!(f.get("u").await.status, 200);
    assert_eq!(f.mock.introspection_hits(), 3);
}

#[tokio::test]
async fn the_cache_never_outlives_the_token() {
    let f = fixture(|c| c.leeway(Duration::ZERO)).await;
    f.activate("short", json!({"exp": T0 + 10}));
    assert_eq!(f.get("short").await.status, 200);
    f.clock.advance(9);
    assert_eq!(f.get("short").await.status, 200);
    assert_eq!(f.mock.introspection_hits(), 1);
    f.clock.advance(1);
    f.get("short").await.assert_invalid_token();
    assert_eq!(f.mock.introspection_hits(), 2);
}

#[tokio::test]
async fn a_revoked_token_is_seen_once_the_cache_expires() {
    let f = fixture(|c| c).await;
    f.activate("t", json!({}));
    assert_eq!(f.get("t").await.status, 200);
    // Revoked at the AS.
    f.mock.activate("t", json!({"active": false}));
    f.clock.advance(29);
    assert_eq!(f.get("t").await.status, 200, "still cached");
    f.clock.advance(1);
    f.get("t").await.assert_invalid_token();
}

#[tokio::test]
async fn inactive_answers_are_cached_briefly() {
    let f = fixture(|c| c).await;
    for _ in 0..3 {
        f.get("nope").await.assert_invalid_token();
    }
    assert_eq!(f.mock.introspection_hits(), 1);
    f.clock.advance(4);
    f.get("nope").await.assert_invalid_token();
    assert_eq!(f.mock.introspection_hits(), 1);
    f.clock.advance(1);
    f.get("nope").await.assert_invalid_token();
    assert_eq!(f.mock.introspection_hits(), 2);
}

#[tokio::test]
async fn a_zero_maximum_disables_the_cache() {
    let f = fixture(|c| c.introspection_cache_max(Duration::ZERO)).await;
    f.activate("t", json!({}));
    for _ in 0..3 {
        assert_eq!(f.get("t").await.status, 200);
    }
    assert_eq!(f.mock.introspection_hits(), 3);
}

#[tokio::test]
async fn concurrent_requests_share_one_introspection() {
    let f = fixture(|c| c).await;
    f.activate("t", json!({}));
    let gate = Arc::new(Semaphore::new(0));
    *f.mock.state.hold.lock().unwrap() = Some(gate.clone());
    let mut tasks = Vec::new();
    for _ in 0..25 {
        let app = f.app.clone();
        tasks.push(tokio::spawn(
            async move { send(&app, get_photos("t")).await },
        ));
    }
    // The first call is at the AS; the test runtime is single-threaded, so
    // every other request has reached the cache and is waiting on it.
    f.mock.state.arrived.notified().await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(100);
    for t in tasks {
        assert_eq!(t.await.unwrap().status, 200);
    }
    assert_eq!(f.mock.introspection_hits(), 1);
}

#[tokio::test]
async fn concurrent_requests_share_an_outage_too() {
    let f = fixture(|c| c).await;
    f.mock.set_introspection_reply(Reply::Status(502));
    let gate = Arc::new(Semaphore::new(0));
    *f.mock.state.hold.lock().unwrap() = Some(gate.clone());
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let app = f.app.clone();
        tasks.push(tokio::spawn(
            async move { send(&app, get_photos("t")).await },
        ));
    }
    f.mock.state.arrived.notified().await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(100);
    for t in tasks {
        t.await.unwrap().assert_unavailable();
    }
    assert_eq!(f.mock.introspection_hits(), 1);
    // An outage is not remembered: the next request asks again.
    *f.mock.state.hold.lock().unwrap() = None;
    f.mock.set_introspection_reply(Reply::Normal);
    f.activate("t", json!({}));
    assert_eq!(f.get("t").await.status, 200);
    assert_eq!(f.mock.introspection_hits(), 2);
}

#[tokio::test]
async fn the_endpoint_is_discovered_from_the_metadata() {
    let mock = MockAs::start().await;
    let clock = ManualClock::new(T0);
    let guard = Guard::new(
        GuardConfig::introspection(mock.issuer(), RESOURCE, RS_CLIENT, RS_SECRET)
            .clock(Arc::new(clock.clone())),
    )
    .unwrap();
    let app = app(&guard);
    mock.activate("t", active_answer(mock.issuer(), json!({})));
    mock.activate("u", active_answer(mock.issuer(), json!({})));
    assert_eq!(send(&app, get_photos("t")).await.status, 200);
    assert_eq!(send(&app, get_photos("u")).await.status, 200);
    assert_eq!((mock.metadata_hits(), mock.introspection_hits()), (1, 2));
}
