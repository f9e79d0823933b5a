//! Discovery refuses metadata it must not use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Json;
use axum::routing::get;
use tessera_client::{Error, OAuthClient};

/// Serves `metadata` (with `{base}` replaced by the server's own address)
/// at the well-known location; returns the base URL.
async fn serve_metadata(metadata: serde_json::Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let text = metadata.to_string().replace("{base}", &base);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let app = axum::Router::new().route(
        "/.well-known/oauth-authorization-server",
        get(move || async move { Json(doc) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn doc(issuer: &str, token_endpoint: &str, methods: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": "{base}/authorize",
        "token_endpoint": token_endpoint,
        "code_challenge_methods_supported": methods,
        "authorization_response_iss_parameter_supported": true,
    })
}

async fn discover(base: &str) -> Result<OAuthClient, Error> {
    OAuthClient::discover(base, "c", Some("s"), "http://127.0.0.1/cb").await
}

#[tokio::test]
async fn good_metadata_is_accepted() {
    let base = serve_metadata(doc("{base}", "{base}/token", &["S256"])).await;
    discover(&base).await.unwrap();
}

#[tokio::test]
async fn metadata_naming_another_issuer_is_refused() {
    let base = serve_metadata(doc("https://as.example", "{base}/token", &["S256"])).await;
    let r = discover(&base).await;
    assert!(matches!(r, Err(Error::IssuerMismatch { .. })), "{r:?}");
    let base = serve_metadata(doc("{base}/", "{base}/token", &["S256"])).await;
    let r = discover(&base).await;
    assert!(
        matches!(r, Err(Error::IssuerMismatch { .. })),
        "trailing slash: {r:?}"
    );
}

#[tokio::test]
async fn plain_http_endpoints_off_loopback_are_refused() {
    let base = serve_metadata(doc("{base}", "http://as.example/token", &["S256"])).await;
    let r = discover(&base).await;
    assert!(matches!(r, Err(Error::InsecureEndpoint(_))), "{r:?}");
}

#[tokio::test]
async fn a_server_without_s256_is_refused() {
    let base = serve_metadata(doc("{base}", "{base}/token", &["plain"])).await;
    let r = discover(&base).await;
    assert!(matches!(r, Err(Error::NoS256)), "{r:?}");
}
