//! The key cache: refetch on an unknown kid, rate-limited and single-flight;
//! refresh by age; discovery through the AS metadata.

use std::time::Duration;

use serde_json::json;
use tessera_protected_resource::{Guard, GuardConfig};

use crate::support::*;

#[tokio::test]
async fn keys_are_fetched_once_and_cached() {
    let f = JwtFixture::start().await;
    for _ in 0..5 {
        assert_eq!(f.get(&f.token(json!({}))).await.status, 200);
    }
    assert_eq!(f.mock.jwks_hits(), 1);
}

#[tokio::test]
async fn an_unknown_kid_triggers_exactly_one_refetch() {
    let f = JwtFixture::start().await;
    assert_eq!(f.get(&f.token(json!({}))).await.status, 200);
    assert_eq!(f.mock.jwks_hits(), 1);

    // The AS rotates: a new key appears.
    let k2 = TestKey::es256("k2");
    f.mock.publish(k2.jwk.clone());
    let t2 = k2.sign(&claims(f.mock.issuer(), json!({})));
    f.clock.advance(30);
    assert_eq!(f.get(&t2).await.status, 200);
    assert_eq!(f.mock.jwks_hits(), 2, "one refetch for the new kid");
    for _ in 0..3 {
        assert_eq!(f.get(&t2).await.status, 200);
        assert_eq!(f.get(&f.token(json!({}))).await.status, 200);
    }
    assert_eq!(f.mock.jwks_hits(), 2, "both keys cached now");
}

#[tokio::test]
async fn refetches_are_rate_limited() {
    let f = JwtFixture::start().await;
    assert_eq!(f.get(&f.token(json!({}))).await.status, 200);
    let k2 = TestKey::es256("k2");
    f.mock.publish(k2.jwk.clone());
    let t2 = k2.sign(&claims(f.mock.issuer(), json!({})));
    // Within 30 s of the last fetch, an unknown kid is just unknown.
    f.clock.advance(29);
    let d = f.get(&t2).await.assert_invalid_token();
    assert!(d.contains("unknown key"), "{d}");
    assert_eq!(f.mock.jwks_hits(), 1);
    f.clock.advance(1);
    assert_eq!(f.get(&t2).await.status, 200);
    assert_eq!(f.mock.jwks_hits(), 2);
}

/// Sends `n` requests at once, each naming a different unknown kid.
async fn flood(f: &JwtFixture, n: usize, round: usize) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let junk = TestKey::es256(&format!("junk-{round}-{i}"));
        let t = junk.sign(&claims(f.mock.issuer(), json!({})));
        let app = f.app.clone();
        tasks.push(tokio::spawn(
            async move { send(&app, get_photos(&t)).await },
        ));
    }
    for t in tasks {
        let a = t.await.unwrap();
        a.assert_invalid_token();
    }
}

#[tokio::test]
async fn a_flood_of_junk_kids_costs_at_most_one_fetch_per_interval() {
    let f = JwtFixture::start().await;
    assert_eq!(f.get(&f.token(json!({}))).await.status, 200);
    assert_eq!(f.mock.jwks_hits(), 1);

    flood(&f, 50, 0).await;
    assert_eq!(
        f.mock.jwks_hits(),
        1,
        "inside the interval: no fetch at all"
    );

    f.clock.advance(30);
    flood(&f, 50, 1).await;
    assert_eq!(f.mock.jwks_hits(), 2, "50 concurrent misses, one fetch");
    flood(&f, 50, 2).await;
    assert_eq!(f.mock.jwks_hits(), 2);

    f.clock.advance(30);
    flood(&f, 50, 3).await;
    assert_eq!(f.mock.jwks_hits(), 3);
    // The good key was never in doubt.
    assert_eq!(f.get(&f.token(json!({}))).await.status, 200);
    assert_eq!(f.mock.jwks_hits(), 3);
}

#[tokio::test]
async fn the_first_fetch_is_single_flight_too() {
    let f = JwtFixture::start().await;
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let (app, t) = (f.app.clone(), f.token(json!({})));
        tasks.push(tokio::spawn(
            async move { send(&app, get_photos(&t)).await },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().status, 200);
    }
    assert_eq!(f.mock.jwks_hits(), 1);
}

#[tokio::test]
async fn the_refetch_interval_is_configurable() {
    let f = JwtFixture::start_with(|c| c.key_refetch_interval(Duration::from_secs(120))).await;
    assert_eq!(f.get(&f.token(json!({}))).await.status, 200);
    let junk = TestKey::es256("junk").sign(&claims(f.mock.issuer(), json!({})));
    f.clock.advance(119);
    f.get(&junk).await.assert_invalid_token();
    assert_eq!(f.mock.jwks_hits(), 1);
    f.clock.advance(1);
    f.get(&junk).await.assert_invalid_token();
    assert_eq!(f.mock.jwks_hits(), 2);
}

#[tokio::test]
async fn old_keys_drop_out_when_the_set_is_refreshed() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({"exp": T0 + 3600}));
    assert_eq!(f.get(&t).await.status, 200);
    // The AS retires the key (and publishes another).
    f.mock.unpublish_all();
    f.mock.publish(TestKey::es256("k2").jwk);
    f.clock.advance(299);
    assert_eq!(f.get(&t).await.status, 200, "the cached set is still fresh");
    assert_eq!(f.mock.jwks_hits(), 1);
    f.clock.advance(1);
    let d = f.get(&t).await.assert_invalid_token();
    assert!(d.contains("unknown key"), "{d}");
    assert_eq!(f.mock.jwks_hits(), 2);
}

#[tokio::test]
async fn known_keys_outlive_a_failed_refresh() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({"exp": T0 + 3600}));
    assert_eq!(f.get(&t).await.status, 200);
    f.mock.set_jwks_reply(Reply::Status(500));
    f.clock.advance(300);
    // The refresh fails; the key we know is still good (it was published,
    // and keys are retired only after their tokens expire).
    assert_eq!(f.get(&t).await.status, 200);
    assert_eq!(f.mock.jwks_hits(), 2);
    // A key we do not know cannot be vouched for: fail closed.
    let junk = TestKey::es256("junk").sign(&claims(f.mock.issuer(), json!({})));
    f.get(&junk).await.assert_unavailable();
    assert_eq!(
        f.mock.jwks_hits(),
        2,
        "and the failing AS is not asked again at once"
    );
    // The AS recovers; the next fetch after the interval sees it.
    f.mock.set_jwks_reply(Reply::Normal);
    f.clock.advance(30);
    f.get(&junk).await.assert_invalid_token();
    assert_eq!(f.mock.jwks_hits(), 3);
}

#[tokio::test]
async fn a_resource_that_starts_before_its_as_recovers_within_seconds() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({}));
    // The AS is not up yet: fail closed...
    f.mock.set_jwks_reply(Reply::Status(503));
    f.get(&t).await.assert_unavailable();
    assert_eq!(f.mock.jwks_hits(), 1);
    // ...without asking again at once...
    f.clock.advance(1);
    f.get(&t).await.assert_unavailable();
    assert_eq!(f.mock.jwks_hits(), 1);
    // ...but after a short pause, not a whole refetch interval.
    f.mock.set_jwks_reply(Reply::Normal);
    f.clock.advance(1);
    assert_eq!(f.get(&t).await.status, 200);
    assert_eq!(f.mock.jwks_hits(), 2);
}

#[tokio::test]
async fn keys_are_discovered_from_the_metadata() {
    let mock = MockAs::start().await;
    let clock = tessera_protected_resource::ManualClock::new(T0);
    let key = TestKey::es256("k1");
    mock.publish(key.jwk.clone());
    let guard = Guard::new(
        GuardConfig::jwt(mock.issuer(), RESOURCE).clock(std::sync::Arc::new(clock.clone())),
    )
    .unwrap();
    let app = app(&guard);
    let t = key.sign(&claims(mock.issuer(), json!({})));
    assert_eq!(send(&app, get_photos(&t)).await.status, 200);
    assert_eq!((mock.metadata_hits(), mock.jwks_hits()), (1, 1));
    // New kid later: the JWKS is fetched again, the metadata is not.
    clock.advance(30);
    let junk = TestKey::es256("junk").sign(&claims(mock.issuer(), json!({})));
    send(&app, get_photos(&junk)).await.assert_invalid_token();
    assert_eq!((mock.metadata_hits(), mock.jwks_hits()), (1, 2));
}

#[tokio::test]
async fn metadata_for_another_issuer_is_refused() {
    let mock = MockAs::start().await;
    *mock.state.metadata_issuer.lock().unwrap() = Some("https://evil.example".into());
    let clock = tessera_protected_resource::ManualClock::new(T0);
    let key = TestKey::es256("k1");
    mock.publish(key.jwk.clone());
    let guard = Guard::new(
        GuardConfig::jwt(mock.issuer(), RESOURCE).clock(std::sync::Arc::new(clock.clone())),
    )
    .unwrap();
    assert!(guard.warm_up().await.is_err());
    let app = app(&guard);
    let t = key.sign(&claims(mock.issuer(), json!({})));
    send(&app, get_photos(&t)).await.assert_unavailable();
    assert_eq!(
        mock.jwks_hits(),
        0,
        "keys from an unverified document are never fetched"
    );
}

#[tokio::test]
async fn warm_up_fetches_before_the_first_request() {
    let f = JwtFixture::start().await;
    f.guard.warm_up().await.unwrap();
    assert_eq!(f.mock.jwks_hits(), 1);
    assert_eq!(f.get(&f.token(json!({}))).await.status, 200);
    assert_eq!(f.mock.jwks_hits(), 1);
}
