//! Token introspection, RFC 7662 (docs/conformance.md §1H, items 64-67),
//! one test per reason a token is inactive, and opaque access tokens.
//!
//! `rs1` serves the fixture's default audience (PHOTOS), `rs2` serves OTHER;
//! both are confidential clients with the `introspect` permission.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tessera_authorization_server::admin::ClientSpec;
use tessera_core::resource::AccessTokenFormat;

use crate::harness::*;

/// The default idle lifetime of a refresh token (30 days).
const REFRESH_IDLE: i64 = 30 * 24 * 3600;

/// The members of an active access token's introspection (`auth_time` for
/// tokens a user authorized).
const ACCESS_MEMBERS: &[&str] = &[
    "active",
    "scope",
    "client_id",
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "token_type",
    "jti",
];

fn members(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The claims of an active access token for alice via `client_id`.
async fn assert_user_access_token(app: &TestApp, v: &Value, client_id: &str, scope: &str) {
    let mut expected = set(ACCESS_MEMBERS);
    expected.insert("auth_time".into());
    assert_eq!(members(v), expected, "{v}");
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["scope"], scope, "{v}");
    assert_eq!(v["client_id"], client_id, "{v}");
    assert_eq!(v["sub"], app.alice_id().await.as_str(), "{v}");
    assert_eq!(v["aud"], PHOTOS, "{v}");
    assert_eq!(v["iss"], app.issuer(), "{v}");
    assert_eq!(v["token_type"], "Bearer", "{v}");
    let iat = v["iat"].as_i64().expect("iat");
    assert_eq!(v["exp"].as_i64(), Some(iat + ACCESS_TOKEN_TTL), "{v}");
    assert!(v["jti"].as_str().is_some_and(|j| !j.is_empty()), "{v}");
}

/// Signs `claims` as an ES256 access token with the foreign key.
fn sign_foreign(header_kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(header_kid.into());
    let key = foreign_key();
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

// =========================================================================
// 64. The caller must authenticate, and be allowed to introspect
// =========================================================================

#[tokio::test]
async fn conformance_1h_64_caller_must_authenticate() {
    let app = TestApp::spawn().await;
    let at = access_token(&app.tokens_for("c1", "a").await);

    // No authentication.
    let a = expect_oauth_error(
        app.introspect(&at, ClientAuth::Nothing).await,
        401,
        "invalid_client",
        &[&at],
    )
    .await;
    assert!(!a.text.contains("active"), "{}", a.text);
    // A wrong secret, with Basic (challenge) and in the body (none).
    let wrong = "wrong-secret-0123456789-0123456789";
    let a = expect_oauth_error(
        app.introspect(&at, ClientAuth::Basic("rs1", wrong)).await,
        401,
        "invalid_client",
        &[&at, wrong],
    )
    .await;
    assert_eq!(
        a.header("www-authenticate"),
        Some("Basic realm=\"tessera\"")
    );
    let a = expect_oauth_error(
        app.introspect(&at, ClientAuth::Post("rs1", wrong)).await,
        401,
        "invalid_client",
        &[&at, wrong],
    )
    .await;
    assert!(a.header("www-authenticate").is_none());
    // A confidential client naming itself without a secret.
    expect_oauth_error(
        app.introspect(&at, ClientAuth::Public("rs1")).await,
        401,
        "invalid_client",
        &[&at],
    )
    .await;
    // A bearer token instead of client credentials: refused, with a
    // challenge naming the scheme that is accepted.
    let r = app
        .http()
        .post(app.url("/introspect"))
        .bearer_auth(&at)
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    let a = expect_oauth_error(r, 401, "invalid_client", &[]).await;
    assert!(a.header("www-authenticate").is_some());
    assert!(!a.text.contains("active"), "{}", a.text);
}

#[tokio::test]
async fn conformance_1h_64_only_clients_with_the_introspect_permission() {
    let app = TestApp::spawn().await;
    let at = access_token(&app.tokens_for("c1", "a").await);
    // Authenticated clients without the permission: c1 (even about its own
    // token), c2 and svc.
    for auth in [
        auth_of("c1"),
        auth_of("c2"),
        auth_of("svc"),
        ClientAuth::Post("svc", SVC_SECRET),
    ] {
        let a = expect_oauth_error(
            app.introspect(&at, auth).await,
            403,
            "unauthorized_client",
            &[&at],
        )
        .await;
        assert!(!a.text.contains("active"), "{auth:?}: {}", a.text);
    }
    // A public client cannot authenticate well enough to introspect.
    let r = Reply::read(app.introspect(&at, auth_of("p1")).await).await;
    assert!(
        r.status == 401 || r.status == 403,
        "public client: {} {}",
        r.status,
        r.text
    );
    assert!(!r.text.contains("active"), "{}", r.text);
    // Both advertised methods work for a permitted client.
    for auth in [auth_of("rs1"), ClientAuth::Post("rs1", RS1_SECRET)] {
        let r = Reply::read(app.introspect(&at, auth).await).await;
        assert_eq!(r.status, 200, "{auth:?}: {}", r.text);
        assert_eq!(r.json()["active"], true, "{auth:?}");
    }
}

// =========================================================================
// 65. An active token
// =========================================================================

#[tokio::test]
async fn conformance_1h_65_active_access_token() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "b a").await;
    let at = access_token(&body);

    let r = Reply::read(app.introspect(&at, auth_of("rs1")).await).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_json(&r);
    assert_no_store(&r);
    let v = r.json();
    assert_user_access_token(&app, &v, "c1", "a b").await;
    assert_eq!(v["iat"], T0, "{v}");
    assert_eq!(v["exp"], T0 + ACCESS_TOKEN_TTL, "{v}");
    assert_eq!(v["auth_time"], T0, "{v}");
    // The introspection agrees with the token itself.
    let claims = jwt_claims(&at);
    for name in [
        "jti",
        "sub",
        "aud",
        "iss",
        "client_id",
        "scope",
        "exp",
        "iat",
    ] {
        assert_eq!(v[name], claims[name], "{name}: {v} vs {claims}");
    }

    // Any hint, or none, finds it the same.
    for hint in ["access_token", "refresh_token", "bogus"] {
        let r = app
            .post_form(
                "/introspect",
                &[("token", at.as_str()), ("token_type_hint", hint)],
                auth_of("rs1"),
            )
            .await;
        let again = Reply::read(r).await.json();
        assert_eq!(again, v, "hint {hint}");
    }

    // Still active one second before expiry.
    app.clock.advance(ACCESS_TOKEN_TTL - 1);
    app.assert_active("rs1", &at, "one second before expiry")
        .await;
}

#[tokio::test]
async fn conformance_1h_65_active_refresh_token() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a b").await;
    let rt = refresh_token(&body);
    let v = app.assert_active("rs1", &rt, "refresh token").await;
    assert_eq!(v["token_type"], "refresh_token", "{v}");
    assert_eq!(v["client_id"], "c1", "{v}");
    assert_eq!(v["scope"], "a b", "{v}");
    assert_eq!(v["sub"], app.alice_id().await.as_str(), "{v}");
    assert_eq!(v["aud"], PHOTOS, "{v}");
    assert_eq!(v["iss"], app.issuer(), "{v}");
    assert_eq!(v["iat"], T0, "{v}");
    assert!(
        v["exp"].as_i64().is_some_and(|e| e > T0 + ACCESS_TOKEN_TTL),
        "{v}"
    );
    // The refresh token's value is never echoed.
    assert!(!v.to_string().contains(&rt));
}

#[tokio::test]
async fn conformance_1h_65_client_credentials_token() {
    let app = TestApp::spawn().await;
    let at = access_token(&expect_token_response(app.client_credentials("svc", &[]).await).await);
    let v = app.assert_active("rs1", &at, "client credentials").await;
    assert_eq!(members(&v), set(ACCESS_MEMBERS), "no auth_time: {v}");
    assert_eq!(v["sub"], "svc", "{v}");
    assert_eq!(v["client_id"], "svc", "{v}");
    assert_eq!(v["scope"], "a b", "{v}");
    assert_eq!(v["aud"], PHOTOS, "{v}");
}

// =========================================================================
// 66. Inactive: exactly {"active": false}, one test per reason
// =========================================================================

#[tokio::test]
async fn conformance_1h_66_expired_tokens_are_inactive() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a").await;
    let (at, rt) = (access_token(&body), refresh_token(&body));
    let svc = access_token(&expect_token_response(app.client_credentials("svc", &[]).await).await);

    app.clock.advance(ACCESS_TOKEN_TTL);
    app.assert_inactive("rs1", &at, "AT at its exp").await;
    app.assert_inactive("rs1", &svc, "client credentials AT at its exp")
        .await;
    app.assert_active("rs1", &rt, "RT outlives the AT").await;
    app.clock.advance(3600);
    app.assert_inactive("rs1", &at, "AT an hour after exp")
        .await;

    // The refresh token ends after its idle lifetime.
    app.clock.advance(REFRESH_IDLE);
    app.assert_inactive("rs1", &rt, "idle-expired RT").await;
}

#[tokio::test]
async fn conformance_1h_66_revoked_tokens_are_inactive() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a").await;
    let (at, rt) = (access_token(&body), refresh_token(&body));
    app.revoke_ok(&at, None, auth_of("c1")).await;
    app.assert_inactive("rs1", &at, "revoked AT").await;
    app.assert_active("rs1", &rt, "RT of the grant").await;
    app.revoke_ok(&rt, None, auth_of("c1")).await;
    app.assert_inactive("rs1", &rt, "revoked RT").await;
}

#[tokio::test]
async fn conformance_1h_66_unknown_and_malformed_tokens_are_inactive() {
    let app = TestApp::spawn().await;
    let at = access_token(&app.tokens_for("c1", "a").await);
    let parts: Vec<&str> = at.split('.').collect();
    // Far longer than any token we issue, within the endpoint's 16 KiB body
    // limit (a body over it is a 413, issue 13 item 5: below).
    let long = "A".repeat(12 * 1024);
    let no_signature = format!("{}.{}.", parts[0], parts[1]);
    let two_parts = format!("{}.{}", parts[0], parts[1]);
    let four_parts = format!("{at}.{}", parts[2]);
    let padded = format!(" {at} ");
    for (what, token) in [
        (
            "random",
            "bm90LWEtdG9rZW4tMDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3A",
        ),
        ("word", "token"),
        ("dots", ".."),
        ("not base64", "%%%.$$$.@@@"),
        ("non-ASCII", "jéton✓"),
        ("long", long.as_str()),
        ("no signature", no_signature.as_str()),
        ("two segments", two_parts.as_str()),
        ("four segments", four_parts.as_str()),
        ("whitespace around", padded.as_str()),
    ] {
        app.assert_inactive("rs1", token, what).await;
    }
    app.assert_active("rs1", &at, "the real token").await;
    let too_long = "A".repeat(16 * 1024);
    let r = app
        .post_form(
            "/introspect",
            &[("token", too_long.as_str())],
            ClientAuth::Basic("rs1", RS1_SECRET),
        )
        .await;
    expect_oauth_error(r, 413, "invalid_request", &[RS1_SECRET]).await;
}

#[tokio::test]
async fn conformance_1h_66_token_for_another_audience_is_inactive() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a").await;
    let (at, rt) = (access_token(&body), refresh_token(&body));
    // rs2 serves OTHER; these tokens are for PHOTOS.
    app.assert_inactive("rs2", &at, "PHOTOS AT asked by rs2")
        .await;
    app.assert_inactive("rs2", &rt, "PHOTOS RT asked by rs2")
        .await;
    app.assert_active("rs1", &at, "PHOTOS AT asked by rs1")
        .await;

    // And the other way round: a token for OTHER (client credentials with a
    // resource indicator).
    let other = access_token(
        &expect_token_response(app.client_credentials("svc", &[("resource", OTHER)]).await).await,
    );
    app.assert_inactive("rs1", &other, "OTHER AT asked by rs1")
        .await;
    let v = app
        .assert_active("rs2", &other, "OTHER AT asked by rs2")
        .await;
    assert_eq!(v["aud"], OTHER);
}

#[tokio::test]
async fn conformance_1h_66_rotated_refresh_token_is_inactive() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a").await;
    let rt1 = refresh_token(&body);
    let rt2 = refresh_token(&expect_token_response(app.refresh("c1", &rt1).await).await);
    app.assert_inactive("rs1", &rt1, "rotated RT1").await;
    app.assert_active("rs1", &rt2, "RT2").await;
    // The first access token is not affected by the rotation.
    app.assert_active("rs1", &access_token(&body), "AT1").await;
}

#[tokio::test]
async fn conformance_1h_66_tokens_of_a_replayed_code_are_inactive() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("c1", "a").await;
    let body = expect_token_response(app.redeem(&flow).await).await;
    let (at, rt) = (access_token(&body), refresh_token(&body));
    app.assert_active("rs1", &at, "AT before the replay").await;
    // The code again: refused, and the grant is revoked.
    expect_oauth_error(app.redeem(&flow).await, 400, "invalid_grant", &[]).await;
    app.assert_inactive("rs1", &at, "AT after the code replay")
        .await;
    app.assert_inactive("rs1", &rt, "RT after the code replay")
        .await;
}

#[tokio::test]
async fn conformance_1h_66_tokens_after_refresh_reuse_are_inactive() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a").await;
    let (at1, rt1) = (access_token(&body), refresh_token(&body));
    let second = expect_token_response(app.refresh("c1", &rt1).await).await;
    let (at2, rt2) = (access_token(&second), refresh_token(&second));
    app.assert_active("rs1", &at2, "AT2 before the reuse").await;
    // RT1 again, after the retry window: reuse, the family is revoked.
    app.clock
        .advance(tessera_authorization_server::config::DEFAULT_REFRESH_RETRY_WINDOW_SECS);
    expect_oauth_error(app.refresh("c1", &rt1).await, 400, "invalid_grant", &[]).await;
    for (what, token) in [("AT1", &at1), ("AT2", &at2), ("RT2", &rt2), ("RT1", &rt1)] {
        app.assert_inactive("rs1", token, what).await;
    }
}

#[tokio::test]
async fn conformance_1h_66_forged_jwts_are_inactive() {
    let app = TestApp::spawn().await;
    let at = access_token(&app.tokens_for("c1", "a").await);
    let header = jwt_part(&at, 0);
    let claims = jwt_claims(&at);
    let kid = header["kid"].as_str().expect("kid").to_owned();
    let parts: Vec<&str> = at.split('.').collect();

    // The payload changed (scope widened, same jti), signature kept.
    let mut widened = claims.clone();
    widened["scope"] = "a b c".into();
    let tampered = format!("{}.{}.{}", parts[0], b64(&widened), parts[2]);
    // The same claims, byte for byte, signed by a key that is not ours,
    // under our kid and under another one.
    let foreign_same_kid = sign_foreign(&kid, &claims);
    let foreign_other_kid = sign_foreign("not-our-key", &claims);
    // Unsigned (alg none).
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
        parts[1]
    );
    // HS256 under our kid, keyed with our public key's bytes (algorithm
    // confusion).
    let jwks: Value = app.jwks().await;
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.typ = Some("at+jwt".into());
    hs_header.kid = Some(kid.clone());
    let hs = jsonwebtoken::encode(
        &hs_header,
        &claims,
        &EncodingKey::from_secret(jwks.to_string().as_bytes()),
    )
    .unwrap();
    // Our header with another `typ` (the signature no longer matches).
    let retyped = format!(
        "{}.{}.{}",
        b64(&json!({"alg": header["alg"], "typ": "JWT", "kid": kid})),
        parts[1],
        parts[2]
    );
    // A token from another Tessera (another key, another issuer).
    let elsewhere = TestApp::spawn().await;
    let foreign_server = access_token(&elsewhere.tokens_for("c1", "a").await);

    for (what, token) in [
        ("tampered payload", tampered.as_str()),
        ("foreign key, our kid", foreign_same_kid.as_str()),
        ("foreign key, other kid", foreign_other_kid.as_str()),
        ("alg none", unsigned.as_str()),
        ("HS256 with our kid", hs.as_str()),
        ("typ changed", retyped.as_str()),
        ("another server's token", foreign_server.as_str()),
    ] {
        app.assert_inactive("rs1", token, what).await;
        // Revoking a forgery is a no-op 200 that leaves the real token alone.
        app.revoke_ok(token, None, auth_of("c1")).await;
    }
    app.assert_active("rs1", &at, "the genuine token").await;
}

// =========================================================================
// 67. POST with a form body only
// =========================================================================

#[tokio::test]
async fn conformance_1h_67_post_with_a_form_only() {
    let app = TestApp::spawn().await;
    let at = access_token(&app.tokens_for("c1", "a").await);
    for method in [reqwest::Method::GET, reqwest::Method::PUT] {
        let r = app
            .http()
            .request(method.clone(), app.url(&format!("/introspect?token={at}")))
            .header("authorization", basic_header("rs1", RS1_SECRET))
            .send()
            .await
            .unwrap();
        let a = expect_oauth_error(r, 405, "invalid_request", &[&at]).await;
        assert_eq!(a.header("allow"), Some("POST"), "{method}");
        assert!(!a.text.contains("active"));
    }
    // POST with the token in the query string only: the body has no token.
    let r = app
        .http()
        .post(app.url(&format!("/introspect?token={at}")))
        .header("authorization", basic_header("rs1", RS1_SECRET))
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    expect_oauth_error(r, 400, "invalid_request", &[&at]).await;
    // A JSON body.
    let r = app
        .http()
        .post(app.url("/introspect"))
        .header("authorization", basic_header("rs1", RS1_SECRET))
        .json(&json!({ "token": at }))
        .send()
        .await
        .unwrap();
    expect_oauth_error(r, 400, "invalid_request", &[&at]).await;
    // No token, an empty one, a repeated one.
    for form in [
        vec![],
        vec![("token", "")],
        vec![("token", at.as_str()), ("token", at.as_str())],
    ] {
        let r = app.post_form("/introspect", &form, auth_of("rs1")).await;
        expect_oauth_error(r, 400, "invalid_request", &[&at]).await;
    }
}

// =========================================================================
// Opaque access tokens
// =========================================================================

fn opaque_client(id: &str, secret: &str) -> ClientSpec {
    let mut spec = client(
        id,
        Some(secret),
        &["https://opaque.example/cb"],
        &["a", "b"],
    );
    spec.access_token_format = Some("opaque".into());
    spec
}

const OPQ_SECRET: &str = "opq-secret-0123456789-0123456789-abcdef";

/// The code flow for a client registered by a test (alice approves).
async fn tokens_for_registered(
    app: &TestApp,
    client_id: &str,
    redirect: &str,
    secret: &str,
) -> Value {
    let request = AuthRequest::new(client_id)
        .set("redirect_uri", redirect)
        .scope("a b");
    let back = app
        .browser()
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    let flow = request.into_flow(&back);
    expect_token_response(
        app.token_with(
            &[
                ("grant_type", "authorization_code"),
                ("code", flow.code.as_str()),
                ("redirect_uri", flow.redirect_uri.as_str()),
                ("code_verifier", flow.verifier.as_str()),
            ],
            ClientAuth::Basic(client_id, secret),
        )
        .await,
    )
    .await
}

#[tokio::test]
async fn opaque_access_tokens_per_client() {
    let app = TestApp::spawn().await;
    app.register(opaque_client("opq", OPQ_SECRET)).await;
    let body = tokens_for_registered(&app, "opq", "https://opaque.example/cb", OPQ_SECRET).await;
    let (at, rt) = (access_token(&body), refresh_token(&body));
    assert_opaque("access token", &at);
    assert_eq!(body["expires_in"], ACCESS_TOKEN_TTL);

    // Introspection gives the same claims a JWT would carry.
    let v = app.assert_active("rs1", &at, "opaque AT").await;
    assert_user_access_token(&app, &v, "opq", "a b").await;
    let jwt = access_token(&app.tokens_for("c1", "a b").await);
    let jwt_v = app.assert_active("rs1", &jwt, "JWT AT of c1").await;
    assert_eq!(members(&v), members(&jwt_v));

    // Other clients keep the server default (JWT).
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");

    // Refreshing gives another opaque token.
    let next = expect_token_response(refresh_with(&app, "opq", OPQ_SECRET, &rt).await).await;
    let at2 = access_token(&next);
    assert_opaque("access token", &at2);
    assert_ne!(at2, at);
    app.assert_active("rs1", &at2, "refreshed opaque AT").await;

    // Revoking one takes effect at once, and leaves the other alone.
    app.revoke_ok(&at, None, ClientAuth::Basic("opq", OPQ_SECRET))
        .await;
    app.assert_inactive("rs1", &at, "revoked opaque AT").await;
    app.assert_active("rs1", &at2, "the other opaque AT").await;
    // Another client cannot revoke it.
    app.revoke_ok(&at2, None, auth_of("c1")).await;
    app.assert_active("rs1", &at2, "after c1 tried to revoke it")
        .await;
    // Revoking the refresh token ends every access token of the grant.
    let rt2 = refresh_token(&next);
    app.revoke_ok(&rt2, None, ClientAuth::Basic("opq", OPQ_SECRET))
        .await;
    app.assert_inactive("rs1", &at2, "opaque AT of a revoked grant")
        .await;
}

#[tokio::test]
async fn opaque_access_tokens_globally() {
    let app = TestApp::builder()
        .configure(|c| c.access_token_format = AccessTokenFormat::Opaque)
        .spawn()
        .await;
    let body = app.tokens_for("c1", "a b").await;
    let at = access_token(&body);
    assert_opaque("access token", &at);
    let v = app.assert_active("rs1", &at, "opaque AT").await;
    assert_user_access_token(&app, &v, "c1", "a b").await;
    // Client credentials too.
    let svc = access_token(&expect_token_response(app.client_credentials("svc", &[]).await).await);
    assert_opaque("access token", &svc);
    let v = app
        .assert_active("rs1", &svc, "opaque client credentials AT")
        .await;
    assert_eq!(v["sub"], "svc");
    // A client that asks for JWTs gets them anyway.
    let mut spec = client(
        "jwtc",
        Some(OPQ_SECRET),
        &["https://jwt.example/cb"],
        &["a", "b"],
    );
    spec.access_token_format = Some("jwt".into());
    app.register(spec).await;
    let body = tokens_for_registered(&app, "jwtc", "https://jwt.example/cb", OPQ_SECRET).await;
    let jwt = access_token(&body);
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    app.assert_active("rs1", &jwt, "JWT of jwtc").await;

    // Expiry and revocation through introspection.
    app.revoke_ok(&svc, None, auth_of("svc")).await;
    app.assert_inactive("rs1", &svc, "revoked opaque AT").await;
    app.assert_active("rs1", &at, "c1's opaque AT").await;
    app.assert_inactive("rs2", &at, "c1's opaque AT asked by rs2")
        .await;
    app.clock.advance(ACCESS_TOKEN_TTL);
    app.assert_inactive("rs1", &at, "expired opaque AT").await;
}

/// The refresh grant with Basic credentials given here (for clients a test
/// registers itself).
async fn refresh_with(app: &TestApp, client_id: &str, secret: &str, rt: &str) -> reqwest::Response {
    app.token_with(
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        ClientAuth::Basic(client_id, secret),
    )
    .await
}
