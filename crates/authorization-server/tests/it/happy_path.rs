//! The whole dance, for a confidential and for a public client.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use tessera_core::jwt::AccessTokenClaims;

use crate::harness::*;

async fn verify_access_token(app: &TestApp, token: &str) -> AccessTokenClaims {
    let jwks: JwkSet = app.jwks().await;
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, Algorithm::ES256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid published");
    let mut v = Validation::new(Algorithm::ES256);
    v.set_audience(&["https://photos.example"]);
    v.set_issuer(&[app.issuer()]);
    // The test clock is in the future of the wall clock; check exp by hand.
    v.validate_exp = false;
    jsonwebtoken::decode::<AccessTokenClaims>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v)
        .unwrap()
        .claims
}

#[tokio::test]
async fn confidential_client_full_dance() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let request = AuthRequest::new("c1").scope("b a");

    // Front channel: authorize → login → consent → back to the client.
    let r = browser.authorize(&request).await;
    assert_eq!(r.status(), 302);
    let login_url = location(&r);
    assert!(login_url.starts_with("/login?request="), "{login_url}");
    let login_page = browser.get(&login_url).await;
    assert_eq!(login_page.status(), 200);
    let html = login_page.text().await.unwrap();
    assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""));
    assert!(
        html.contains("Client c1"),
        "the client's registered name is shown"
    );

    let r = browser.login(&login_url, ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let consent_url = location(&r);
    assert!(
        consent_url.starts_with("/consent?request="),
        "{consent_url}"
    );
    let form = browser.form_at(&consent_url).await;
    assert_eq!(
        form.all("scope"),
        vec!["a", "b"],
        "each requested scope is a checked box"
    );
    let r = browser.submit(&form, Some(("decision", "approve"))).await;
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert!(back.starts_with(C1_REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&back, "iss").as_deref(), Some(app.issuer()));
    let flow = request.into_flow(&back);

    // Back channel: the code for tokens.
    let r = app.redeem(&flow).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["pragma"], "no-cache");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "a b");
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(refresh.len() >= 43);

    let claims = verify_access_token(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims.client_id, "c1");
    assert_eq!(claims.scope, "a b");
    assert_eq!(claims.iat, T0);
    assert_eq!(claims.exp, T0 + 600);
    let alice = app.store.user_by_username(ALICE).await.unwrap().unwrap();
    assert_eq!(claims.sub, alice.user_id);

    // Refresh: a new pair.
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            Some(("c1", C1_SECRET)),
        )
        .await;
    assert_eq!(r.status(), 200);
    let again: serde_json::Value = r.json().await.unwrap();
    assert_ne!(again["refresh_token"], body["refresh_token"]);
    assert_ne!(again["access_token"], body["access_token"]);
}

#[tokio::test]
async fn public_client_full_dance_with_pkce_only() {
    let app = TestApp::spawn().await;
    let flow = app.code_for("p1", "a b").await;
    let r = app.redeem(&flow).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "a b");
    let claims = verify_access_token(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims.client_id, "p1");
}

#[tokio::test]
async fn remembered_consent_skips_the_page_and_prompt_consent_forces_it() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let first = browser
        .authorize_through_consent(
            &AuthRequest::new("c1").scope("a b"),
            ALICE,
            ALICE_PASSWORD,
            None,
        )
        .await;
    assert!(first.starts_with(C1_REDIRECT));

    // Same browser, same client, a subset of the consented scopes: straight back.
    let r = browser.authorize(&AuthRequest::new("c1").scope("a")).await;
    assert_eq!(r.status(), 302);
    assert!(location(&r).starts_with(C1_REDIRECT), "{}", location(&r));

    // prompt=consent always shows the page (docs/conformance.md item 14).
    let r = browser
        .authorize(&AuthRequest::new("c1").scope("a").set("prompt", "consent"))
        .await;
    assert!(location(&r).starts_with("/consent?"), "{}", location(&r));

    // A scope never consented to shows the page again.
    let r = browser
        .authorize(&AuthRequest::new("c1").scope("a c"))
        .await;
    assert!(location(&r).starts_with("/consent?"), "{}", location(&r));

    // prompt=login forces a new login.
    let r = browser
        .authorize(&AuthRequest::new("c1").scope("a").set("prompt", "login"))
        .await;
    assert!(location(&r).starts_with("/login?"), "{}", location(&r));
}

#[tokio::test]
async fn partial_consent_grants_only_what_stays_checked() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let request = AuthRequest::new("c1").scope("a b c");
    let back = browser
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, Some(&["b"]))
        .await;
    let r = app.redeem(&request.into_flow(&back)).await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "b");

    // Only b is remembered: asking for a again shows the page.
    let r = browser.authorize(&AuthRequest::new("c1").scope("a")).await;
    assert!(location(&r).starts_with("/consent?"), "{}", location(&r));
}

#[tokio::test]
async fn health_and_jwks_are_served() {
    let app = TestApp::spawn().await;
    let r = app.http().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let jwks: serde_json::Value = app.jwks().await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["alg"], "ES256");
    assert!(
        key.get("d").is_none(),
        "no private key material is published"
    );
}

/// The user's latest consent decision wins: a scope refused on a
/// `prompt=consent` page is not granted again by the next ordinary request
/// (the page shows again), in either order of grant and refusal.
#[tokio::test]
async fn consent_the_latest_decision_wins_in_both_orders() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let both = AuthRequest::new("c1").scope("a b");

    // (A) both allowed; (B) on prompt=consent, b unchecked.
    let back = browser
        .authorize_through_consent(&both, ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(back.starts_with(C1_REDIRECT), "{back}");
    let again = AuthRequest::new("c1").scope("a b").set("prompt", "consent");
    let back = browser
        .authorize_through_consent(&again, ALICE, ALICE_PASSWORD, Some(&["a"]))
        .await;
    let r = app.redeem(&again.clone().into_flow(&back)).await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "a");
    // (C) the next ordinary request for both shows the page again; a alone
    // is still remembered.
    let r = browser.authorize(&both).await;
    assert!(location(&r).starts_with("/consent?"), "{}", location(&r));
    let r = browser.authorize(&AuthRequest::new("c1").scope("a")).await;
    assert!(location(&r).starts_with(C1_REDIRECT), "{}", location(&r));

    // The other order: after b is allowed again on the page, both are
    // remembered and the ordinary request needs no page.
    let back = browser
        .authorize_through_consent(&again, ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(back.starts_with(C1_REDIRECT), "{back}");
    let r = browser.authorize(&both).await;
    assert!(location(&r).starts_with(C1_REDIRECT), "{}", location(&r));
}
