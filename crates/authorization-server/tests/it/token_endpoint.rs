//! Token endpoint, codes, PKCE and refresh tokens (docs/conformance.md §1C, §1D, §1E, §1F, §1M).
//!
//! Black-box: every test talks HTTP to a real server. Every error answer goes
//! through [`expect_oauth_error`], which checks the status, the OAuth JSON shape,
//! the RFC 6749 §5.2 character set, the cache headers, and that no secret,
//! code or token sent in the request comes back.

use std::collections::BTreeSet;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tessera_core::pkce::CodeChallenge;
use tessera_core::secrets::{SecretString, TokenHash};

use crate::harness::*;

const DAY: i64 = 24 * 3600;

/// Code and tokens for `client_id` (its fixture authentication), checked
/// as a default-configuration token response.
async fn tokens(app: &TestApp, client_id: &str, scope: &str) -> Value {
    let flow = app.code_for(client_id, scope).await;
    expect_tokens(app.redeem_as(&flow, auth_of(client_id)).await).await
}

/// Verifies an access token with the published keys, pinned to ES256, and
/// returns its claims.
async fn verify_access_token(
    app: &TestApp,
    token: &str,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks: JwkSet = app.jwks().await;
    let header = jsonwebtoken::decode_header(token)?;
    let Some(jwk) = header.kid.as_deref().and_then(|kid| jwks.find(kid)) else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into());
    };
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&[PHOTOS]);
    v.set_issuer(&[app.issuer()]);
    // The test clock is not the wall clock; exp is checked by hand.
    v.validate_exp = false;
    Ok(jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &v)?.claims)
}

fn events_of(events: &[String], kind: &str) -> usize {
    events.iter().filter(|k| *k == kind).count()
}

/// Changes one character (in the middle) to another base64url character.
fn tamper(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).expect("ascii")
}

fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// =========================================================================
// 1C. Token endpoint: general rules and client authentication
// =========================================================================

#[tokio::test]
async fn conformance_1c_20_post_and_form_only() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(code_form(&flow, Some(&flow.verifier)))
        .finish();

    // GET with the whole (valid) grant in the query: 405, OAuth JSON, no token.
    let r = app
        .http()
        .get(app.url(&format!("/token?{query}")))
        .header("authorization", basic_header("c1", C1_SECRET))
        .send()
        .await
        .unwrap();
    let a = expect_oauth_error(r, 405, "invalid_request", &never).await;
    assert_eq!(a.header("allow"), Some("POST"));

    // Other methods too.
    let r = app
        .http()
        .put(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .form(&code_form(&flow, Some(&flow.verifier)))
        .send()
        .await
        .unwrap();
    expect_oauth_error(r, 405, "invalid_request", &never).await;

    // A JSON body, even one carrying a valid grant: 400 invalid_request.
    let json = serde_json::json!({
        "grant_type": "authorization_code",
        "code": flow.code,
        "redirect_uri": flow.redirect_uri,
        "code_verifier": flow.verifier,
    });
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .json(&json)
        .send()
        .await
        .unwrap();
    expect_oauth_error(r, 400, "invalid_request", &never).await;

    // A form-shaped body under another media type is not a form either.
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .header("content-type", "text/plain")
        .body(query.clone())
        .send()
        .await
        .unwrap();
    expect_oauth_error(r, 400, "invalid_request", &never).await;

    // None of those was processed: the same grant as a POSTed form (with a
    // charset parameter, as many clients send) succeeds.
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body(query)
        .send()
        .await
        .unwrap();
    expect_tokens(r).await;
}

#[tokio::test]
async fn conformance_1c_21_credentials_never_in_the_uri() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    let form = code_form(&flow, Some(&flow.verifier));

    // Both credentials in the query, the grant in the body.
    let url = app.url(&format!(
        "/token?client_id=c1&client_secret={}",
        form_encode(C1_SECRET)
    ));
    let r = app.http().post(url).form(&form).send().await.unwrap();
    expect_oauth_error(r, 401, "invalid_client", &never).await;

    // client_id in the body, the secret only in the query: a confidential
    // client without authentication.
    let url = app.url(&format!("/token?client_secret={}", form_encode(C1_SECRET)));
    let mut with_id = form.clone();
    with_id.push(("client_id", "c1"));
    let r = app.http().post(url).form(&with_id).send().await.unwrap();
    expect_oauth_error(r, 401, "invalid_client", &never).await;
    // A secret put in the URI is not logged either (URIs end up in logs,
    // which is why RFC 6749 §2.3.1 forbids them there).
    assert!(
        !captured_logs().contains(C1_SECRET),
        "the client secret reached the logs"
    );

    // Control: the same code with the secret where it belongs works, so the
    // refusals were about where the secret was.
    expect_tokens(
        app.redeem_as(&flow, ClientAuth::Post("c1", C1_SECRET))
            .await,
    )
    .await;
}

#[tokio::test]
async fn conformance_1c_22_bad_secret_with_basic() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let never = [
        flow.code.as_str(),
        flow.verifier.as_str(),
        "wrong-secret-0123456789-0123456789",
    ];

    let r = app
        .redeem_as(
            &flow,
            ClientAuth::Basic("c1", "wrong-secret-0123456789-0123456789"),
        )
        .await;
    let a = expect_oauth_error(r, 401, "invalid_client", &never).await;
    assert_eq!(
        a.header("www-authenticate"),
        Some("Basic realm=\"tessera\"")
    );
    insta::assert_json_snapshot!("invalid_client_bad_basic_secret", a.json());

    // An unknown client over Basic, a malformed Basic value and another
    // scheme are all Basic attempts: 401 with the challenge.
    let r = app
        .redeem_as(&flow, ClientAuth::Basic("nobody", C1_SECRET))
        .await;
    let a = expect_oauth_error(r, 401, "invalid_client", &never).await;
    assert_eq!(
        a.header("www-authenticate"),
        Some("Basic realm=\"tessera\"")
    );
    for header in ["Basic !!!not-base64!!!", "Basic YzE=", "Bearer abc"] {
        let r = app
            .http()
            .post(app.url("/token"))
            .header("authorization", header)
            .form(&code_form(&flow, Some(&flow.verifier)))
            .send()
            .await
            .unwrap();
        let a = expect_oauth_error(r, 401, "invalid_client", &never).await;
        assert_eq!(
            a.header("www-authenticate"),
            Some("Basic realm=\"tessera\""),
            "{header}"
        );
    }

    // Control: the right secret redeems the same code.
    expect_tokens(
        app.redeem_as(&flow, ClientAuth::Basic("c1", C1_SECRET))
            .await,
    )
    .await;
}

#[tokio::test]
async fn conformance_1c_23_bad_secret_in_body_unknown_or_missing_client() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let never = [
        flow.code.as_str(),
        flow.verifier.as_str(),
        "wrong-secret-0123456789-0123456789",
    ];

    // client_secret_post with a wrong secret: 401, no WWW-Authenticate [decision].
    let r = app
        .redeem_as(
            &flow,
            ClientAuth::Post("c1", "wrong-secret-0123456789-0123456789"),
        )
        .await;
    let a = expect_oauth_error(r, 401, "invalid_client", &never).await;
    assert_eq!(a.header("www-authenticate"), None);

    // Unknown client.
    let r = app
        .redeem_as(&flow, ClientAuth::Post("nobody", C1_SECRET))
        .await;
    let a = expect_oauth_error(r, 401, "invalid_client", &never).await;
    assert_eq!(a.header("www-authenticate"), None);
    let r = app.redeem_as(&flow, ClientAuth::Public("nobody")).await;
    expect_oauth_error(r, 401, "invalid_client", &never).await;

    // A confidential client naming itself without a secret, and a request
    // that names no client at all.
    let r = app.redeem_as(&flow, ClientAuth::Public("c1")).await;
    let a = expect_oauth_error(r, 401, "invalid_client", &never).await;
    assert_eq!(a.header("www-authenticate"), None);
    let r = app.redeem_as(&flow, ClientAuth::Nothing).await;
    expect_oauth_error(r, 401, "invalid_client", &never).await;

    // A public client's id with a secret it does not have.
    let p1 = app.code_for("p1", "a").await;
    let r = app
        .redeem_as(
            &p1,
            ClientAuth::Post("p1", "some-secret-0123456789-0123456789"),
        )
        .await;
    expect_oauth_error(
        r,
        401,
        "invalid_client",
        &[p1.code.as_str(), "some-secret-0123456789-0123456789"],
    )
    .await;

    // Control: client_secret_post with the right secret.
    expect_tokens(
        app.redeem_as(&flow, ClientAuth::Post("c1", C1_SECRET))
            .await,
    )
    .await;
}

#[tokio::test]
async fn conformance_1c_24_one_authentication_method_per_request() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    let form = code_form(&flow, Some(&flow.verifier));

    // Basic and client_secret in the body, both right.
    let mut both = form.clone();
    both.push(("client_secret", C1_SECRET));
    let r = app.token(&both, Some(("c1", C1_SECRET))).await;
    expect_oauth_error(r, 400, "invalid_request", &never).await;

    // Basic and client_secret_post with client_id, both right.
    let mut both = form.clone();
    both.push(("client_id", "c1"));
    both.push(("client_secret", C1_SECRET));
    let r = app.token(&both, Some(("c1", C1_SECRET))).await;
    expect_oauth_error(r, 400, "invalid_request", &never).await;

    // Control: Basic alone redeems the same code.
    expect_tokens(app.token(&form, Some(("c1", C1_SECRET))).await).await;
}

#[tokio::test]
async fn conformance_1c_25_basic_credentials_are_form_decoded() {
    let app = TestApp::spawn().await;
    app.register(client(AB_ID, Some(AB_SECRET), &[P1_REDIRECT], &["a", "b"]))
        .await;
    let flow = app.flow_for(AuthRequest::new(AB_ID)).await;

    // Basic base64(urlencode(id) ":" urlencode(secret)): the encoded colon
    // stays in the id, `+` is a space, `%` and `&` survive.
    let body = expect_tokens(
        app.redeem_as(&flow, ClientAuth::Basic(AB_ID, AB_SECRET))
            .await,
    )
    .await;
    let rt = refresh_token(&body);
    let claims = jwt_part(&access_token(&body), 1);
    assert_eq!(claims["client_id"], AB_ID);

    // The scheme name is case-insensitive (RFC 9110 §11.1).
    let lower = basic_header(AB_ID, AB_SECRET).replacen("Basic", "basic", 1);
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", lower)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let rt = refresh_token(&expect_tokens(r).await);

    // The same credentials in the form body work too.
    let rt = refresh_token(
        &expect_tokens(
            app.refresh_as(&rt, None, ClientAuth::Post(AB_ID, AB_SECRET))
                .await,
        )
        .await,
    );

    // Without the form encoding the id's colon would be the separator: that
    // is a different (unknown) client, not a wrong split that succeeds.
    let raw = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{AB_ID}:{AB_SECRET}"))
    );
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", raw)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ])
        .send()
        .await
        .unwrap();
    expect_oauth_error(r, 401, "invalid_client", &[rt.as_str()]).await;

    // A secret that differs only by a form-decoding step is wrong.
    let r = app
        .refresh_as(
            &rt,
            None,
            ClientAuth::Basic(AB_ID, &AB_SECRET.replace(' ', "+")),
        )
        .await;
    expect_oauth_error(r, 401, "invalid_client", &[rt.as_str()]).await;

    // And the token still works for the right credentials.
    expect_tokens(
        app.refresh_as(&rt, None, ClientAuth::Basic(AB_ID, AB_SECRET))
            .await,
    )
    .await;
}

#[tokio::test]
async fn conformance_1c_26_grant_type_errors() {
    let app = TestApp::spawn().await;
    register_c3(&app).await;
    let c1 = Some(("c1", C1_SECRET));

    let r = app.token(&[("code", "x")], c1).await;
    expect_oauth_error(r, 400, "invalid_request", &[]).await;
    let r = app.token(&[("grant_type", ""), ("code", "x")], c1).await;
    expect_oauth_error(r, 400, "invalid_request", &[]).await;

    let r = app.token(&[("grant_type", "foo")], c1).await;
    let a = expect_oauth_error(r, 400, "unsupported_grant_type", &[]).await;
    insta::assert_json_snapshot!("unsupported_grant_type_foo", a.json());

    // ROPC is not served (RFC 9700 §2.4), whatever the credentials.
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", ALICE),
                ("password", ALICE_PASSWORD),
            ],
            c1,
        )
        .await;
    expect_oauth_error(r, 400, "unsupported_grant_type", &[ALICE_PASSWORD]).await;
    let r = app.token(&[("grant_type", "implicit")], c1).await;
    expect_oauth_error(r, 400, "unsupported_grant_type", &[]).await;

    // client_credentials for clients not registered for it.
    let r = app
        .token(
            &[("grant_type", "client_credentials")],
            Some(("c3", C3_SECRET)),
        )
        .await;
    expect_oauth_error(r, 400, "unauthorized_client", &[]).await;
    let r = app
        .token(&[("grant_type", "client_credentials"), ("scope", "a")], c1)
        .await;
    expect_oauth_error(r, 400, "unauthorized_client", &[]).await;
}

#[tokio::test]
async fn conformance_1c_27_duplicate_parameters() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let (code, uri, v) = (
        flow.code.as_str(),
        flow.redirect_uri.as_str(),
        flow.verifier.as_str(),
    );
    let never = [code, v];
    let c1 = Some(("c1", C1_SECRET));
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", uri),
        ("code_verifier", v),
    ];

    let repeated: Vec<(&str, &str)> = vec![
        ("code", "another-code-0123456789-0123456789-0123456"),
        ("code", ""),
        ("grant_type", "refresh_token"),
        ("grant_type", "authorization_code"),
        ("redirect_uri", uri),
        ("code_verifier", v),
        ("scope", "a"),
    ];
    for extra in repeated {
        let mut form = base.to_vec();
        if extra.0 == "scope" {
            form.push(extra);
        }
        form.push(extra);
        let r = app.token(&form, c1).await;
        expect_oauth_error(r, 400, "invalid_request", &never).await;
    }

    // Repeated credentials in the body.
    let mut form = base.to_vec();
    form.extend([
        ("client_id", "c1"),
        ("client_id", "c1"),
        ("client_secret", C1_SECRET),
    ]);
    expect_oauth_error(app.token(&form, None).await, 400, "invalid_request", &never).await;
    let mut form = base.to_vec();
    form.extend([
        ("client_id", "c1"),
        ("client_secret", C1_SECRET),
        ("client_secret", C1_SECRET),
    ]);
    expect_oauth_error(app.token(&form, None).await, 400, "invalid_request", &never).await;

    // A repeated Authorization header.
    let r = app
        .http()
        .post(app.url("/token"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .header("authorization", basic_header("c1", C1_SECRET))
        .form(&base)
        .send()
        .await
        .unwrap();
    expect_oauth_error(r, 400, "invalid_request", &never).await;

    // None of these was processed: the code is still good.
    expect_tokens(app.token(&base, c1).await).await;
}

#[tokio::test]
async fn conformance_1c_28_success_response_format() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let request = AuthRequest::new("c1").scope("a b c");
    let back = browser
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, Some(&["b"]))
        .await;
    let flow = request.into_flow(&back);

    let r = app.redeem_as(&flow, auth_of("c1")).await;
    let a = Reply::read(r).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_json_no_store(&a);
    let body = a.json();
    let keys: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
            "token_type"
        ])
    );
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body["expires_in"].is_i64() && body["expires_in"].as_i64() == Some(ACCESS_TOKEN_TTL),
        "{body}"
    );
    // The granted scope differs from the requested one, so it is REQUIRED.
    assert_eq!(body["scope"], "b");

    // The refresh response has the same shape.
    let again = expect_tokens(
        app.refresh_as(&refresh_token(&body), None, auth_of("c1"))
            .await,
    )
    .await;
    assert_eq!(again["scope"], "b");
    assert!(again.get("refresh_token").is_some());
    // Different access-token values across refreshes (EnsureAccessTokenValuesAreDifferent).
    assert_ne!(again["access_token"], body["access_token"]);

    // An error answer carries the same headers (checked by expect_error).
    expect_oauth_error(
        app.refresh_as("nonsense", None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[],
    )
    .await;
}

#[tokio::test]
async fn conformance_1c_29_brute_force_lockout() {
    let app = TestApp::spawn().await;
    let rt = refresh_token(&tokens(&app, "c1", "a").await);
    let wrong = "wrong-secret-0123456789-0123456789";
    let never = [rt.as_str(), wrong];

    // Failures spread over more than the 300 s window do not add up: nine,
    // then one more after the window, and c2 still authenticates (its answer
    // is about the grant, not about the client).
    for _ in 0..9 {
        expect_oauth_error(
            app.refresh_as(&rt, None, ClientAuth::Basic("c2", wrong))
                .await,
            401,
            "invalid_client",
            &never,
        )
        .await;
    }
    app.clock.advance(300);
    expect_oauth_error(
        app.refresh_as(&rt, None, ClientAuth::Basic("c2", wrong))
            .await,
        401,
        "invalid_client",
        &never,
    )
    .await;
    expect_oauth_error(
        app.refresh_as(&rt, None, ClientAuth::Basic("c2", C2_SECRET))
            .await,
        400,
        "invalid_grant",
        &never,
    )
    .await;

    // Ten failures within the window: each is an ordinary 401 ...
    for _ in 0..10 {
        expect_oauth_error(
            app.refresh_as(&rt, None, ClientAuth::Basic("c1", wrong))
                .await,
            401,
            "invalid_client",
            &never,
        )
        .await;
    }
    // ... and then wrong secrets for c1 from this address are refused with
    // 429 and Retry-After, by any method ...
    let a = expect_oauth_error(
        app.refresh_as(&rt, None, ClientAuth::Basic("c1", wrong))
            .await,
        429,
        "invalid_client",
        &never,
    )
    .await;
    assert_eq!(a.header("retry-after"), Some("60"));
    let a = expect_oauth_error(
        app.refresh_as(&rt, None, ClientAuth::Post("c1", wrong))
            .await,
        429,
        "invalid_client",
        &never,
    )
    .await;
    assert!(a.header("retry-after").is_some());
    assert_eq!(
        events_of(
            &app.security_events().await,
            "client_authentication_lockout"
        ),
        1
    );

    // ... while the right secret is never refused (issue 13: throttle the
    // guesser, not the owner), and its success does not lift the lockout.
    let body = expect_tokens(
        app.refresh_as(&rt, None, ClientAuth::Basic("c1", C1_SECRET))
            .await,
    )
    .await;
    let rt = refresh_token(&body);
    let never = [rt.as_str(), wrong];
    app.clock.advance(58);
    let a = expect_oauth_error(
        app.refresh_as(&rt, None, ClientAuth::Basic("c1", wrong))
            .await,
        429,
        "invalid_client",
        &never,
    )
    .await;
    assert_eq!(a.header("retry-after"), Some("2"), "still locked");

    // Other clients are not affected.
    expect_oauth_error(
        app.refresh_as(&rt, None, ClientAuth::Basic("c2", C2_SECRET))
            .await,
        400,
        "invalid_grant",
        &never,
    )
    .await;

    // After the cool-down a wrong secret is an ordinary 401 again, and the
    // refresh token was not harmed by the refused attempts.
    app.clock.advance(2);
    expect_oauth_error(
        app.refresh_as(&rt, None, ClientAuth::Basic("c1", wrong))
            .await,
        401,
        "invalid_client",
        &never,
    )
    .await;
    expect_tokens(
        app.refresh_as(&rt, None, ClientAuth::Basic("c1", C1_SECRET))
            .await,
    )
    .await;
}

// =========================================================================
// 1D. Authorization code properties
// =========================================================================

#[tokio::test]
async fn conformance_1d_31_code_single_use_revokes_tokens() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a b").await;
    let first = expect_tokens(app.redeem(&flow).await).await;
    let rt1 = refresh_token(&first);
    assert_eq!(
        events_of(&app.security_events().await, "authorization_code_replay"),
        0
    );

    // Second redemption: invalid_grant ...
    let a = expect_oauth_error(
        app.redeem(&flow).await,
        400,
        "invalid_grant",
        &[&flow.code, &flow.verifier, &rt1],
    )
    .await;
    insta::assert_json_snapshot!("invalid_grant_code_replay", a.json());
    // ... the tokens issued from the code are revoked ...
    expect_oauth_error(
        app.refresh_as(&rt1, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&rt1],
    )
    .await;
    // ... and the replay is recorded.
    assert_eq!(
        events_of(&app.security_events().await, "authorization_code_replay"),
        1
    );

    // The same with a 30 s gap (oidcc-codereuse-30seconds).
    let flow = app.code_for("c1", "a").await;
    let rt = refresh_token(&expect_tokens(app.redeem(&flow).await).await);
    app.clock.advance(30);
    expect_oauth_error(
        app.redeem(&flow).await,
        400,
        "invalid_grant",
        &[&flow.code, &rt],
    )
    .await;
    expect_oauth_error(
        app.refresh_as(&rt, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&rt],
    )
    .await;
    assert_eq!(
        events_of(&app.security_events().await, "authorization_code_replay"),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_1d_32_parallel_redemptions_consume_the_code_once() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let form: Vec<(String, String)> = code_form(&flow, Some(&flow.verifier))
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();

    let mut tasks = Vec::new();
    for _ in 0..10 {
        // One client (and so one connection) per request: truly parallel.
        let http = app.http();
        let url = app.url("/token");
        let form = form.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .header("authorization", basic_header("c1", C1_SECRET))
                .form(&form)
                .send()
                .await
                .expect("token request")
        }));
    }
    let mut successes = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let r = t.await.expect("task");
        if r.status() == 200 {
            successes.push(expect_tokens(r).await);
        } else {
            expect_oauth_error(r, 400, "invalid_grant", &[&flow.code, &flow.verifier]).await;
            failures += 1;
        }
    }
    // Exactly one request consumed the code; the other nine are replays. The
    // winner usually gets tokens, but a replay's revocation may land between
    // its consume and its grant check, and then it is refused too: both are
    // safe (docs/conformance.md item 32: every token issued is revoked, or only
    // one was ever issued).
    assert!(
        successes.len() <= 1,
        "at most one success, got {}",
        successes.len()
    );
    assert_eq!(successes.len() + failures, 10);
    assert_eq!(
        events_of(&app.security_events().await, "authorization_code_replay"),
        9,
        "every request but the one that consumed the code is a replay"
    );

    // The replays revoked whatever the success got.
    for tokens in &successes {
        let rt = refresh_token(tokens);
        expect_oauth_error(
            app.refresh_as(&rt, None, auth_of("c1")).await,
            400,
            "invalid_grant",
            &[&rt],
        )
        .await;
    }
}

#[tokio::test]
async fn conformance_1d_33_code_lifetime() {
    let app = TestApp::spawn().await;

    // Redeemed one second before the 60 s lifetime ends: fine.
    let young = app.code_for("c1", "a").await;
    app.clock.advance(59);
    expect_tokens(app.redeem(&young).await).await;

    // Redeemed at 60 s: expired.
    let old = app.code_for("c1", "a").await;
    app.clock.advance(60);
    expect_oauth_error(
        app.redeem(&old).await,
        400,
        "invalid_grant",
        &[&old.code, &old.verifier],
    )
    .await;

    // And well after.
    let older = app.code_for("c1", "a").await;
    app.clock.advance(600);
    expect_oauth_error(
        app.redeem(&older).await,
        400,
        "invalid_grant",
        &[&older.code, &older.verifier],
    )
    .await;
}

#[tokio::test]
async fn conformance_1d_34_code_bound_to_client() {
    let app = TestApp::spawn().await;
    register_p2(&app).await;

    // c1's code with c2's valid credentials.
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    expect_oauth_error(
        app.redeem_as(&flow, auth_of("c2")).await,
        400,
        "invalid_grant",
        &never,
    )
    .await;
    // Issue 13: another client's attempt leaves the code untouched (it can
    // neither burn nor revoke it), so c1 still redeems it, once.
    expect_tokens(app.redeem(&flow).await).await;
    expect_oauth_error(app.redeem(&flow).await, 400, "invalid_grant", &never).await;

    // p1's code presented by public client p2.
    let p1 = app.code_for("p1", "a").await;
    expect_oauth_error(
        app.redeem_as(&p1, ClientAuth::Public("p2")).await,
        400,
        "invalid_grant",
        &[&p1.code, &p1.verifier],
    )
    .await;

    // c1's code with client_id=c1 but no authentication.
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    expect_oauth_error(
        app.redeem_as(&flow, ClientAuth::Public("c1")).await,
        401,
        "invalid_client",
        &never,
    )
    .await;

    // c2's credentials with client_id=c1 in the body (ensure-client-id-in-token-endpoint):
    // refused (invalid_request here; invalid_client would also do), never a success.
    let mut form = code_form(&flow, Some(&flow.verifier));
    form.push(("client_id", "c1"));
    expect_oauth_error(
        app.token(&form, Some(("c2", C2_SECRET))).await,
        400,
        "invalid_request",
        &never,
    )
    .await;

    // The code owner still redeems it: none of those requests came from an
    // authenticated owner, so none could spend the code.
    let body = expect_tokens(app.redeem(&flow).await).await;
    assert_eq!(jwt_part(&access_token(&body), 1)["client_id"], "c1");
}

#[tokio::test]
async fn conformance_1d_35_code_bound_to_redirect_uri() {
    let app = TestApp::spawn().await;
    register_c3(&app).await;
    let cb2 = "https://client.example/cb2";

    // Authorized with cb, redeemed with cb2 (also registered).
    let flow = app.code_for("c1", "a").await;
    assert_eq!(flow.redirect_uri, C1_REDIRECT);
    let mut form = code_form(&flow, Some(&flow.verifier));
    form.retain(|(k, _)| *k != "redirect_uri");
    let mut other = form.clone();
    other.push(("redirect_uri", cb2));
    expect_oauth_error(
        app.token(&other, Some(("c1", C1_SECRET))).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;

    // redirect_uri omitted although the authorization request had one.
    let flow = app.code_for("c1", "a").await;
    let mut form = code_form(&flow, Some(&flow.verifier));
    form.retain(|(k, _)| *k != "redirect_uri");
    expect_oauth_error(
        app.token(&form, Some(("c1", C1_SECRET))).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;

    // Control: authorized with cb2 and redeemed with cb2.
    let flow = app
        .flow_for(AuthRequest::new("c1").set("redirect_uri", cb2))
        .await;
    expect_tokens(app.redeem(&flow).await).await;

    // A client with one redirect URI that the authorization request did not
    // name: omitting it at the token endpoint is fine, sending the same one
    // is fine, sending another is not.
    let implicit = || AuthRequest::new("c3").remove("redirect_uri");
    let flow = app.flow_for(implicit()).await;
    let mut form = code_form(&flow, Some(&flow.verifier));
    form.retain(|(k, _)| *k != "redirect_uri");
    expect_tokens(app.token(&form, Some(("c3", C3_SECRET))).await).await;

    let flow = app.flow_for(implicit()).await;
    expect_tokens(app.redeem_as(&flow, auth_of("c3")).await).await;

    let flow = app.flow_for(implicit()).await;
    let mut form = code_form(&flow, Some(&flow.verifier));
    form.retain(|(k, _)| *k != "redirect_uri");
    form.push(("redirect_uri", "http://127.0.0.1/elsewhere"));
    expect_oauth_error(
        app.token(&form, Some(("c3", C3_SECRET))).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;
}

#[tokio::test]
async fn conformance_1d_36_codes_and_tokens_unguessable() {
    let app = TestApp::spawn().await;
    let flows = [
        app.code_for("c1", "a").await,
        app.code_for("c1", "a").await,
        app.code_for("c1", "a").await,
    ];
    let codes: BTreeSet<&str> = flows.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes.len(), 3, "codes repeat");
    for f in &flows {
        assert_opaque("code", &f.code);
    }

    // One character changed, one dropped, one added: unknown codes.
    let flow = &flows[0];
    for forged in [
        tamper(&flow.code),
        flow.code[..flow.code.len() - 1].to_owned(),
        format!("{}A", flow.code),
    ] {
        let mut forged_flow = flow.clone();
        forged_flow.code = forged.clone();
        expect_oauth_error(
            app.redeem(&forged_flow).await,
            400,
            "invalid_grant",
            &[&forged, &flow.code],
        )
        .await;
    }
    // The real code was not touched by the forgeries.
    let body = expect_tokens(app.redeem(flow).await).await;

    // Tokens: refresh tokens are opaque base64url, access tokens are JWTs.
    let other = expect_tokens(app.redeem(&flows[1]).await).await;
    assert_opaque("refresh_token", &refresh_token(&body));
    assert_ne!(refresh_token(&body), refresh_token(&other));
    assert_jwt_charset(&access_token(&body));
    assert_ne!(access_token(&body), access_token(&other));
    let jti = |b: &Value| {
        jwt_part(&access_token(b), 1)["jti"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(jti(&body), jti(&other));
    assert!(
        URL_SAFE_NO_PAD.decode(jti(&body)).unwrap().len() >= 16,
        "jti below 128 bits"
    );
}

#[tokio::test]
async fn conformance_1d_37_failed_pkce_burns_the_code() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let wrong = new_verifier();
    let never = [flow.code.as_str(), flow.verifier.as_str(), wrong.as_str()];
    expect_oauth_error(
        app.redeem_with_verifier(&flow, Some(&wrong)).await,
        400,
        "invalid_grant",
        &never,
    )
    .await;
    // The right verifier afterwards: too late.
    expect_oauth_error(
        app.redeem_with_verifier(&flow, Some(&flow.verifier)).await,
        400,
        "invalid_grant",
        &never,
    )
    .await;

    // Same with a missing verifier first.
    let flow = app.code_for("c1", "a").await;
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    expect_oauth_error(
        app.redeem_with_verifier(&flow, None).await,
        400,
        "invalid_grant",
        &never,
    )
    .await;
    expect_oauth_error(app.redeem(&flow).await, 400, "invalid_grant", &never).await;
}

// =========================================================================
// 1E. PKCE
// =========================================================================

#[tokio::test]
async fn conformance_1e_38_verifier_mismatch() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let wrong = new_verifier();
    expect_oauth_error(
        app.redeem_with_verifier(&flow, Some(&wrong)).await,
        400,
        "invalid_grant",
        &[&flow.code, &flow.verifier, &wrong],
    )
    .await;

    // Control: another code with its own verifier.
    let flow = app.code_for("c1", "a").await;
    expect_tokens(app.redeem_with_verifier(&flow, Some(&flow.verifier)).await).await;

    // Same for a public client.
    let flow = app.code_for("p1", "a").await;
    let wrong = new_verifier();
    expect_oauth_error(
        app.redeem_with_verifier(&flow, Some(&wrong)).await,
        400,
        "invalid_grant",
        &[&flow.code, &wrong],
    )
    .await;
}

#[tokio::test]
async fn conformance_1e_39_verifier_missing() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    expect_oauth_error(
        app.redeem_with_verifier(&flow, None).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;
    // An empty value counts as missing.
    let flow = app.code_for("c1", "a").await;
    expect_oauth_error(
        app.redeem_with_verifier(&flow, Some("")).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;
    let flow = app.code_for("p1", "a").await;
    expect_oauth_error(
        app.redeem_with_verifier(&flow, None).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;
}

#[tokio::test]
async fn conformance_1e_40_verifier_without_challenge_is_refused() {
    let app = TestApp::spawn().await;
    register_legacy(&app).await;
    let no_pkce = || {
        AuthRequest::new("legacy")
            .remove("code_challenge")
            .remove("code_challenge_method")
    };

    // A confidential client authorized without a challenge, then a verifier
    // at the token endpoint: a downgrade attempt.
    let flow = app.flow_for(no_pkce()).await;
    let a = expect_oauth_error(
        app.redeem_with_verifier(&flow, Some(&flow.verifier)).await,
        400,
        "invalid_request",
        &[&flow.code, &flow.verifier],
    )
    .await;
    assert!(a.json().get("access_token").is_none());

    // Control: the same client without a verifier gets tokens.
    let flow = app.flow_for(no_pkce()).await;
    expect_tokens(app.redeem_with_verifier(&flow, None).await).await;
}

#[tokio::test]
async fn conformance_1e_41_challenge_is_not_a_verifier() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let challenge = CodeChallenge::s256_of(&flow.verifier).as_str().to_owned();
    // Treating the S256 challenge as a plain verifier.
    expect_oauth_error(
        app.redeem_with_verifier(&flow, Some(&challenge)).await,
        400,
        "invalid_grant",
        &[&flow.code, &flow.verifier],
    )
    .await;
    // code_challenge_method at the token endpoint changes nothing.
    let flow = app.code_for("c1", "a").await;
    let challenge = CodeChallenge::s256_of(&flow.verifier).as_str().to_owned();
    let mut form = code_form(&flow, Some(&challenge));
    form.push(("code_challenge_method", "plain"));
    expect_oauth_error(
        app.token(&form, Some(("c1", C1_SECRET))).await,
        400,
        "invalid_grant",
        &[&flow.code],
    )
    .await;
}

#[tokio::test]
async fn conformance_1e_42_plain_is_refused() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let verifier = new_verifier();
    for method in [Some("plain"), None, Some("s256"), Some("S512")] {
        let mut request = AuthRequest::new("c1").set("code_challenge", &verifier);
        request = match method {
            Some(m) => request.set("code_challenge_method", m),
            None => request.remove("code_challenge_method"),
        };
        let r = browser.authorize(&request).await;
        assert_eq!(r.status(), 302, "{method:?}");
        let loc = location(&r);
        assert!(loc.starts_with(C1_REDIRECT), "{method:?}: {loc}");
        assert_eq!(
            param(&loc, "error").as_deref(),
            Some("invalid_request"),
            "{method:?}: {loc}"
        );
        assert_eq!(param(&loc, "code"), None);
        assert_eq!(param(&loc, "state").as_deref(), Some("xyz"));
        assert!(
            param(&loc, "error_description")
                .unwrap_or_default()
                .chars()
                .all(is_error_char)
        );
    }
}

#[tokio::test]
async fn conformance_1e_43_verifier_abnf() {
    let app = TestApp::spawn().await;
    let bad = [
        "a".repeat(42),
        "b".repeat(129),
        format!("{}+", "c".repeat(42)),
        format!("{}/", "d".repeat(42)),
    ];
    for verifier in &bad {
        // The challenge is the real S256 of the bad verifier, so only the ABNF
        // can refuse it.
        let challenge = CodeChallenge::s256_of(verifier).as_str().to_owned();
        let request = AuthRequest::new("c1").set("code_challenge", &challenge);
        let flow = app.flow_for(request).await;
        expect_oauth_error(
            app.redeem_with_verifier(&flow, Some(verifier)).await,
            400,
            "invalid_grant",
            &[&flow.code],
        )
        .await;
    }
    // The edges of the ABNF are accepted.
    for verifier in ["A".repeat(43), "z".repeat(128), "aZ09-._~".repeat(6)] {
        let challenge = CodeChallenge::s256_of(&verifier).as_str().to_owned();
        let flow = app
            .flow_for(AuthRequest::new("c1").set("code_challenge", &challenge))
            .await;
        expect_tokens(app.redeem_with_verifier(&flow, Some(&verifier)).await).await;
    }
}

#[tokio::test]
async fn conformance_1e_44_pkce_required() {
    let app = TestApp::spawn().await;
    register_legacy(&app).await;
    let browser = app.browser();
    for client_id in ["p1", "c1"] {
        let request = AuthRequest::new(client_id)
            .remove("code_challenge")
            .remove("code_challenge_method");
        let r = browser.authorize(&request).await;
        assert_eq!(r.status(), 302);
        let loc = location(&r);
        assert!(loc.starts_with(default_redirect(client_id)), "{loc}");
        assert_eq!(
            param(&loc, "error").as_deref(),
            Some("invalid_request"),
            "{client_id}: {loc}"
        );
        assert_eq!(param(&loc, "code"), None);
    }
    // Control: the legacy opt-out lets the same request through to login.
    let request = AuthRequest::new("legacy")
        .remove("code_challenge")
        .remove("code_challenge_method");
    let r = browser.authorize(&request).await;
    assert!(location(&r).starts_with("/login?"), "{}", location(&r));
}

#[tokio::test]
async fn conformance_1e_45_challenge_not_disclosed() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let request = AuthRequest::new("c1").scope("a");
    let challenge = CodeChallenge::s256_of(&request.verifier)
        .as_str()
        .to_owned();

    let r = browser.authorize(&request).await;
    let login = location(&r);
    assert!(!login.contains(&challenge), "{login}");
    let r = browser.login(&login, ALICE, ALICE_PASSWORD).await;
    let consent = location(&r);
    assert!(!consent.contains(&challenge), "{consent}");
    let form = browser.form_at(&consent).await;
    let r = browser.submit(&form, Some(("decision", "approve"))).await;
    let back = location(&r);
    assert!(back.starts_with(C1_REDIRECT), "{back}");
    assert!(
        !back.contains(&challenge),
        "the authorization response leaks the challenge: {back}"
    );
    let flow = request.into_flow(&back);
    assert!(!flow.code.contains(&challenge));

    let r = app.redeem(&flow).await;
    let a = Reply::read(r).await;
    assert_eq!(a.status, 200);
    assert!(!a.text.contains(&challenge), "{}", a.text);
    assert!(!a.text.contains(&flow.verifier), "{}", a.text);
    let at = access_token(&a.json());
    let claims = jwt_part(&at, 1).to_string();
    assert!(
        !claims.contains(&challenge) && !claims.contains(&flow.verifier),
        "{claims}"
    );
}

#[tokio::test]
async fn conformance_1e_46_constant_challenge_is_recorded() {
    let app = TestApp::spawn().await;
    let first = AuthRequest::new("c1");
    let challenge = CodeChallenge::s256_of(&first.verifier).as_str().to_owned();
    let verifier = first.verifier.clone();
    let same = || {
        let mut r = AuthRequest::new("c1").set("code_challenge", &challenge);
        r.verifier = verifier.clone();
        r
    };
    let count = |events: Vec<String>| events_of(&events, "constant_pkce_challenge");

    let a = app.flow_for(first).await;
    assert_eq!(
        count(app.security_events().await),
        0,
        "a first use is not an event"
    );
    // Another client using the same value is not this client's reuse.
    let mut other = AuthRequest::new("c2").set("code_challenge", &challenge);
    other.verifier = verifier.clone();
    let c2 = app.flow_for(other).await;
    assert_eq!(count(app.security_events().await), 0);

    let b = app.flow_for(same()).await;
    assert_eq!(count(app.security_events().await), 1);

    // Recorded, not refused: both codes redeem.
    expect_tokens(app.redeem(&a).await).await;
    expect_tokens(app.redeem(&b).await).await;
    expect_tokens(app.redeem(&c2).await).await;

    // Beyond 24 hours the old uses no longer count.
    app.clock.advance(DAY + 1);
    let c = app.flow_for(same()).await;
    assert_eq!(count(app.security_events().await), 1);
    expect_tokens(app.redeem(&c).await).await;
}

// =========================================================================
// 1F. Refresh tokens
// =========================================================================

#[tokio::test]
async fn conformance_1f_47_refresh_happy_path() {
    let app = TestApp::spawn().await;
    let first = tokens(&app, "c1", "a b").await;
    app.clock.advance(100);
    let second = expect_tokens(
        app.refresh_as(&refresh_token(&first), None, auth_of("c1"))
            .await,
    )
    .await;
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["scope"], "a b");

    // The new access token is for the same user, client and scope, minted now.
    let c1 = jwt_part(&access_token(&first), 1);
    let c2 = jwt_part(&access_token(&second), 1);
    assert_eq!(c2["sub"], c1["sub"]);
    assert_eq!(c2["client_id"], "c1");
    assert_eq!(c2["scope"], "a b");
    assert_eq!(c2["iat"], T0 + 100);
    assert_eq!(c2["exp"], T0 + 100 + ACCESS_TOKEN_TTL);

    // client_secret_post works for refresh as well.
    expect_tokens(
        app.refresh_as(
            &refresh_token(&second),
            None,
            ClientAuth::Post("c1", C1_SECRET),
        )
        .await,
    )
    .await;
}

#[tokio::test]
async fn conformance_1f_48_refresh_token_bound_to_client() {
    let app = TestApp::spawn().await;
    register_p2(&app).await;

    // c1's token with c2's valid credentials: refused, and not burnt.
    let rt = refresh_token(&tokens(&app, "c1", "a").await);
    expect_oauth_error(
        app.refresh_as(&rt, None, auth_of("c2")).await,
        400,
        "invalid_grant",
        &[&rt],
    )
    .await;
    let rt = refresh_token(&expect_tokens(app.refresh_as(&rt, None, auth_of("c1")).await).await);
    // Twice, to be sure the first refusal did not count as reuse.
    expect_oauth_error(
        app.refresh_as(&rt, None, auth_of("c2")).await,
        400,
        "invalid_grant",
        &[&rt],
    )
    .await;
    expect_tokens(app.refresh_as(&rt, None, auth_of("c1")).await).await;

    // p1's token presented by public p2.
    let rt = refresh_token(&tokens(&app, "p1", "a").await);
    expect_oauth_error(
        app.refresh_as(&rt, None, ClientAuth::Public("p2")).await,
        400,
        "invalid_grant",
        &[&rt],
    )
    .await;
    expect_tokens(app.refresh_as(&rt, None, ClientAuth::Public("p1")).await).await;

    assert_eq!(
        events_of(&app.security_events().await, "refresh_token_reuse"),
        0
    );
}

#[tokio::test]
async fn conformance_1f_49_confidential_clients_must_authenticate_to_refresh() {
    let app = TestApp::spawn().await;
    let rt = refresh_token(&tokens(&app, "c1", "a").await);
    let a = expect_oauth_error(
        app.refresh_as(&rt, None, ClientAuth::Public("c1")).await,
        401,
        "invalid_client",
        &[&rt],
    )
    .await;
    assert_eq!(a.header("www-authenticate"), None);
    expect_oauth_error(
        app.refresh_as(&rt, None, ClientAuth::Nothing).await,
        401,
        "invalid_client",
        &[&rt],
    )
    .await;
    // Control: authenticated, the same token works.
    expect_tokens(app.refresh_as(&rt, None, auth_of("c1")).await).await;
}

#[tokio::test]
async fn conformance_1f_50_public_client_refresh_tokens_rotate() {
    let app = TestApp::spawn().await;
    let first = tokens(&app, "p1", "a").await;
    let rt1 = refresh_token(&first);
    let second = expect_tokens(app.refresh_as(&rt1, None, ClientAuth::Public("p1")).await).await;
    let rt2 = refresh_token(&second);
    assert_ne!(rt2, rt1);
    assert_ne!(second["access_token"], first["access_token"]);
    // The new token works ...
    let rt3 = refresh_token(
        &expect_tokens(app.refresh_as(&rt2, None, ClientAuth::Public("p1")).await).await,
    );
    assert_ne!(rt3, rt2);
    // ... the old one does not.
    expect_oauth_error(
        app.refresh_as(&rt1, None, ClientAuth::Public("p1")).await,
        400,
        "invalid_grant",
        &[&rt1],
    )
    .await;
}

#[tokio::test]
async fn conformance_1f_51_refresh_reuse_revokes_family() {
    let app = TestApp::spawn().await;
    let rt1 = refresh_token(&tokens(&app, "c1", "a").await);
    // Another grant of the same user and client: a separate family.
    let unrelated = refresh_token(&tokens(&app, "c1", "a").await);

    let second = expect_tokens(app.refresh_as(&rt1, None, auth_of("c1")).await).await;
    let rt2 = refresh_token(&second);
    assert_ne!(rt2, rt1);
    assert_eq!(
        events_of(&app.security_events().await, "refresh_token_reuse"),
        0
    );

    // Replay of RT1 once the retry window has passed (refresh_retry_window
    // covers the replay inside it): refused, and the whole family dies, RT2
    // included.
    app.clock
        .advance(tessera_authorization_server::config::DEFAULT_REFRESH_RETRY_WINDOW_SECS);
    expect_oauth_error(
        app.refresh_as(&rt1, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&rt1, &rt2],
    )
    .await;
    expect_oauth_error(
        app.refresh_as(&rt2, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&rt2],
    )
    .await;
    assert_eq!(
        events_of(&app.security_events().await, "refresh_token_reuse"),
        1
    );

    // Only that family.
    expect_tokens(app.refresh_as(&unrelated, None, auth_of("c1")).await).await;
}

#[tokio::test]
async fn conformance_1f_52_down_scoping() {
    let app = TestApp::spawn().await;
    let rt = refresh_token(&tokens(&app, "c1", "a b").await);

    let narrowed = expect_tokens(app.refresh_as(&rt, Some("a"), auth_of("c1")).await).await;
    assert_eq!(narrowed["scope"], "a");
    assert_eq!(jwt_part(&access_token(&narrowed), 1)["scope"], "a");

    // The new refresh token keeps the grant's scope.
    let full = expect_tokens(
        app.refresh_as(&refresh_token(&narrowed), None, auth_of("c1"))
            .await,
    )
    .await;
    assert_eq!(full["scope"], "a b");
    assert_eq!(jwt_part(&access_token(&full), 1)["scope"], "a b");

    // Any order, any subset.
    let again = expect_tokens(
        app.refresh_as(&refresh_token(&full), Some("b a"), auth_of("c1"))
            .await,
    )
    .await;
    assert_eq!(again["scope"], "a b");
    let b = expect_tokens(
        app.refresh_as(&refresh_token(&again), Some("b"), auth_of("c1"))
            .await,
    )
    .await;
    assert_eq!(b["scope"], "b");
}

#[tokio::test]
async fn conformance_1f_53_up_scoping_is_refused() {
    let app = TestApp::spawn().await;
    let rt = refresh_token(&tokens(&app, "c1", "a b").await);
    // c is registered for c1 but was not granted; zzz is not registered at all.
    for scope in ["a b c", "c", "zzz", "a zzz"] {
        expect_oauth_error(
            app.refresh_as(&rt, Some(scope), auth_of("c1")).await,
            400,
            "invalid_scope",
            &[&rt],
        )
        .await;
    }
    // The refusals did not spend the token.
    let body = expect_tokens(app.refresh_as(&rt, None, auth_of("c1")).await).await;
    assert_eq!(body["scope"], "a b");
}

#[tokio::test]
async fn conformance_1f_54_expired_or_ended_refresh_tokens() {
    let app = TestApp::spawn().await;

    // Idle expiry: 30 days without use.
    let used = refresh_token(&tokens(&app, "c1", "a").await);
    let idle = refresh_token(&tokens(&app, "c1", "a").await);
    app.clock.advance(30 * DAY - 1);
    let used =
        refresh_token(&expect_tokens(app.refresh_as(&used, None, auth_of("c1")).await).await);
    app.clock.advance(1);
    expect_oauth_error(
        app.refresh_as(&idle, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&idle],
    )
    .await;
    // Use resets the idle clock.
    expect_tokens(app.refresh_as(&used, None, auth_of("c1")).await).await;

    // Absolute lifetime: 90 days from the grant, however often it is used.
    let start = app.state.now();
    let mut rt = refresh_token(&tokens(&app, "c1", "a").await);
    for day in [29, 58, 87, 89] {
        app.clock.set(start + day * DAY);
        rt = refresh_token(&expect_tokens(app.refresh_as(&rt, None, auth_of("c1")).await).await);
    }
    app.clock.set(start + 90 * DAY);
    expect_oauth_error(
        app.refresh_as(&rt, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&rt],
    )
    .await;

    // A password change ends the user's refresh tokens, and only theirs.
    let app = TestApp::spawn().await;
    let alice_rt = refresh_token(&tokens(&app, "c1", "a").await);
    let request = AuthRequest::new("c1");
    let back = app
        .browser()
        .authorize_through_consent(&request, BOB, BOB_PASSWORD, None)
        .await;
    let bob_rt = refresh_token(&expect_tokens(app.redeem(&request.into_flow(&back)).await).await);
    let changed = app
        .admin
        .set_password(
            ALICE,
            &SecretString::new("new-password-123"),
            app.state.now(),
        )
        .await;
    assert!(changed.expect("set_password"));
    expect_oauth_error(
        app.refresh_as(&alice_rt, None, auth_of("c1")).await,
        400,
        "invalid_grant",
        &[&alice_rt],
    )
    .await;
    expect_tokens(app.refresh_as(&bob_rt, None, auth_of("c1")).await).await;
}

#[tokio::test]
async fn conformance_1f_55_refresh_token_integrity() {
    let app = TestApp::spawn().await;
    let rt = refresh_token(&tokens(&app, "c1", "a").await);
    for forged in [
        tamper(&rt),
        rt[..rt.len() - 1].to_owned(),
        format!("{rt}A"),
        rt.to_uppercase(),
    ] {
        expect_oauth_error(
            app.refresh_as(&forged, None, auth_of("c1")).await,
            400,
            "invalid_grant",
            &[&forged, &rt],
        )
        .await;
    }
    // The forgeries neither worked nor harmed the real token.
    expect_tokens(app.refresh_as(&rt, None, auth_of("c1")).await).await;
    assert_eq!(
        events_of(&app.security_events().await, "refresh_token_reuse"),
        0
    );
}

#[tokio::test]
async fn conformance_1f_56_refresh_tokens_only_for_clients_allowed_them() {
    let app = TestApp::spawn().await;
    register_c3(&app).await;
    let flow = app.code_for("c3", "a").await;
    let body = expect_tokens(app.redeem_as(&flow, auth_of("c3")).await).await;
    assert!(body.get("refresh_token").is_none(), "{body}");

    // grant_type=refresh_token from that client, with a real token of
    // another client and with a made-up one.
    let c1_rt = refresh_token(&tokens(&app, "c1", "a").await);
    expect_oauth_error(
        app.refresh_as(&c1_rt, None, auth_of("c3")).await,
        400,
        "unauthorized_client",
        &[&c1_rt],
    )
    .await;
    expect_oauth_error(
        app.refresh_as("made-up", None, auth_of("c3")).await,
        400,
        "unauthorized_client",
        &[],
    )
    .await;
    // c1's token was not affected.
    expect_tokens(app.refresh_as(&c1_rt, None, auth_of("c1")).await).await;
}

// =========================================================================
// 1M. Cross-cutting
// =========================================================================

#[tokio::test]
async fn conformance_1m_96_access_tokens_are_signed_typed_jwts() {
    let app = TestApp::spawn().await;
    let body = tokens(&app, "c1", "a b").await;
    let at = access_token(&body);

    let header = jwt_part(&at, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims = verify_access_token(&app, &at)
        .await
        .expect("verifies with the published key");
    assert_eq!(claims["iss"], app.issuer());
    assert_eq!(claims["aud"], PHOTOS);
    assert_eq!(claims["client_id"], "c1");
    assert_eq!(claims["scope"], "a b");
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["exp"], T0 + ACCESS_TOKEN_TTL);
    if let Some(nbf) = claims.get("nbf") {
        assert!(nbf.as_i64().unwrap() <= T0);
    }
    let alice = app.store.user_by_username(ALICE).await.unwrap().unwrap();
    assert_eq!(claims["sub"], alice.user_id.as_str());

    // The signature covers the claims: a widened scope no longer verifies.
    let mut forged = jwt_part(&at, 1);
    forged["scope"] = "a b c".into();
    let parts: Vec<&str> = at.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    assert!(verify_access_token(&app, &forged).await.is_err());
    // And an unsigned copy is not a token.
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#),
        parts[1]
    );
    assert!(verify_access_token(&app, &unsigned).await.is_err());
}

/// The SQLite files this process has open, found through `/proc/self/fd`:
/// the store's own connections. Each entry is the database and its WAL.
#[cfg(target_os = "linux")]
fn open_databases() -> Vec<Vec<PathBuf>> {
    let mut dbs = BTreeSet::new();
    for entry in std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
    {
        if let Ok(target) = std::fs::read_link(entry.path())
            && target.file_name().is_some_and(|n| n == "tessera.db")
        {
            dbs.insert(target);
        }
    }
    dbs.into_iter()
        .map(|db| {
            let mut wal = db.clone().into_os_string();
            wal.push("-wal");
            vec![db, PathBuf::from(wal)]
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn conformance_1m_99_secrets_at_rest_are_hashed() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let body = expect_tokens(app.redeem(&flow).await).await;
    let rt1 = refresh_token(&body);
    let rt2 = refresh_token(&expect_tokens(app.refresh_as(&rt1, None, auth_of("c1")).await).await);

    // Through the store: refresh tokens are found by their hash, never by
    // their value.
    assert!(
        app.store
            .refresh_token(&TokenHash::of(&rt2))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        app.store
            .refresh_token(&TokenHash::from_stored(rt2.clone()))
            .await
            .unwrap()
            .is_none()
    );

    // In the files (SQLite; PostgreSQL's files are the server's): this
    // app's database is the open one holding the hash of rt2 (random, so no
    // other test's database has it).
    if app.backend == Backend::Postgres {
        return;
    }
    let mine: Vec<Vec<u8>> = open_databases()
        .into_iter()
        .map(|files| {
            files
                .iter()
                .flat_map(|f| std::fs::read(f).unwrap_or_default())
                .collect::<Vec<u8>>()
        })
        .filter(|bytes| contains(bytes, TokenHash::of(&rt2).as_str()))
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "cannot find this test's database among the open ones"
    );
    let bytes = &mine[0];
    let at = access_token(&body);
    assert!(
        contains(bytes, TokenHash::of(&flow.code).as_str()),
        "codes are kept by hash"
    );
    assert!(contains(bytes, TokenHash::of(&rt1).as_str()));
    for (what, raw) in [
        ("code", flow.code.as_str()),
        ("refresh token", rt1.as_str()),
        ("rotated refresh token", rt2.as_str()),
        ("access token", at.as_str()),
        ("PKCE verifier", flow.verifier.as_str()),
        ("client secret", C1_SECRET),
        ("client secret", C2_SECRET),
        ("user password", ALICE_PASSWORD),
    ] {
        assert!(!contains(bytes, raw), "the database holds a raw {what}");
    }
}

/// Issue 13 (low): any client could revoke another client's grant by
/// presenting that client's already-used code, even a public client with no
/// secret. Now the code's client is checked before anything is consumed or
/// revoked: c1's tokens stay active, and the attempt is a security event.
#[tokio::test]
async fn issue13_another_clients_used_code_revokes_nothing() {
    let app = TestApp::spawn().await;
    register_p2(&app).await;
    let flow = app.code_for("c1", "a").await;
    let tokens = expect_tokens(app.redeem(&flow).await).await;
    let at = access_token(&tokens);
    let never = [flow.code.as_str(), flow.verifier.as_str()];
    for auth in [auth_of("c2"), ClientAuth::Public("p2")] {
        expect_oauth_error(
            app.redeem_as(&flow, auth).await,
            400,
            "invalid_grant",
            &never,
        )
        .await;
    }
    app.assert_active(
        "rs1",
        &at,
        "c1's access token after others replayed its code",
    )
    .await;
    let events = app.security_events().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "authorization_code_of_another_client")
            .count(),
        2,
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| e == "authorization_code_replay"),
        "{events:?}"
    );
    // c1's own replay still revokes its grant.
    expect_oauth_error(app.redeem(&flow).await, 400, "invalid_grant", &never).await;
    app.assert_inactive("rs1", &at, "after c1's own replay")
        .await;
}
