//! The client credentials grant (RFC 6749 §4.4; docs/conformance.md item 26
//! for clients not registered for it).
//!
//! Fixture: `svc` is confidential, registered for `client_credentials` only,
//! with scopes `a b`.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tessera_authorization_server::admin::AdminError;
use tessera_core::client::ClientRegistrationError;

use crate::harness::*;

/// Verifies a JWT access token against the published keys and returns its
/// claims.
async fn verified_claims(app: &TestApp, token: &str) -> Value {
    let jwks: JwkSet = app.jwks().await;
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("kid published");
    let mut v = Validation::new(header.alg);
    assert_ne!(header.alg, Algorithm::HS256);
    v.set_issuer(&[app.issuer()]);
    v.validate_aud = false;
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v)
        .expect("verifies with the published key")
        .claims
}

#[tokio::test]
async fn client_credentials_issues_an_access_token_and_no_refresh_token() {
    let app = TestApp::spawn().await;
    for auth in [
        ClientAuth::Basic("svc", SVC_SECRET),
        ClientAuth::Post("svc", SVC_SECRET),
    ] {
        let body = expect_token_response(
            app.token_with(&[("grant_type", "client_credentials")], auth)
                .await,
        )
        .await;
        assert!(
            body.get("refresh_token").is_none(),
            "{auth:?}: no refresh token (RFC 6749 §4.4.3): {body}"
        );
        assert_eq!(body["expires_in"], ACCESS_TOKEN_TTL, "{body}");
        // Without a scope: everything the client may have.
        assert_eq!(body["scope"], "a b", "{body}");
        let at = access_token(&body);

        // The subject is the client itself, in the token ...
        let claims = verified_claims(&app, &at).await;
        assert_eq!(claims["sub"], "svc", "{claims}");
        assert_eq!(claims["client_id"], "svc", "{claims}");
        assert_eq!(claims["scope"], "a b", "{claims}");
        assert_eq!(claims["aud"], PHOTOS, "{claims}");
        assert_eq!(claims["iat"], T0, "{claims}");
        assert_eq!(claims["exp"], T0 + ACCESS_TOKEN_TTL, "{claims}");
        assert!(
            claims.get("auth_time").is_none(),
            "no user, no auth_time: {claims}"
        );
        // ... and at introspection.
        let v = app.assert_active("rs1", &at, "client credentials AT").await;
        assert_eq!(v["sub"], "svc", "{v}");
        assert_eq!(v["client_id"], "svc", "{v}");
        assert_eq!(v["scope"], "a b", "{v}");
    }
}

#[tokio::test]
async fn client_credentials_scope_is_limited_to_the_clients_scopes() {
    let app = TestApp::spawn().await;
    for (asked, granted) in [("a", "a"), ("b", "b"), ("b a", "a b"), ("a b", "a b")] {
        let body =
            expect_token_response(app.client_credentials("svc", &[("scope", asked)]).await).await;
        assert_eq!(body["scope"], granted, "asked {asked}: {body}");
        let v = app.assert_active("rs1", &access_token(&body), asked).await;
        assert_eq!(v["scope"], granted, "asked {asked}: {v}");
    }
    // c is registered (c1 may have it) but not for svc; z exists nowhere.
    for asked in ["c", "a c", "z", "a b c", "openid"] {
        expect_oauth_error(
            app.client_credentials("svc", &[("scope", asked)]).await,
            400,
            "invalid_scope",
            &[SVC_SECRET],
        )
        .await;
    }
}

#[tokio::test]
async fn client_credentials_only_for_clients_registered_for_it() {
    let app = TestApp::spawn().await;
    // c1 and c2 are registered for the code and refresh grants only.
    for client_id in ["c1", "c2"] {
        expect_oauth_error(
            app.client_credentials(client_id, &[]).await,
            400,
            "unauthorized_client",
            &[C1_SECRET, C2_SECRET],
        )
        .await;
        expect_oauth_error(
            app.client_credentials(client_id, &[("scope", "a")]).await,
            400,
            "unauthorized_client",
            &[],
        )
        .await;
    }
    // A public client cannot use it (nor authenticate for it).
    let r = Reply::read(app.client_credentials("p1", &[]).await).await;
    assert!(
        matches!(r.status, 400 | 401),
        "public client: {} {}",
        r.status,
        r.text
    );
    let error = r.json()["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        ["unauthorized_client", "invalid_client"].contains(&error.as_str()),
        "{}",
        r.text
    );
    assert!(!r.text.contains("access_token"));

    // ... and cannot even be registered with it.
    let mut spec = client("pub-cc", None, &[], &["a"]);
    spec.grant_types = vec!["client_credentials".into()];
    let e = app
        .admin
        .register_client(&spec, false, T0)
        .await
        .expect_err("a public client with client_credentials");
    assert!(
        matches!(
            e,
            AdminError::Client {
                source: ClientRegistrationError::PublicClientCredentials,
                ..
            }
        ),
        "{e}"
    );
    assert!(app.store.client("pub-cc").await.unwrap().is_none());

    // svc, for its part, has no other grant.
    expect_oauth_error(
        app.token_with(
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
            auth_of("svc"),
        )
        .await,
        400,
        "unauthorized_client",
        &[],
    )
    .await;
    expect_oauth_error(
        app.token_with(
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("redirect_uri", C1_REDIRECT),
                ("code_verifier", &new_verifier()),
            ],
            auth_of("svc"),
        )
        .await,
        400,
        "unauthorized_client",
        &[],
    )
    .await;
}

#[tokio::test]
async fn client_credentials_requires_client_authentication() {
    let app = TestApp::spawn().await;
    let wrong = "wrong-secret-0123456789-0123456789";
    for (auth, challenge) in [
        (ClientAuth::Nothing, false),
        (ClientAuth::Public("svc"), false),
        (ClientAuth::Post("svc", wrong), false),
        (ClientAuth::Basic("svc", wrong), true),
        (ClientAuth::Basic("svc", C1_SECRET), true),
    ] {
        let a = expect_oauth_error(
            app.token_with(&[("grant_type", "client_credentials")], auth)
                .await,
            401,
            "invalid_client",
            &[wrong],
        )
        .await;
        assert_eq!(
            a.header("www-authenticate").is_some(),
            challenge,
            "{auth:?}"
        );
    }
}

#[tokio::test]
async fn client_credentials_tokens_are_distinct_and_independent() {
    let app = TestApp::spawn().await;
    let one = access_token(&expect_token_response(app.client_credentials("svc", &[]).await).await);
    let two = access_token(&expect_token_response(app.client_credentials("svc", &[]).await).await);
    assert_ne!(one, two);
    assert_ne!(jwt_claims(&one)["jti"], jwt_claims(&two)["jti"]);
    app.revoke_ok(&one, None, auth_of("svc")).await;
    app.assert_inactive("rs1", &one, "revoked").await;
    app.assert_active("rs1", &two, "the other").await;
    app.clock.advance(ACCESS_TOKEN_TTL);
    app.assert_inactive("rs1", &two, "expired").await;
}
