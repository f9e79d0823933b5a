//! The guard in front of a real Tessera authorization server from this
//! workspace, started in process on a loopback port: tokens from its token
//! endpoint, keys from its JWKS (found through its metadata), answers from
//! its introspection endpoint, revocation at its revocation endpoint.
// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use tessera_authorization_server::admin::{Admin, ClientSpec, ResourceSpec};
use tessera_authorization_server::{AppState, ServerConfig};
use tessera_core::redirect_uri::Mode;
use tessera_core::secrets::SecretString;
use tessera_protected_resource::{Guard, GuardConfig, ManualClock, TokenClaims};
use tessera_runtime::SystemRandomness;
use tessera_store::SqliteStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const RESOURCE: &str = "https://photos.example";
const T0: i64 = 1_800_000_000;
const PRINTER_SECRET: &str = "printer-secret-0123456789-0123456789-ab";
const READER_SECRET: &str = "reader-secret-0123456789-0123456789-abc";
const OPAQUE_SECRET: &str = "opaque-secret-0123456789-0123456789-abc";
const API_SECRET: &str = "photo-api-secret-0123456789-0123456789";

/// A running authorization server.
struct AuthorizationServer {
    base: String,
    /// The server's clock: it stamps `iat`/`exp` from it.
    clock: tessera_authorization_server::clock::ManualClock,
    http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl AuthorizationServer {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
        let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        // Tokens without a `resource` parameter are for this resource.
        let config = ServerConfig::new(&base, RESOURCE).unwrap();
        let clock = tessera_authorization_server::clock::ManualClock::new(T0);
        let rng = Arc::new(SystemRandomness);
        let admin = Admin::new(store.clone(), rng.clone(), Mode::Development)
            .await
            .unwrap();
        admin
            .register_resource(
                &ResourceSpec {
                    identifier: RESOURCE.into(),
                    name: Some("Photos".into()),
                    scopes: vec!["photos:read".into(), "photos:write".into()],
                },
                T0,
            )
            .await
            .unwrap();
        let machine = |id: &str, secret: &str, scopes: &[&str]| ClientSpec {
            client_id: id.into(),
            client_secret: Some(SecretString::new(secret)),
            redirect_uris: vec![],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            grant_types: vec!["client_credentials".into()],
            name: None,
            require_pkce: true,
            introspect: false,
            resource: None,
            access_token_format: None,
            id_token_signed_response_alg: None,
            post_logout_redirect_uris: Vec::new(),
        };
        let both = ["photos:read", "photos:write"];
        let mut opaque = machine("printer-opaque", OPAQUE_SECRET, &both);
        opaque.access_token_format = Some("opaque".into());
        // The photo API itself: it may introspect tokens for its resource.
        let mut api = machine("photo-api", API_SECRET, &[]);
        api.introspect = true;
        api.resource = Some(RESOURCE.into());
        for spec in [
            machine("printer", PRINTER_SECRET, &both),
            machine("reader", READER_SECRET, &["photos:read"]),
            opaque,
            api,
        ] {
            admin.register_client(&spec, false, T0).await.unwrap();
        }
        let state = AppState::new(store, config, Arc::new(clock.clone()), rng)
            .await
            .unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = tessera_authorization_server::serve(listener, state, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            base,
            clock,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        }
    }

    /// An access token from the client credentials grant.
    async fn token(&self, client_id: &str, secret: &str) -> String {
        let r = self
            .http
            .post(format!("{}/token", self.base))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Revokes `token` as the client it was issued to (RFC 7009).
    async fn revoke(&self, client_id: &str, secret: &str, token: &str) {
        let r = self
            .http
            .post(format!("{}/revoke", self.base))
            .basic_auth(client_id, Some(secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// Shuts the server down and waits until its port is closed.
    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }

    fn jwt_guard(&self, clock: &ManualClock) -> Guard {
        Guard::new(GuardConfig::jwt(&self.base, RESOURCE).clock(Arc::new(clock.clone()))).unwrap()
    }

    fn introspection_guard(
        &self,
        clock: &ManualClock,
        configure: impl FnOnce(GuardConfig) -> GuardConfig,
    ) -> Guard {
        Guard::new(configure(
            GuardConfig::introspection(&self.base, RESOURCE, "photo-api", API_SECRET)
                .clock(Arc::new(clock.clone())),
        ))
        .unwrap()
    }
}

/// The photo API's shape: reading needs `photos:read`, writing `photos:write`.
fn photo_api(guard: &Guard) -> Router {
    use axum::handler::Handler as _;
    use axum::routing::get;
    async fn who(c: TokenClaims) -> String {
        format!("{} via {} [{}]", c.subject, c.client_id, c.scopes.join(" "))
    }
    Router::new().route(
        "/photos",
        get(who.layer(guard.require("photos:read"))).post(who.layer(guard.require("photos:write"))),
    )
}

struct Answer {
    status: u16,
    www_authenticate: String,
    body: String,
}

async fn call(app: &Router, method: &str, token: &str) -> Answer {
    let req = Request::builder()
        .method(method)
        .uri("/photos")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let r = tower::Service::call(&mut app.clone(), req).await.unwrap();
    let status = r.status().as_u16();
    let www_authenticate = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        www_authenticate,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

#[tokio::test]
async fn tokens_from_the_as_pass_in_jwt_mode() {
    let as_ = AuthorizationServer::start().await;
    let clock = ManualClock::new(T0);
    let app = photo_api(&as_.jwt_guard(&clock));

    let printer = as_.token("printer", PRINTER_SECRET).await;
    let a = call(&app, "GET", &printer).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (200, "printer via printer [photos:read photos:write]")
    );
    assert_eq!(call(&app, "POST", &printer).await.status, 200);

    let reader = as_.token("reader", READER_SECRET).await;
    assert_eq!(call(&app, "GET", &reader).await.status, 200);
    let a = call(&app, "POST", &reader).await;
    assert_eq!(a.status, 403);
    assert!(
        a.www_authenticate.contains(r#"error="insufficient_scope""#),
        "{}",
        a.www_authenticate
    );
    assert!(
        a.www_authenticate.contains(r#"scope="photos:write""#),
        "{}",
        a.www_authenticate
    );

    // An opaque token is not a JWT: this mode cannot take it.
    let opaque = as_.token("printer-opaque", OPAQUE_SECRET).await;
    let a = call(&app, "GET", &opaque).await;
    assert_eq!(a.status, 401);
    assert!(a.www_authenticate.contains(r#"error="invalid_token""#));

    // The AS's tokens live 600 s; with 30 s of leeway they are refused at 630.
    clock.advance(629);
    assert_eq!(call(&app, "GET", &printer).await.status, 200);
    clock.advance(1);
    let a = call(&app, "GET", &printer).await;
    assert_eq!(a.status, 401);
    assert!(
        a.www_authenticate.contains("expired"),
        "{}",
        a.www_authenticate
    );
}

#[tokio::test]
async fn tokens_from_the_as_pass_in_introspection_mode() {
    let as_ = AuthorizationServer::start().await;
    let clock = ManualClock::new(T0);
    let app = photo_api(&as_.introspection_guard(&clock, |c| c));

    let printer = as_.token("printer", PRINTER_SECRET).await;
    let a = call(&app, "GET", &printer).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (200, "printer via printer [photos:read photos:write]")
    );
    assert_eq!(call(&app, "POST", &printer).await.status, 200);

    let opaque = as_.token("printer-opaque", OPAQUE_SECRET).await;
    assert_eq!(call(&app, "GET", &opaque).await.status, 200);

    let reader = as_.token("reader", READER_SECRET).await;
    assert_eq!(call(&app, "GET", &reader).await.status, 200);
    let a = call(&app, "POST", &reader).await;
    assert_eq!(a.status, 403);
    assert!(
        a.www_authenticate.contains(r#"scope="photos:write""#),
        "{}",
        a.www_authenticate
    );

    let a = call(&app, "GET", "not-a-token-the-as-issued").await;
    assert_eq!(a.status, 401);
    assert!(a.www_authenticate.contains(r#"error="invalid_token""#));
}

#[tokio::test]
async fn a_revoked_token_is_refused_in_introspection_mode() {
    let as_ = AuthorizationServer::start().await;
    let clock = ManualClock::new(T0);
    // Without a cache, revocation shows at once.
    let uncached = photo_api(&as_.introspection_guard(&clock, |c| {
        c.introspection_cache_max(std::time::Duration::ZERO)
    }));
    // With the default cache, within 30 s.
    let cached = photo_api(&as_.introspection_guard(&clock, |c| c));

    for client in [
        ("printer", PRINTER_SECRET),
        ("printer-opaque", OPAQUE_SECRET),
    ] {
        let t = as_.token(client.0, client.1).await;
        assert_eq!(call(&uncached, "GET", &t).await.status, 200);
        assert_eq!(call(&cached, "GET", &t).await.status, 200);

        as_.revoke(client.0, client.1, &t).await;
        let a = call(&uncached, "GET", &t).await;
        assert_eq!(a.status, 401, "{client:?}");
        assert!(
            a.www_authenticate.contains("not active"),
            "{}",
            a.www_authenticate
        );

        assert_eq!(call(&cached, "GET", &t).await.status, 200, "still cached");
        clock.advance(30);
        assert_eq!(call(&cached, "GET", &t).await.status, 401, "{client:?}");
        as_.clock.advance(30);
    }
}

#[tokio::test]
async fn the_as_down_is_503_in_both_modes() {
    let mut as_ = AuthorizationServer::start().await;
    let clock = ManualClock::new(T0);
    let printer = as_.token("printer", PRINTER_SECRET).await;
    let opaque = as_.token("printer-opaque", OPAQUE_SECRET).await;
    // A JWT guard that fetched the keys while the AS was up keeps verifying.
    let warm = as_.jwt_guard(&clock);
    warm.warm_up().await.unwrap();
    let warm = photo_api(&warm);
    let cold_jwt = photo_api(&as_.jwt_guard(&clock));
    let introspection = photo_api(&as_.introspection_guard(&clock, |c| c));

    as_.stop().await;

    let a = call(&cold_jwt, "GET", &printer).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(!a.body.contains(&printer));
    for t in [&printer, &opaque] {
        let a = call(&introspection, "GET", t).await;
        assert_eq!(a.status, 503, "{}", a.body);
    }
    assert_eq!(call(&warm, "GET", &printer).await.status, 200);
}
