//! Validations per second: a JWT verified with a cached key, and a token
//! answered from the introspection cache. The keys and the introspection
//! answer are served once by a small loopback server; after that no
//! request leaves the process.
//!
//! `cargo bench -p tessera-protected-resource --bench validation`

use std::error::Error;
use std::sync::Arc;

use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use axum::Router;
use axum::body::Body;
use axum::handler::Handler as _;
use axum::http::Request;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, Throughput};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tessera_protected_resource::{BearerToken, Guard, GuardConfig, ManualClock, TokenClaims};

const RESOURCE: &str = "https://photos.example";
const T0: i64 = 1_800_000_000;

fn main() {
    if let Err(e) = run() {
        eprintln!("benchmark setup failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (jwt_guard, introspection_guard, token) = rt.block_on(setup())?;
    let token = BearerToken::parse(&token)?;
    let opaque = BearerToken::parse("opaque-token-for-the-benchmark-0123456789")?;
    // Warm both caches, and make sure what is measured is a success.
    rt.block_on(async {
        jwt_guard.verify(&token).await?;
        introspection_guard.verify(&opaque).await
    })?;

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("validation");
    group.throughput(Throughput::Elements(1));
    group.bench_function("jwt_es256_cached_key", |b| {
        b.to_async(&rt)
            .iter(|| async { std::hint::black_box(jwt_guard.verify(&token).await.is_ok()) })
    });
    group.bench_function("introspection_cache_hit", |b| {
        b.to_async(&rt).iter(|| async {
            std::hint::black_box(introspection_guard.verify(&opaque).await.is_ok())
        })
    });
    // The whole layer in process: header parsing, verification, scope check,
    // the handler's extractor.
    let app = Router::new().route(
        "/photos",
        get((|c: TokenClaims| async move { c.subject }).layer(jwt_guard.require("photos:read"))),
    );
    let header = format!("Bearer {}", token.expose());
    group.bench_function("jwt_guarded_request", |b| {
        b.to_async(&rt).iter(|| {
            let mut app = app.clone();
            let req = Request::get("/photos")
                .header("authorization", header.as_str())
                .body(Body::empty());
            async move {
                match req {
                    Ok(req) => {
                        let r = tower::Service::call(&mut app, req).await;
                        std::hint::black_box(r.map(|r| r.status().as_u16()).ok())
                    }
                    Err(_) => None,
                }
            }
        })
    });
    group.finish();
    c.final_summary();
    Ok(())
}

/// A loopback server with a JWKS and an introspection endpoint, and a
/// guard of each mode pointed at it.
async fn setup() -> Result<(Guard, Guard, String), Box<dyn Error>> {
    let pkcs8 = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
        .and_then(|k| k.to_pkcs8v1())
        .map_err(|_| "key generation failed")?;
    let der = pkcs8.as_ref().to_vec();
    let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der)
        .map_err(|_| "key parsing failed")?;
    let point = pair.public_key().as_ref().to_vec();
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(point.get(1..33).ok_or("short point")?),
        "y": URL_SAFE_NO_PAD.encode(point.get(33..65).ok_or("short point")?),
        "kid": "k1", "alg": "ES256", "use": "sig",
    });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let issuer = base.clone();
    let answer = json!({
        "active": true, "iss": issuer, "sub": "alice", "aud": RESOURCE,
        "client_id": "printer", "scope": "photos:read photos:write",
        "exp": T0 + 600, "iat": T0, "token_type": "Bearer",
    });
    let keys = json!({ "keys": [jwk] });
    let mock = Router::new()
        .route("/jwks.json", get(move || async move { axum::Json(keys) }))
        .route(
            "/introspect",
            post(move || async move { axum::Json(answer) }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, mock).await;
    });

    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    let claims = json!({
        "iss": base, "sub": "alice", "aud": RESOURCE, "client_id": "printer",
        "scope": "photos:read photos:write", "iat": T0, "exp": T0 + 600, "jti": "j1",
    });
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&der))?;

    // The clock stands still: nothing expires while criterion measures.
    let clock = Arc::new(ManualClock::new(T0));
    let jwt = Guard::new(
        GuardConfig::jwt(&base, RESOURCE)
            .jwks_uri(&format!("{base}/jwks.json"))
            .clock(clock.clone()),
    )?;
    let introspection = Guard::new(
        GuardConfig::introspection(&base, RESOURCE, "photo-api", "bench-secret")
            .introspection_endpoint(&format!("{base}/introspect"))
            .clock(clock),
    )?;
    Ok((jwt, introspection, token))
}
