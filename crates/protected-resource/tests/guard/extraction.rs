//! Where the token may come from (RFC 6750 §2; docs/conformance.md items 70, 73-76).

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use crate::support::*;

fn request(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    match body {
        Some((content_type, body)) => b
            .header("content-type", content_type)
            .body(Body::from(body.to_owned()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn no_credentials_get_a_bare_challenge() {
    let f = JwtFixture::start().await;
    let a = send(&f.app, request("GET", "/photos", &[], None)).await;
    a.assert_no_credentials();
    assert_eq!(a.challenge()["realm"], "api");
    assert_eq!(f.mock.jwks_hits(), 0, "nothing to verify, nothing fetched");
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({}));
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = format!("{scheme} {t}");
        let a = send(
            &f.app,
            request("GET", "/photos", &[("authorization", &auth)], None),
        )
        .await;
        assert_eq!(a.status, 200, "{scheme}: {a:?}");
        assert_eq!(a.json()["sub"], "alice");
    }
}

#[tokio::test]
async fn malformed_authorization_headers_are_invalid_requests() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({}));
    for value in [
        String::new(),
        "Bearer".into(),
        "Bearer ".into(),
        "Bearer a b".into(),
        format!("Bearer {t} {t}"),
        "Bearer tok@en".into(),
        "Bearer tok\"en".into(),
        format!("Bearer {t},"),
    ] {
        let a = send(
            &f.app,
            request("GET", "/photos", &[("authorization", &value)], None),
        )
        .await;
        a.assert_invalid_request();
    }
}

#[tokio::test]
async fn two_authorization_headers_are_an_invalid_request() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({}));
    let auth = format!("Bearer {t}");
    let a = send(
        &f.app,
        request(
            "GET",
            "/photos",
            &[("authorization", &auth), ("authorization", &auth)],
            None,
        ),
    )
    .await;
    let d = a.assert_invalid_request();
    assert!(d.contains("more than one Authorization"), "{d}");
}

#[tokio::test]
async fn another_scheme_is_no_bearer_credential() {
    let f = JwtFixture::start().await;
    let a = send(
        &f.app,
        request("GET", "/photos", &[("authorization", "Basic YTpi")], None),
    )
    .await;
    a.assert_no_credentials();
}

#[tokio::test]
async fn a_token_in_the_query_is_ignored() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({}));
    // A perfectly valid token, in the query: as good as none (docs/conformance.md item 74).
    let a = send(
        &f.app,
        request("GET", &format!("/photos?access_token={t}"), &[], None),
    )
    .await;
    a.assert_no_credentials();
    assert!(!a.body.contains(&t));
    // With the header too: two methods (docs/conformance.md item 73).
    let auth = format!("Bearer {t}");
    let a = send(
        &f.app,
        request(
            "GET",
            &format!("/photos?x=1&access_token={t}"),
            &[("authorization", &auth)],
            None,
        ),
    )
    .await;
    let d = a.assert_invalid_request();
    assert!(d.contains("more than one way"), "{d}");
    // Another query parameter is nobody's business.
    let a = send(
        &f.app,
        request("GET", "/photos?access=1", &[("authorization", &auth)], None),
    )
    .await;
    assert_eq!(a.status, 200, "{a:?}");
}

#[tokio::test]
async fn body_tokens_are_off_by_default() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({}));
    let body = format!("access_token={t}");
    let a = send(&f.app, request("POST", "/echo", &[], Some((FORM, &body)))).await;
    a.assert_no_credentials();
    // The header still works, and the handler gets the body untouched.
    let auth = format!("Bearer {t}");
    let a = send(
        &f.app,
        request(
            "POST",
            "/echo",
            &[("authorization", &auth)],
            Some((FORM, "a=1")),
        ),
    )
    .await;
    assert_eq!((a.status, a.body.as_str()), (200, "a=1"));
}

#[tokio::test]
async fn form_body_tokens_when_enabled() {
    let f = JwtFixture::start_with(|c| c.accept_body_token(true).max_form_body(4096)).await;
    let t = f.token(json!({}));
    let body = format!("photo=cat&access_token={t}");

    // Accepted, and the handler still reads the whole body.
    let a = send(&f.app, request("POST", "/echo", &[], Some((FORM, &body)))).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, body);
    let a = send(
        &f.app,
        request(
            "POST",
            "/echo",
            &[],
            Some(("Application/X-WWW-Form-URLEncoded; charset=UTF-8", &body)),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{a:?}");

    // Header and body: two methods.
    let auth = format!("Bearer {t}");
    let a = send(
        &f.app,
        request(
            "POST",
            "/echo",
            &[("authorization", &auth)],
            Some((FORM, &body)),
        ),
    )
    .await;
    a.assert_invalid_request();
    // Twice in the body.
    let twice = format!("access_token={t}&access_token={t}");
    let a = send(&f.app, request("POST", "/echo", &[], Some((FORM, &twice)))).await;
    a.assert_invalid_request();
    // Malformed in the body.
    let a = send(
        &f.app,
        request("POST", "/echo", &[], Some((FORM, "access_token=a%20b"))),
    )
    .await;
    a.assert_invalid_request();

    // Not a form: not looked at.
    let json_body = format!("{{\"access_token\":\"{t}\"}}");
    let a = send(
        &f.app,
        request("POST", "/echo", &[], Some(("application/json", &json_body))),
    )
    .await;
    a.assert_no_credentials();
    // GET has no body semantics (RFC 6750 §2.2): not accepted.
    let a = send(&f.app, request("GET", "/photos", &[], Some((FORM, &body)))).await;
    a.assert_no_credentials();

    // Too large to look into: 413, nothing read.
    let big = format!("access_token={t}&pad={}", "x".repeat(5000));
    let a = send(&f.app, request("POST", "/echo", &[], Some((FORM, &big)))).await;
    assert_eq!(a.status, 413, "{a:?}");
}
