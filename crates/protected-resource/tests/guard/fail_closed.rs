//! When the AS cannot answer, nothing gets through: `503`, never `200`
//! (docs/conformance.md item 78).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tessera_protected_resource::{Guard, GuardConfig, ManualClock};
use tokio::sync::Semaphore;

use crate::support::*;

/// A loopback URL nobody listens on.
async fn dead_url(path: &str) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}{path}")
}

#[tokio::test]
async fn jwks_outages_are_503() {
    let replies = [
        Reply::Status(500),
        Reply::Status(503),
        Reply::Status(404),
        Reply::Status(302),
        Reply::Garbage,
        Reply::Json(json!({"keys": "none"})),
        Reply::Json(json!(["not", "a", "set"])),
    ];
    for r in replies {
        let f = JwtFixture::start().await;
        f.mock.set_jwks_reply(r.clone());
        let a = f.get(&f.token(json!({}))).await;
        a.assert_unavailable();
        assert_eq!(f.mock.jwks_hits(), 1, "{r:?}");
    }
}

#[tokio::test]
async fn an_unreachable_jwks_is_503() {
    let clock = ManualClock::new(T0);
    let key = TestKey::es256("k1");
    let guard = Guard::new(
        GuardConfig::jwt("http://127.0.0.1:9", RESOURCE)
            .jwks_uri(&dead_url("/jwks.json").await)
            .clock(Arc::new(clock)),
    )
    .unwrap();
    let t = key.sign(&claims("http://127.0.0.1:9", json!({})));
    send(&app(&guard), get_photos(&t))
        .await
        .assert_unavailable();
    // Discovery against a dead issuer, likewise.
    let dead = dead_url("").await;
    let guard = Guard::new(GuardConfig::jwt(&dead, RESOURCE)).unwrap();
    let t = key.sign(&claims(&dead, json!({})));
    send(&app(&guard), get_photos(&t))
        .await
        .assert_unavailable();
}

#[tokio::test]
async fn introspection_outages_are_503() {
    let replies = [
        Reply::Status(500),
        Reply::Status(502),
        Reply::Status(400),
        Reply::Status(302),
        Reply::Garbage,
        Reply::Json(json!({"valid": true})),
        Reply::Json(json!({"active": "true"})),
        Reply::Json(json!({"active": true, "exp": "soon"})),
        Reply::Json(json!([])),
    ];
    for r in replies {
        let mock = MockAs::start().await;
        let clock = ManualClock::new(T0);
        let app = app(&mock.introspection_guard(&clock));
        mock.activate("t", active_answer(mock.issuer(), json!({})));
        mock.set_introspection_reply(r.clone());
        send(&app, get_photos("t")).await.assert_unavailable();
        assert_eq!(mock.introspection_hits(), 1, "{r:?}");
    }
}

#[tokio::test]
async fn refused_credentials_are_503_not_401() {
    // Our own credentials failing is our problem, not the client's.
    let mock = MockAs::start().await;
    let clock = ManualClock::new(T0);
    let guard = Guard::new(
        GuardConfig::introspection(mock.issuer(), RESOURCE, RS_CLIENT, "wrong-secret")
            .introspection_endpoint(&mock.url("/introspect"))
            .clock(Arc::new(clock)),
    )
    .unwrap();
    mock.activate("t", active_answer(mock.issuer(), json!({})));
    send(&app(&guard), get_photos("t"))
        .await
        .assert_unavailable();
}

#[tokio::test]
async fn an_unreachable_introspection_endpoint_is_503() {
    let guard = Guard::new(
        GuardConfig::introspection("http://127.0.0.1:9", RESOURCE, RS_CLIENT, RS_SECRET)
            .introspection_endpoint(&dead_url("/introspect").await),
    )
    .unwrap();
    send(&app(&guard), get_photos("t"))
        .await
        .assert_unavailable();
}

#[tokio::test]
async fn a_hanging_as_times_out_into_a_503() {
    let mock = MockAs::start().await;
    let clock = ManualClock::new(T0);
    let guard = Guard::new(
        mock.introspection_config(&clock)
            .http_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    mock.activate("t", active_answer(mock.issuer(), json!({})));
    // The mock never answers.
    *mock.state.hold.lock().unwrap() = Some(Arc::new(Semaphore::new(0)));
    send(&app(&guard), get_photos("t"))
        .await
        .assert_unavailable();
}
