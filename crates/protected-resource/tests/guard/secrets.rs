//! Tokens stay out of logs, error bodies and `Debug` output (docs/conformance.md
//! item 79).

use serde_json::json;
use tessera_protected_resource::{BearerToken, ManualClock};

use crate::support::*;

#[tokio::test]
async fn tokens_never_reach_logs_or_answers() {
    let f = JwtFixture::start().await;
    let mut seen = Vec::new();

    // JWT mode: good, expired, wrong audience, unknown kid, two methods,
    // in the query, malformed.
    let good = f.token(json!({"jti": "secret-check-1"}));
    let expired = f.token(json!({"exp": T0 - 3600, "jti": "secret-check-2"}));
    let wrong_aud = f.token(json!({"aud": "x", "jti": "secret-check-3"}));
    let unknown = TestKey::es256("zz").sign(&claims(f.mock.issuer(), json!({})));
    for t in [&good, &expired, &wrong_aud, &unknown] {
        seen.push(f.get(t).await);
        seen.push(send(&f.app, post_photos(t)).await);
        let uri = format!("/photos?access_token={t}");
        let req = axum::http::Request::get(uri.as_str())
            .header("authorization", format!("Bearer {t}"))
            .body(axum::body::Body::empty())
            .unwrap();
        seen.push(send(&f.app, req).await);
    }
    let bad_header = format!("Bearer {good} extra");
    let req = axum::http::Request::get("/photos")
        .header("authorization", bad_header)
        .body(axum::body::Body::empty())
        .unwrap();
    seen.push(send(&f.app, req).await);
    // A JWKS outage.
    f.mock.set_jwks_reply(Reply::Status(500));
    f.clock.advance(600);
    seen.push(f.get(&unknown).await);

    // Introspection mode: active, inactive, outage.
    let mock = MockAs::start().await;
    let clock = ManualClock::new(T0);
    let app = app(&mock.introspection_guard(&clock));
    let opaque = "opaque-secret-token-0123456789abcdef";
    let inactive = "inactive-secret-token-0123456789abcdef";
    let failing = "failing-secret-token-0123456789abcdef";
    mock.activate(opaque, active_answer(mock.issuer(), json!({})));
    seen.push(send(&app, get_photos(opaque)).await);
    seen.push(send(&app, get_photos(inactive)).await);
    mock.set_introspection_reply(Reply::Garbage);
    seen.push(send(&app, get_photos(failing)).await);

    let logs = captured_logs();
    assert!(
        logs.contains("bearer token refused"),
        "the refusals are logged"
    );
    assert!(
        logs.contains("503") || logs.contains("cannot be checked"),
        "and the outages"
    );
    for t in [
        &good, &expired, &wrong_aud, &unknown, opaque, inactive, failing,
    ] {
        // The signature part alone would do to replay a JWT's identity.
        let tail = &t[t.len() - 20..];
        assert!(!logs.contains(tail), "a token in the logs:\n{logs}");
        for a in &seen {
            assert!(!a.body.contains(tail), "a token in an answer: {a:?}");
            for v in a.headers.values() {
                assert!(!v.to_str().unwrap_or_default().contains(tail), "{a:?}");
            }
        }
    }
}

#[test]
fn debug_output_has_no_secrets() {
    let t = BearerToken::parse("debug-secret-token").unwrap();
    assert!(!format!("{t:?}").contains("debug-secret"));
    let config = tessera_protected_resource::GuardConfig::introspection(
        "https://as.example",
        RESOURCE,
        RS_CLIENT,
        RS_SECRET,
    );
    let guard = tessera_protected_resource::Guard::new(config.clone()).unwrap();
    for shown in [
        format!("{config:?}"),
        format!("{guard:?}"),
        format!("{:?}", guard.layer()),
    ] {
        assert!(!shown.contains(RS_SECRET), "{shown}");
    }
}
