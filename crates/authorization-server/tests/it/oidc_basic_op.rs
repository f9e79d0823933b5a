//! The OpenID Foundation's Basic OP plan (docs/conformance.md §2.1) and Config
//! OP plan (§2.2), re-expressed as tests over real HTTP: one test per module,
//! named after it (`oidcc-server` → `oidcc_server`). Modules whose feature
//! Tessera does not offer still have a test, asserting the answer we chose
//! and saying why.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;
use tessera_authorization_server::clock::Clock as _;
use tessera_core::id_token::{IdTokenClaims, token_hash};
use tessera_core::jwt::SigningAlgorithm;
use tessera_core::user_claims::{Address, UserClaims};

use crate::harness::*;

pub const NONCE: &str = "n-0S6_WzA2Mj";

/// The standard fixture, with alice's standard claims set.
pub async fn oidc_app() -> TestApp {
    let app = TestApp::spawn().await;
    set_alice_claims(&app).await;
    app
}

pub async fn set_alice_claims(app: &TestApp) {
    app.admin
        .update_user_claims(
            ALICE,
            UserClaims {
                name: Some("Alice Liddell".into()),
                given_name: Some("Alice".into()),
                family_name: Some("Liddell".into()),
                email: Some("alice@example.com".into()),
                email_verified: Some(true),
                phone_number: Some("+44 20 7946 0000".into()),
                phone_number_verified: Some(false),
                address: Some(Address {
                    locality: Some("Oxford".into()),
                    country: Some("GB".into()),
                    ..Address::default()
                }),
                ..UserClaims::default()
            },
            app.clock.now(),
        )
        .await
        .expect("claims");
}

/// An OIDC authorization request for `client_id`: `scope=openid` and a nonce.
pub fn oidc_request(client_id: &str) -> AuthRequest {
    AuthRequest::new(client_id)
        .scope("openid")
        .set("nonce", NONCE)
}

/// Front channel in `browser` as alice, then the code exchange: the token
/// response.
pub async fn oidc_tokens(app: &TestApp, browser: &Browser, request: AuthRequest) -> Value {
    let location = browser
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    let r = app.redeem(&request.into_flow(&location)).await;
    assert_eq!(r.status(), 200, "code exchange");
    r.json().await.expect("json")
}

/// Verifies an ID token as a relying party would: the key named by `kid`
/// from the published JWKS, the algorithm `expected` (and the key's own),
/// `typ`, `iss`, `aud`, and `at_hash` against `access_token`.
pub async fn verify_id_token(
    app: &TestApp,
    id_token: &str,
    client_id: &str,
    expected: SigningAlgorithm,
    access_token: Option<&str>,
) -> IdTokenClaims {
    let header = jsonwebtoken::decode_header(id_token).expect("header");
    assert_eq!(format!("{:?}", header.alg), expected.as_str(), "alg");
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let jwks: JwkSet = app.jwks().await;
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("the kid is published");
    assert_eq!(
        jwk.common.key_algorithm.map(|a| a.to_string()).as_deref(),
        Some(expected.as_str())
    );
    let mut v = Validation::new(header.alg);
    v.set_audience(&[client_id]);
    v.set_issuer(&[app.issuer()]);
    // The test clock runs ahead of the wall clock; exp is checked below.
    v.validate_exp = false;
    let claims = jsonwebtoken::decode::<IdTokenClaims>(
        id_token,
        &DecodingKey::from_jwk(jwk).expect("key"),
        &v,
    )
    .expect("the ID token verifies")
    .claims;
    let now = app.clock.now();
    assert!(claims.iat <= now && now < claims.exp, "iat/exp");
    if let Some(at) = access_token {
        assert_eq!(
            claims.at_hash.as_deref(),
            Some(token_hash(at, expected).as_str())
        );
    }
    claims
}

/// The ID token of a token response, verified (RS256, at_hash).
pub async fn id_token_of(app: &TestApp, body: &Value, client_id: &str) -> IdTokenClaims {
    verify_id_token(
        app,
        body["id_token"].as_str().expect("an id_token"),
        client_id,
        SigningAlgorithm::Rs256,
        body["access_token"].as_str(),
    )
    .await
}

pub async fn userinfo_get(app: &TestApp, token: &str) -> reqwest::Response {
    app.http()
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .expect("userinfo")
}

/// The redirect back to the client after `request`, with an existing
/// session (no page expected).
async fn silent(browser: &Browser, request: &AuthRequest) -> String {
    let r = browser.authorize(request).await;
    assert_eq!(r.status(), 302, "silent authorization");
    location(&r)
}

// --- 2.1 Basic OP ---------------------------------------------------------

#[tokio::test]
async fn oidcc_server() {
    let app = oidc_app().await;
    let browser = app.browser();
    let body = oidc_tokens(&app, &browser, oidc_request("c1")).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "openid")
    );
    let claims = id_token_of(&app, &body, "c1").await;
    let user = app.store.user_by_username(ALICE).await.unwrap().unwrap();
    assert_eq!(claims.sub, user.user_id, "sub is the stable user id");
    assert_eq!(claims.iss, app.issuer());
    assert_eq!(claims.aud, "c1");
    assert_eq!(claims.nonce.as_deref(), Some(NONCE), "nonce echoed exactly");
    assert_eq!(claims.auth_time, T0, "the login's time");
    assert_eq!(claims.amr, vec!["pwd".to_owned()]);
    // No alg none, no HMAC: the header's alg is the key's.
    let raw: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            body["id_token"]
                .as_str()
                .unwrap()
                .split('.')
                .next()
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(raw["alg"], "RS256");
}

#[tokio::test]
async fn oidcc_response_type_missing() {
    let app = oidc_app().await;
    let r = app
        .browser()
        .authorize(&oidc_request("c1").remove("response_type"))
        .await;
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    assert!(loc.starts_with(C1_REDIRECT), "{loc}");
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&loc, "state").as_deref(), Some("xyz"));
    assert!(param(&loc, "code").is_none());
}

#[tokio::test]
async fn oidcc_idtoken_signature() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    // RS256 without any client setting (OIDC Core §3.1.3.7), though access
    // tokens are ES256 here.
    id_token_of(&app, &body, "c1").await;
    let at = jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(at.alg, jsonwebtoken::Algorithm::ES256);
}

/// Tessera never issues unsigned ID tokens: `none` cannot be registered for
/// a client, is not advertised, and every ID token is signed.
#[tokio::test]
async fn oidcc_idtoken_unsigned() {
    let app = oidc_app().await;
    let mut spec = client("unsigned", Some(C1_SECRET), &[C1_REDIRECT], &[]);
    spec.id_token_signed_response_alg = Some("none".into());
    let refused = app.admin.register_client(&spec, false, T0).await;
    assert!(refused.is_err(), "alg none cannot be registered");
    let doc: Value = app
        .http()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs = doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(!algs.iter().any(|a| a == "none"));
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    let token = body["id_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
    assert!(!token.split('.').nth(2).unwrap().is_empty(), "signed");
}

#[tokio::test]
async fn oidcc_userinfo_get() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    let claims = id_token_of(&app, &body, "c1").await;
    let r = userinfo_get(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["sub"], claims.sub.as_str(), "same sub as the ID token");
    assert!(
        info.get("email").is_none(),
        "openid alone releases only sub"
    );
}

#[tokio::test]
async fn oidcc_userinfo_post_header() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    let r = app
        .http()
        .post(app.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.unwrap();
    assert!(info["sub"].is_string());
}

/// Form-body tokens are accepted at UserInfo's POST (docs/conformance.md
/// decisions), as RFC 6750 §2.2 describes.
#[tokio::test]
async fn oidcc_userinfo_post_body() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    let r = app
        .http()
        .post(app.url("/userinfo"))
        .form(&[("access_token", body["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: Value = r.json().await.unwrap();
    assert!(info["sub"].is_string());
}

#[tokio::test]
async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1").remove("nonce")).await;
    let claims = id_token_of(&app, &body, "c1").await;
    assert_eq!(claims.nonce, None, "no nonce invented");
    let payload = body["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let json: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert!(json.get("nonce").is_none());
}

async fn userinfo_with_scope(scope: &str) -> Value {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1").scope(scope)).await;
    let r = userinfo_get(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn oidcc_scope_profile() {
    let info = userinfo_with_scope("openid profile").await;
    assert_eq!(info["name"], "Alice Liddell");
    assert_eq!(info["given_name"], "Alice");
    assert_eq!(info["family_name"], "Liddell");
    assert_eq!(info["preferred_username"], "alice");
    assert!(info.get("email").is_none());
    assert!(info.get("middle_name").is_none(), "unset claims are absent");
}

#[tokio::test]
async fn oidcc_scope_email() {
    let info = userinfo_with_scope("openid email").await;
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["email_verified"], true);
    assert!(info.get("name").is_none());
}

#[tokio::test]
async fn oidcc_scope_address() {
    let info = userinfo_with_scope("openid address").await;
    assert_eq!(info["address"]["locality"], "Oxford");
    assert_eq!(info["address"]["country"], "GB");
    assert!(info.get("email").is_none());
}

#[tokio::test]
async fn oidcc_scope_phone() {
    let info = userinfo_with_scope("openid phone").await;
    assert_eq!(info["phone_number"], "+44 20 7946 0000");
    assert_eq!(info["phone_number_verified"], false);
    assert!(info.get("address").is_none());
}

#[tokio::test]
async fn oidcc_scope_all() {
    let info = userinfo_with_scope("openid profile email address phone").await;
    for claim in ["name", "email", "address", "phone_number", "sub"] {
        assert!(info.get(claim).is_some(), "{claim}");
    }
}

#[tokio::test]
async fn oidcc_alternate_happy_flow() {
    let app = oidc_app().await;
    let base = oidc_request("c1");
    let mut reordered = AuthRequest {
        params: Vec::new(),
        ..base.clone()
    };
    // Scope reversed, parameters in reverse order.
    for (k, v) in base.params.iter().rev() {
        reordered.params.push((k.clone(), v.clone()));
    }
    let reordered = reordered.scope("email profile openid");
    let body = oidc_tokens(&app, &app.browser(), reordered).await;
    let claims = id_token_of(&app, &body, "c1").await;
    assert_eq!(claims.nonce.as_deref(), Some(NONCE));
}

/// `display`, `ui_locales`, `claims_locales`, `acr_values`, unknown
/// parameters: accepted and ignored, the flow completes.
async fn completes_with(name: &str, value: &str) {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1").set(name, value)).await;
    let claims = id_token_of(&app, &body, "c1").await;
    assert_eq!(claims.nonce.as_deref(), Some(NONCE), "{name}");
}

#[tokio::test]
async fn oidcc_display_page() {
    completes_with("display", "page").await;
}

#[tokio::test]
async fn oidcc_display_popup() {
    completes_with("display", "popup").await;
}

#[tokio::test]
async fn oidcc_prompt_login() {
    let app = oidc_app().await;
    let browser = app.browser();
    let first = id_token_of(
        &app,
        &oidc_tokens(&app, &browser, oidc_request("c1")).await,
        "c1",
    )
    .await;
    app.clock.advance(5);
    let request = oidc_request("c1").set("prompt", "login");
    let r = browser.authorize(&request).await;
    assert!(location(&r).starts_with("/login"), "asked to log in again");
    let body = oidc_tokens(&app, &browser, request).await;
    let second = id_token_of(&app, &body, "c1").await;
    assert_eq!(second.sub, first.sub);
    assert_eq!(second.auth_time, first.auth_time + 5, "a new login");
}

#[tokio::test]
async fn oidcc_prompt_none_not_logged_in() {
    let app = oidc_app().await;
    let r = app
        .browser()
        .authorize(&oidc_request("c1").set("prompt", "none"))
        .await;
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    assert!(loc.starts_with(C1_REDIRECT), "{loc}");
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&loc, "state").as_deref(), Some("xyz"));
}

#[tokio::test]
async fn oidcc_prompt_none_logged_in() {
    let app = oidc_app().await;
    let browser = app.browser();
    let first = id_token_of(
        &app,
        &oidc_tokens(&app, &browser, oidc_request("c1")).await,
        "c1",
    )
    .await;
    app.clock.advance(60);
    let request = oidc_request("c1").set("prompt", "none");
    let loc = silent(&browser, &request).await;
    let r = app.redeem(&request.into_flow(&loc)).await;
    let second = id_token_of(&app, &r.json().await.unwrap(), "c1").await;
    assert_eq!(second.sub, first.sub);
    assert_eq!(second.auth_time, first.auth_time, "no new login");
}

#[tokio::test]
async fn oidcc_max_age_1() {
    let app = oidc_app().await;
    let browser = app.browser();
    let first = id_token_of(
        &app,
        &oidc_tokens(&app, &browser, oidc_request("c1")).await,
        "c1",
    )
    .await;
    app.clock.advance(2);
    let request = oidc_request("c1").set("max_age", "1");
    let r = browser.authorize(&request).await;
    assert!(location(&r).starts_with("/login"), "too old: log in again");
    let second = id_token_of(&app, &oidc_tokens(&app, &browser, request).await, "c1").await;
    assert_eq!(second.auth_time, first.auth_time + 2);
}

#[tokio::test]
async fn oidcc_max_age_10000() {
    let app = oidc_app().await;
    let browser = app.browser();
    let first = id_token_of(
        &app,
        &oidc_tokens(&app, &browser, oidc_request("c1").set("max_age", "15000")).await,
        "c1",
    )
    .await;
    app.clock.advance(100);
    let request = oidc_request("c1").set("max_age", "10000");
    let loc = silent(&browser, &request).await;
    let r = app.redeem(&request.into_flow(&loc)).await;
    let second = id_token_of(&app, &r.json().await.unwrap(), "c1").await;
    assert_eq!(second.auth_time, first.auth_time, "recent enough: no login");
    assert_eq!(second.sub, first.sub);
}

#[tokio::test]
async fn oidcc_ensure_request_with_unknown_parameter_succeeds() {
    completes_with("extra", "foobar").await;
}

#[tokio::test]
async fn oidcc_id_token_hint() {
    let app = oidc_app().await;
    let browser = app.browser();
    let body = oidc_tokens(&app, &browser, oidc_request("c1")).await;
    let hint = body["id_token"].as_str().unwrap().to_owned();
    let first = id_token_of(&app, &body, "c1").await;
    let request = oidc_request("c1")
        .set("prompt", "none")
        .set("id_token_hint", &hint);
    let loc = silent(&browser, &request).await;
    assert!(param(&loc, "code").is_some(), "{loc}");
    let second = id_token_of(
        &app,
        &app.redeem(&request.into_flow(&loc))
            .await
            .json()
            .await
            .unwrap(),
        "c1",
    )
    .await;
    assert_eq!(second.sub, first.sub);

    // A hint naming someone else: login_required.
    let bob_browser = app.browser();
    let bob_request = oidc_request("c1");
    bob_browser
        .authorize_through_consent(&bob_request, BOB, BOB_PASSWORD, None)
        .await;
    let loc = silent(
        &bob_browser,
        &oidc_request("c1")
            .set("prompt", "none")
            .set("id_token_hint", &hint),
    )
    .await;
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"));

    // A hint we did not sign: refused, never trusted.
    let mut parts: Vec<String> = hint.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let loc = silent(
        &browser,
        &oidc_request("c1")
            .set("prompt", "none")
            .set("id_token_hint", &parts.join(".")),
    )
    .await;
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
    assert!(param(&loc, "code").is_none());
}

#[tokio::test]
async fn oidcc_login_hint() {
    let app = oidc_app().await;
    let browser = app.browser();
    let r = browser
        .authorize(&oidc_request("c1").set("login_hint", "buffy@localhost"))
        .await;
    let form = browser.form_at(&location(&r)).await;
    assert_eq!(form.get("username"), Some("buffy@localhost"), "prefilled");
    // And the flow completes as usual.
    completes_with("login_hint", ALICE).await;
}

#[tokio::test]
async fn oidcc_ui_locales() {
    completes_with("ui_locales", "se").await;
}

#[tokio::test]
async fn oidcc_claims_locales() {
    completes_with("claims_locales", "se").await;
}

#[tokio::test]
async fn oidcc_ensure_request_with_acr_values_succeeds() {
    completes_with("acr_values", "1 2").await;
}

#[tokio::test]
async fn oidcc_codereuse() {
    let app = oidc_app().await;
    let request = oidc_request("c1");
    let location = app
        .browser()
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    let flow = request.into_flow(&location);
    assert_eq!(app.redeem(&flow).await.status(), 200);
    let r = app.redeem(&flow).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn oidcc_codereuse_30seconds() {
    let app = oidc_app().await;
    let request = oidc_request("c1");
    let location = app
        .browser()
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    let flow = request.into_flow(&location);
    let r = app.redeem(&flow).await;
    let body: Value = r.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(userinfo_get(&app, access).await.status(), 200);
    app.clock.advance(30);
    let r = app.redeem(&flow).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // The replay revoked the grant: the first access token no longer works.
    let r = userinfo_get(&app, access).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn oidcc_ensure_registered_redirect_uri() {
    let app = oidc_app().await;
    let r = app
        .browser()
        .authorize(&oidc_request("c1").set("redirect_uri", "https://evil.example/cb"))
        .await;
    assert_eq!(r.status(), 400, "an error page, never a redirect");
    assert!(r.headers().get("location").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("not registered"), "{html}");
}

#[tokio::test]
async fn oidcc_ensure_post_request_succeeds() {
    let app = oidc_app().await;
    let browser = app.browser();
    let request = oidc_request("c1");
    let r = browser
        .http
        .post(app.url("/authorize"))
        .form(&request.params)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let mut r = browser.login(&location(&r), ALICE, ALICE_PASSWORD).await;
    let mut loc = location(&r);
    if loc.starts_with("/consent") {
        let form = browser.form_at(&loc).await;
        r = browser.submit(&form, Some(("decision", "approve"))).await;
        loc = location(&r);
    }
    let body: Value = app
        .redeem(&request.into_flow(&loc))
        .await
        .json()
        .await
        .unwrap();
    let claims = id_token_of(&app, &body, "c1").await;
    assert_eq!(claims.nonce.as_deref(), Some(NONCE));
}

#[tokio::test]
async fn oidcc_server_client_secret_post() {
    let app = oidc_app().await;
    let request = oidc_request("c1");
    let location = app
        .browser()
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    let flow = request.into_flow(&location);
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &flow.code),
                ("redirect_uri", &flow.redirect_uri),
                ("code_verifier", &flow.verifier),
                ("client_id", "c1"),
                ("client_secret", C1_SECRET),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    id_token_of(&app, &body, "c1").await;
}

/// Request objects are not supported: `request_uri` is answered with
/// `request_uri_not_supported` at the redirect URI, and never fetched
/// (SSRF, docs/conformance.md item 98).
#[tokio::test]
async fn oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported() {
    let app = oidc_app().await;
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/request.jwt", trap.local_addr().unwrap());
    let r = app
        .browser()
        .authorize(&oidc_request("c1").set("request_uri", &uri))
        .await;
    let loc = location(&r);
    assert!(loc.starts_with(C1_REDIRECT), "{loc}");
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("request_uri_not_supported")
    );
    assert_eq!(param(&loc, "state").as_deref(), Some("xyz"));
    let fetched = tokio::time::timeout(std::time::Duration::from_millis(200), trap.accept()).await;
    assert!(fetched.is_err(), "the request_uri was never fetched");
}

const UNSIGNED_REQUEST_OBJECT: &str =
    "eyJhbGciOiJub25lIn0.eyJyZXNwb25zZV90eXBlIjoiY29kZSIsImNsaWVudF9pZCI6ImMxIn0.";

/// Request objects by value are not supported: `request_not_supported`.
#[tokio::test]
async fn oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported() {
    let app = oidc_app().await;
    let r = app
        .browser()
        .authorize(&oidc_request("c1").set("request", UNSIGNED_REQUEST_OBJECT))
        .await;
    let loc = location(&r);
    assert!(loc.starts_with(C1_REDIRECT), "{loc}");
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("request_not_supported")
    );
    assert!(param(&loc, "code").is_none());
}

/// The `claims` parameter is not supported (advertised as
/// `claims_parameter_supported: false`), so it is ignored: the flow
/// succeeds, and `name` comes with the profile scope as usual.
#[tokio::test]
async fn oidcc_claims_essential() {
    let app = oidc_app().await;
    let request = oidc_request("c1")
        .scope("openid profile")
        .set("claims", r#"{"userinfo":{"name":{"essential":true}}}"#);
    let body = oidc_tokens(&app, &app.browser(), request).await;
    let info: Value = userinfo_get(&app, body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "Alice Liddell");
}

/// With a request object (unsupported) and a registered redirect URI as a
/// parameter, the error goes to the parameter's (trusted) URI.
#[tokio::test]
async fn oidcc_ensure_request_object_with_redirect_uri() {
    let app = oidc_app().await;
    let r = app
        .browser()
        .authorize(
            &oidc_request("c1")
                .set("redirect_uri", "https://client.example/cb2")
                .set("request", UNSIGNED_REQUEST_OBJECT),
        )
        .await;
    let loc = location(&r);
    assert!(loc.starts_with("https://client.example/cb2?"), "{loc}");
    assert_eq!(
        param(&loc, "error").as_deref(),
        Some("request_not_supported")
    );
}

#[tokio::test]
async fn oidcc_refresh_token() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    let first = id_token_of(&app, &body, "c1").await;
    let refresh_token = body["refresh_token"].as_str().unwrap();
    app.clock.advance(120);
    // Bound to the client: c2 cannot use it.
    let r = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
            Some(("c2", C2_SECRET)),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let r = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
            Some(("c1", C1_SECRET)),
        )
        .await;
    assert_eq!(r.status(), 200);
    let refreshed: Value = r.json().await.unwrap();
    let second = id_token_of(&app, &refreshed, "c1").await;
    // OIDC Core §12.2: same sub and auth_time, no nonce.
    assert_eq!(second.sub, first.sub);
    assert_eq!(second.auth_time, first.auth_time);
    assert_eq!(second.nonce, None);
    assert_eq!(second.iat, T0 + 120);
    assert_ne!(refreshed["access_token"], body["access_token"]);
}

#[tokio::test]
async fn oidcc_ensure_request_with_valid_pkce_succeeds() {
    // Every request of these tests carries S256 PKCE; this one checks the
    // pair is what made the exchange succeed.
    let app = oidc_app().await;
    let request = oidc_request("c1");
    let location = app
        .browser()
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    let mut flow = request.into_flow(&location);
    let good = flow.verifier.clone();
    flow.verifier = new_verifier();
    assert_eq!(app.redeem(&flow).await.status(), 400, "wrong verifier");
    let request = oidc_request("c1");
    let location = app
        .browser()
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    let flow = request.into_flow(&location);
    assert_ne!(flow.verifier, good);
    let body: Value = app.redeem(&flow).await.json().await.unwrap();
    id_token_of(&app, &body, "c1").await;
}

// --- 2.2 Config OP ----------------------------------------------------------

#[tokio::test]
async fn oidcc_discovery_endpoint_verification() {
    let app = TestApp::builder()
        .issuer("https://as.example")
        .spawn()
        .await;
    let r = app
        .http()
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(
        doc["issuer"], "https://as.example",
        "CheckDiscEndpointIssuer"
    );
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let url = doc[endpoint]
            .as_str()
            .unwrap_or_else(|| panic!("{endpoint}"));
        assert!(
            url.starts_with("https://as.example/"),
            "{endpoint} is https"
        );
    }
    let has = |member: &str, value: &str| {
        doc[member]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == value))
    };
    assert!(has("scopes_supported", "openid"));
    assert!(has("response_types_supported", "code"));
    assert!(has("subject_types_supported", "public"));
    assert!(has("id_token_signing_alg_values_supported", "RS256"));
    assert_eq!(doc["claims_parameter_supported"], false);
    assert_eq!(doc["request_parameter_supported"], false);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    // ValidateServerJWKs: every published key is a public signing key with
    // kid and alg, and an RS256 key is among them.
    let jwks: Value = app.jwks().await;
    let keys = jwks["keys"].as_array().unwrap();
    assert!(
        keys.iter()
            .any(|k| k["alg"] == "RS256" && k["kty"] == "RSA")
    );
    for k in keys {
        assert!(k["kid"].is_string() && k["alg"].is_string());
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none());
    }
}
