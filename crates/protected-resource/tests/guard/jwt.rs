//! Local JWT verification (RFC 9068; docs/conformance.md items 96, 71, 72).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tessera_core::jwt::{AccessTokenClaims, SigningAlgorithm, SigningKey};
use tessera_protected_resource::{BearerToken, Guard, GuardError};

use crate::support::*;

#[tokio::test]
async fn a_good_token_passes_with_its_claims() {
    let f = JwtFixture::start().await;
    let a = f.get(&f.token(json!({}))).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.json(),
        json!({
            "sub": "alice",
            "client_id": "printer",
            "scopes": ["photos:read", "photos:write"],
            "exp": T0 + 600,
            "aud": [RESOURCE],
            "iss": f.mock.issuer(),
            "jti": "jti-1",
        })
    );
}

#[tokio::test]
async fn es256_eddsa_and_rs256_keys_all_verify() {
    let f = JwtFixture::start().await;
    let ed = TestKey::eddsa("ed");
    f.mock.publish(ed.jwk.clone());
    // RS256 keys as the authorization server makes them.
    tessera_core::jwt::install_crypto_provider();
    let (rsa, _) = SigningKey::generate("rsa".into(), SigningAlgorithm::Rs256).unwrap();
    f.mock.publish(rsa.public_jwk().clone());
    let rs_token = rsa
        .sign_access_token(&AccessTokenClaims {
            iss: f.mock.issuer().into(),
            sub: "bob".into(),
            aud: RESOURCE.into(),
            client_id: "printer".into(),
            scope: "photos:read".into(),
            iat: T0,
            exp: T0 + 600,
            jti: "j".into(),
            auth_time: Some(T0 - 5),
        })
        .unwrap();
    let ed_token = ed.sign(&claims(f.mock.issuer(), json!({})));
    for t in [f.token(json!({})), ed_token, rs_token] {
        assert_eq!(f.get(&t).await.status, 200);
    }
    assert_eq!(f.mock.jwks_hits(), 1, "one fetch brought all three keys");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let f = JwtFixture::start().await;
    let c = claims(f.mock.issuer(), json!({}));
    for header in [
        json!({"alg": "none", "typ": "at+jwt", "kid": "k1"}),
        json!({"alg": "None", "typ": "at+jwt", "kid": "k1"}),
        json!({"typ": "at+jwt", "kid": "k1"}),
    ] {
        for sig in ["", "AAAA"] {
            let t = raw_jwt(&header, &c, sig);
            f.get(&t).await.assert_invalid_token();
        }
    }
}

/// The classic confusion (Authlib CVE-2024-37568): HS256 with the
/// published public key as the HMAC secret, in every encoding an attacker
/// might guess the verifier uses.
#[tokio::test]
async fn hs256_keyed_with_the_public_key_is_refused() {
    let f = JwtFixture::start().await;
    tessera_core::jwt::install_crypto_provider();
    let (rsa, _) = SigningKey::generate("rsa".into(), SigningAlgorithm::Rs256).unwrap();
    f.mock.publish(rsa.public_jwk().clone());
    let rsa_n = URL_SAFE_NO_PAD
        .decode(rsa.public_jwk()["n"].as_str().unwrap())
        .unwrap();
    let c = claims(f.mock.issuer(), json!({}));
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("k1", f.key.public_bytes.clone()),
        ("k1", f.key.jwk.to_string().into_bytes()),
        ("k1", f.key.jwk["x"].as_str().unwrap().as_bytes().to_vec()),
        ("rsa", rsa_n),
        ("rsa", rsa.public_jwk().to_string().into_bytes()),
    ];
    for (kid, secret) in secrets {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut h = Header::new(alg);
            h.typ = Some("at+jwt".into());
            h.kid = Some(kid.into());
            let t = jsonwebtoken::encode(&h, &c, &EncodingKey::from_secret(&secret)).unwrap();
            let d = f.get(&t).await.assert_invalid_token();
            assert!(d.contains("algorithm"), "{kid} {alg:?}: {d}");
        }
    }
}

#[tokio::test]
async fn an_hmac_key_in_the_jwks_is_never_used() {
    let f = JwtFixture::start().await;
    let secret = b"a-shared-secret-that-must-not-count";
    f.mock.publish(json!({
        "kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret), "kid": "oct", "alg": "HS256",
    }));
    let mut h = Header::new(Algorithm::HS256);
    h.typ = Some("at+jwt".into());
    h.kid = Some("oct".into());
    let t = jsonwebtoken::encode(
        &h,
        &claims(f.mock.issuer(), json!({})),
        &EncodingKey::from_secret(secret),
    )
    .unwrap();
    let d = f.get(&t).await.assert_invalid_token();
    assert!(d.contains("unknown key"), "{d}");
}

#[tokio::test]
async fn the_algorithm_is_pinned_to_the_key() {
    let f = JwtFixture::start().await;
    let ed = TestKey::eddsa("ed");
    f.mock.publish(ed.jwk.clone());
    // Signed by the EdDSA key, but naming the ES256 key.
    let mut h = ed.header();
    h.kid = Some("k1".into());
    let t = ed.sign_with(&h, &claims(f.mock.issuer(), json!({})));
    let d = f.get(&t).await.assert_invalid_token();
    assert!(d.contains("algorithm"), "{d}");
    // Signed by the ES256 key, naming the EdDSA key.
    let mut h = f.key.header();
    h.kid = Some("ed".into());
    let t = f.key.sign_with(&h, &claims(f.mock.issuer(), json!({})));
    f.get(&t).await.assert_invalid_token();
    // Another ES256 key, unpublished, under the published kid.
    let impostor = TestKey::es256("k1");
    let t = impostor.sign(&claims(f.mock.issuer(), json!({})));
    let d = f.get(&t).await.assert_invalid_token();
    assert!(d.contains("signature"), "{d}");
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({"scope": "photos:read"}));
    let parts: Vec<&str> = t.split('.').collect();
    let mut c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    c["scope"] = "photos:read photos:write admin".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(c.to_string()),
        parts[2]
    );
    let d = send(&f.app, post_photos(&forged))
        .await
        .assert_invalid_token();
    assert!(d.contains("signature"), "{d}");
    // The header is signed too.
    let mut h: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    h["x"] = "y".into();
    let forged = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(h.to_string()),
        parts[1],
        parts[2]
    );
    f.get(&forged).await.assert_invalid_token();
    // A signature cut short, or none.
    let cut = &t[..t.len() - 4];
    f.get(cut).await.assert_invalid_token();
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    f.get(&unsigned).await.assert_invalid_token();
}

#[tokio::test]
async fn garbage_is_an_invalid_token() {
    let f = JwtFixture::start().await;
    for t in [
        "abc",
        "a.b.c",
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
    ] {
        f.get(t).await.assert_invalid_token();
    }
    let long = "a".repeat(tessera_protected_resource::MAX_TOKEN_LEN + 1);
    f.get(&long).await.assert_invalid_token();
}

#[tokio::test]
async fn expiry_with_leeway_edges() {
    let f = JwtFixture::start().await;
    // Default leeway 30 s: valid while now < exp + 30.
    let t = f.token(json!({"exp": T0 - 29}));
    assert_eq!(f.get(&t).await.status, 200);
    let t = f.token(json!({"exp": T0 - 30}));
    let d = f.get(&t).await.assert_invalid_token();
    assert!(d.contains("expired"), "{d}");
    // Time moves, nobody sleeps.
    let t = f.token(json!({"exp": T0 + 100}));
    f.clock.advance(129);
    assert_eq!(f.get(&t).await.status, 200);
    f.clock.advance(1);
    f.get(&t).await.assert_invalid_token();
    // No exp at all.
    let t = f.token(json!({"exp": null}));
    f.get(&t).await.assert_invalid_token();
}

#[tokio::test]
async fn not_before_with_leeway_edges() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({"nbf": T0 + 30}));
    assert_eq!(f.get(&t).await.status, 200);
    let t = f.token(json!({"nbf": T0 + 31}));
    let d = f.get(&t).await.assert_invalid_token();
    assert!(d.contains("not valid yet"), "{d}");
    f.clock.advance(1);
    assert_eq!(f.get(&t).await.status, 200);
}

#[tokio::test]
async fn the_leeway_is_configurable() {
    let f = JwtFixture::start_with(|c| c.leeway(std::time::Duration::ZERO)).await;
    let t = f.token(json!({"exp": T0 + 1}));
    assert_eq!(f.get(&t).await.status, 200);
    let t = f.token(json!({"exp": T0}));
    f.get(&t).await.assert_invalid_token();
    let t = f.token(json!({"nbf": T0 + 1}));
    f.get(&t).await.assert_invalid_token();
}

#[tokio::test]
async fn the_audience_must_name_this_resource() {
    let f = JwtFixture::start().await;
    for aud in [
        json!("https://other.example"),
        json!(["https://other.example"]),
        json!([]),
        json!(null),
        json!("https://photos.example/"),
    ] {
        let t = f.token(json!({"aud": aud}));
        let d = f.get(&t).await.assert_invalid_token();
        assert!(d.contains("not meant for this resource"), "{aud}: {d}");
    }
    let t = f.token(json!({"aud": ["https://other.example", RESOURCE]}));
    assert_eq!(f.get(&t).await.status, 200);
}

#[tokio::test]
async fn the_issuer_must_be_the_configured_one() {
    let f = JwtFixture::start().await;
    let other = format!("{}/", f.mock.issuer());
    for iss in [
        json!("https://evil.example"),
        json!(other),
        json!(null),
        json!(["x"]),
    ] {
        let t = f.token(json!({"iss": iss}));
        f.get(&t).await.assert_invalid_token();
    }
}

#[tokio::test]
async fn typ_must_be_at_jwt() {
    let f = JwtFixture::start().await;
    let c = claims(f.mock.issuer(), json!({}));
    for typ in [
        None,
        Some("JWT"),
        Some("jwt"),
        Some("id_token+jwt"),
        Some(""),
    ] {
        let mut h = f.key.header();
        h.typ = typ.map(str::to_owned);
        let d = f.get(&f.key.sign_with(&h, &c)).await.assert_invalid_token();
        assert!(d.contains("typ"), "{typ:?}: {d}");
    }
    for typ in ["application/at+jwt", "AT+JWT"] {
        let mut h = f.key.header();
        h.typ = Some(typ.into());
        assert_eq!(f.get(&f.key.sign_with(&h, &c)).await.status, 200, "{typ}");
    }
}

#[tokio::test]
async fn other_header_rules() {
    let f = JwtFixture::start().await;
    let c = claims(f.mock.issuer(), json!({}));
    let mut h = f.key.header();
    h.kid = None;
    let d = f.get(&f.key.sign_with(&h, &c)).await.assert_invalid_token();
    assert!(d.contains("names no signing key"), "{d}");
    let mut h = f.key.header();
    h.crit = Some(vec!["exp".into()]);
    f.get(&f.key.sign_with(&h, &c)).await.assert_invalid_token();
}

#[tokio::test]
async fn required_claims_must_be_present() {
    let f = JwtFixture::start().await;
    for missing in ["sub", "client_id", "jti", "iat"] {
        let t = f.token(json!({ missing: null }));
        let d = f.get(&t).await.assert_invalid_token();
        assert!(d.contains("required claim"), "{missing}: {d}");
    }
    // Wrong types are malformed claims, not a crash.
    let t = f.token(json!({"scope": ["photos:read"]}));
    f.get(&t).await.assert_invalid_token();
    let t = f.token(json!({"exp": "tomorrow"}));
    f.get(&t).await.assert_invalid_token();
}

#[tokio::test]
async fn a_missing_scope_is_403_naming_it() {
    let f = JwtFixture::start().await;
    let t = f.token(json!({"scope": "photos:read"}));
    assert_eq!(f.get(&t).await.status, 200);
    let a = send(&f.app, post_photos(&t)).await;
    let c = a.assert_error(403, "insufficient_scope");
    assert_eq!(c["scope"], "photos:write");
    assert_eq!(a.json()["scope"], "photos:write");
    let t = f.token(json!({"scope": null}));
    let c = f.get(&t).await.assert_error(403, "insufficient_scope");
    assert_eq!(c["scope"], "photos:read");
    // A scope is a whole word.
    let t = f.token(json!({"scope": "photos:reader photos"}));
    f.get(&t).await.assert_error(403, "insufficient_scope");
}

#[tokio::test]
async fn several_required_scopes_and_router_wide_layers() {
    let f = JwtFixture::start().await;
    let app = axum::Router::new()
        .route("/both", axum::routing::get(|| async { "ok" }))
        .layer(f.guard.require("photos:read photos:write"));
    let both = f.token(json!({}));
    let req = |t: &str| {
        axum::http::Request::get("/both")
            .header("authorization", format!("Bearer {t}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, req(&both)).await.status, 200);
    let one = f.token(json!({"scope": "photos:read"}));
    let c = send(&app, req(&one))
        .await
        .assert_error(403, "insufficient_scope");
    assert_eq!(c["scope"], "photos:read photos:write");
}

#[tokio::test]
async fn invalid_required_scopes_fail_closed() {
    let f = JwtFixture::start().await;
    assert!(f.guard.try_require("photos:\"read").is_err());
    assert!(f.guard.try_require("").is_err());
    let app = axum::Router::new()
        .route("/x", axum::routing::get(|| async { "ok" }))
        .layer(f.guard.require("bad\\scope"));
    let t = f.token(json!({}));
    let a = send(
        &app,
        axum::http::Request::get("/x")
            .header("authorization", format!("Bearer {t}"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 500);
}

#[tokio::test]
async fn claims_without_the_layer_fail_closed() {
    let app = axum::Router::new().route(
        "/x",
        axum::routing::get(|c: tessera_protected_resource::TokenClaims| async move { c.subject }),
    );
    let a = send(
        &app,
        axum::http::Request::get("/x")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 500);
}

#[tokio::test]
async fn verify_is_usable_without_axum() {
    let f = JwtFixture::start().await;
    let guard: &Guard = &f.guard;
    let t = BearerToken::parse(&f.token(json!({}))).unwrap();
    let c = guard.verify(&t).await.unwrap();
    assert_eq!(c.subject, "alice");
    assert!(c.has_scope("photos:write"));
    let t = BearerToken::parse(&f.token(json!({"aud": "x"}))).unwrap();
    assert!(matches!(
        guard.verify(&t).await,
        Err(GuardError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn an_outer_layer_verifies_once_and_only_for_its_own_guard() {
    let f = JwtFixture::start().await;
    // The same guard outside and inside: the inner layer reuses the verdict
    // and checks its scope.
    let app = axum::Router::new()
        .route(
            "/x",
            axum::routing::post(axum::handler::Handler::layer(
                |c: tessera_protected_resource::TokenClaims| async move { c.subject },
                f.guard.require("photos:write"),
            )),
        )
        .layer(f.guard.layer());
    let req = |t: &str| {
        axum::http::Request::post("/x")
            .header("authorization", format!("Bearer {t}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, req(&f.token(json!({})))).await.status, 200);
    let reader = f.token(json!({"scope": "photos:read"}));
    send(&app, req(&reader))
        .await
        .assert_error(403, "insufficient_scope");

    // A guard for another resource inside: it verifies on its own, and the
    // token is not for it.
    let other = Guard::new(
        tessera_protected_resource::GuardConfig::jwt(f.mock.issuer(), "https://other.example")
            .jwks_uri(&f.mock.url("/jwks.json"))
            .clock(std::sync::Arc::new(f.clock.clone())),
    )
    .unwrap();
    let app = axum::Router::new()
        .route(
            "/y",
            axum::routing::get(|| async { "ok" }).layer(other.layer()),
        )
        .layer(f.guard.layer());
    let a = send(
        &app,
        axum::http::Request::get("/y")
            .header("authorization", format!("Bearer {}", f.token(json!({}))))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    let d = a.assert_invalid_token();
    assert!(d.contains("not meant for this resource"), "{d}");
}
