//! The real authorization server (behind a layer that counts `/token` and
//! `/jwks.json` requests) and the real photo API behind the guard, both on loopback,
//! with the photo printer's client, the photo API's own client and alice
//! registered; [`ServersBuilder`] is the one way they start.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tessera_authorization_server::admin::{Admin, ClientSpec, ResourceSpec};
use tessera_authorization_server::clock::SystemClock;
use tessera_authorization_server::{AppState, ServerConfig};
use tessera_client::OAuthClient;
use tessera_core::jwt::SigningAlgorithm;
use tessera_core::redirect_uri::Mode;
use tessera_core::secrets::SecretString;
use tessera_core::user_claims::UserClaims;
use tessera_photo_api::{PhotoApi, PhotoStore};
use tessera_protected_resource::{Guard, GuardConfig};
use tessera_runtime::SystemRandomness;
use tessera_store::{Grant, SqliteStore, Store as _};
use tokio::sync::oneshot;

pub const PHOTOS: &str = "http://localhost:9002";
pub const CLIENT_ID: &str = "photo-printer";
pub const CLIENT_SECRET: &str = "printer-secret-0123456789-0123456789-xyz";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9000/callback";
/// The photo API's own client at the AS (it introspects tokens for
/// [`PHOTOS`]).
pub const API_CLIENT_ID: &str = "photo-api";
pub const API_SECRET: &str = "photo-api-secret-0123456789-0123456789-x";
pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "alice-password-1";
/// Alice's `name` claim (released with `profile`, at UserInfo).
pub const ALICE_NAME: &str = "Alice Liddell";

pub struct Servers {
    pub issuer: String,
    pub photos: String,
    /// The client's registered redirect URI.
    pub redirect_uri: String,
    /// How many requests reached the AS's `/token`.
    token_requests: Arc<AtomicUsize>,
    /// How many of them authenticated with HTTP Basic.
    basic_token_requests: Arc<AtomicUsize>,
    /// How many requests reached the AS's `/jwks.json`.
    jwks_requests: Arc<AtomicUsize>,
    /// The AS's state, for what an operator does to its keys.
    state: AppState,
    /// The AS's administration, for what an operator does behind the
    /// client's back.
    admin: Admin,
    /// The AS's own store, to see what stands there.
    store: Arc<SqliteStore>,
    /// The clock of the AS and the photo API.
    clock: Arc<dyn tessera_runtime::Clock>,
    /// Stops the AS (dropped with the servers).
    stop_as: Option<oneshot::Sender<()>>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// How the servers are built: [`Servers::builder`], the settings, then
/// [`ServersBuilder::start`].
pub struct ServersBuilder {
    redirect_uri: String,
    api_limits: tessera_serve::ConnectionLimits,
    clock: Arc<dyn tessera_runtime::Clock>,
    guard: Box<dyn FnOnce(&str) -> GuardConfig>,
    clients: Vec<ClientSpec>,
}

/// A confidential client with `secret`, no display name, PKCE required.
pub fn client_spec(
    id: &str,
    secret: &str,
    redirect: &[&str],
    scopes: &[&str],
    grants: &[&str],
) -> ClientSpec {
    ClientSpec {
        client_id: id.into(),
        client_secret: Some(SecretString::new(secret)),
        redirect_uris: redirect.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        grant_types: grants.iter().map(|s| s.to_string()).collect(),
        name: None,
        require_pkce: true,
        introspect: false,
        resource: None,
        access_token_format: None,
        id_token_signed_response_alg: None,
        post_logout_redirect_uris: Vec::new(),
    }
}

/// The servers with every default ([`Servers::builder`]).
pub async fn start() -> Servers {
    Servers::builder().start().await
}

impl ServersBuilder {
    /// The photo printer's registered redirect URI (default
    /// [`REDIRECT_URI`]).
    pub fn redirect_uri(mut self, redirect_uri: &str) -> Self {
        self.redirect_uri = redirect_uri.to_owned();
        self
    }

    /// The photo API's guard, given the AS's issuer.
    pub fn guard(mut self, guard: impl FnOnce(&str) -> GuardConfig + 'static) -> Self {
        self.guard = Box::new(guard);
        self
    }

    /// The clock of the AS and the photo API (default: the system's), e.g.
    /// a `ManualClock` to let access tokens expire without waiting.
    pub fn clock(mut self, clock: Arc<dyn tessera_runtime::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The photo API's connection limits (default: tessera-serve's).
    pub fn api_connection_limits(mut self, limits: tessera_serve::ConnectionLimits) -> Self {
        self.api_limits = limits;
        self
    }

    /// Registers another client at the AS.
    pub fn client(mut self, spec: ClientSpec) -> Self {
        self.clients.push(spec);
        self
    }

    /// Starts the AS and the photo API.
    pub async fn start(self) -> Servers {
        let as_dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::connect(&format!(
                "sqlite://{}",
                as_dir.path().join("as.db").display()
            ))
            .await
            .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let rng = Arc::new(SystemRandomness);
        let admin = Admin::new(store.clone(), rng.clone(), Mode::Development)
            .await
            .unwrap();
        let resource = ResourceSpec {
            identifier: PHOTOS.into(),
            name: None,
            scopes: vec!["photos:read".into(), "photos:write".into()],
        };
        admin.register_resource(&resource, 0).await.unwrap();
        let mut printer = client_spec(
            CLIENT_ID,
            CLIENT_SECRET,
            &[&self.redirect_uri],
            &["photos:read", "photos:write"],
            &["authorization_code", "refresh_token"],
        );
        printer.name = Some("Photo Printer".into());
        let mut api = client_spec(API_CLIENT_ID, API_SECRET, &[], &[], &["client_credentials"]);
        api.introspect = true;
        api.resource = Some(PHOTOS.into());
        for spec in [printer, api].iter().chain(&self.clients) {
            admin.register_client(spec, false, 0).await.unwrap();
        }
        let claims = UserClaims {
            name: Some(ALICE_NAME.into()),
            ..UserClaims::default()
        };
        admin
            .add_user_with_claims(ALICE, &SecretString::new(ALICE_PASSWORD), claims, 0)
            .await
            .unwrap();
        let config = ServerConfig::new(&issuer, PHOTOS).unwrap();
        let state = AppState::new(store.clone(), config, self.clock.clone(), rng)
            .await
            .unwrap();
        let as_state = state.clone();

        // The AS's own router, wrapped so the tests can see on the AS side
        // whether a token request arrived.
        let token_requests = Arc::new(AtomicUsize::new(0));
        let basic_token_requests = Arc::new(AtomicUsize::new(0));
        let jwks_requests = Arc::new(AtomicUsize::new(0));
        let (counter, basic, jwks) = (
            token_requests.clone(),
            basic_token_requests.clone(),
            jwks_requests.clone(),
        );
        let app = tessera_authorization_server::router(state).layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                if req.uri().path() == "/jwks.json" {
                    jwks.fetch_add(1, Ordering::SeqCst);
                }
                if req.uri().path() == "/token" {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let authorization = req.headers().get("authorization");
                    if authorization.is_some_and(|v| v.as_bytes().starts_with(b"Basic ")) {
                        basic.fetch_add(1, Ordering::SeqCst);
                    }
                }
                next.run(req)
            },
        ));
        // Served as `tessera_authorization_server::serve` does: through
        // tessera-serve (the peer's address, the connection limits), with a
        // graceful shutdown.
        let (stop_as, stopped) = oneshot::channel::<()>();
        let limits = as_state.config.connections;
        tokio::spawn(tessera_serve::serve(listener, app, limits, async {
            let _ = stopped.await;
        }));

        let api_dir = tempfile::tempdir().unwrap();
        let photo_store = PhotoStore::connect(&format!(
            "sqlite://{}",
            api_dir.path().join("photos.db").display()
        ))
        .await
        .unwrap();
        let guard = Guard::new((self.guard)(&issuer)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let photos = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let api_clock = self.clock.clone();
        let api_limits = self.api_limits;
        tokio::spawn(async move {
            tessera_photo_api::serve(
                listener,
                PhotoApi::new(photo_store, api_clock),
                &guard,
                api_limits,
                std::future::pending(),
            )
            .await
        });
        Servers {
            issuer,
            photos,
            redirect_uri: self.redirect_uri,
            token_requests,
            basic_token_requests,
            jwks_requests,
            state: as_state,
            admin,
            store,
            clock: self.clock,
            stop_as: Some(stop_as),
            _dirs: (as_dir, api_dir),
        }
    }
}

impl Servers {
    /// The photo printer registered for [`REDIRECT_URI`]; the photo API's
    /// guard introspects with no cache, so revoking an access token at the
    /// AS makes the next call a 401 `invalid_token` at once (no clock to
    /// wait for).
    pub fn builder() -> ServersBuilder {
        ServersBuilder {
            redirect_uri: REDIRECT_URI.to_owned(),
            api_limits: tessera_serve::ConnectionLimits::default(),
            clock: Arc::new(SystemClock),
            guard: Box::new(|issuer| {
                GuardConfig::introspection(issuer, PHOTOS, API_CLIENT_ID, API_SECRET)
                    .introspection_cache_max(Duration::ZERO)
            }),
            clients: Vec::new(),
        }
    }

    /// Stops the authorization server (the photo API keeps running).
    pub fn stop_authorization_server(&mut self) {
        if let Some(stop) = self.stop_as.take() {
            let _ = stop.send(());
        }
    }

    /// Changes alice's password at the AS, which ends every grant of hers:
    /// her access tokens turn inactive (the photo API answers 401
    /// `invalid_token`) and her refresh tokens `invalid_grant`.
    pub async fn end_alices_grants(&self) {
        let now = self.clock.now();
        let changed = self
            .admin
            .set_password(ALICE, &SecretString::new("alice-new-password-2"), now)
            .await
            .unwrap();
        assert!(changed);
    }

    /// Every grant at the AS, oldest first, read from its database: what
    /// users granted, and whether it still stands (`revoked_at`).
    pub async fn grants(&self) -> Vec<Grant> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT grant_id FROM grants ORDER BY created_at, grant_id")
                .fetch_all(self.store.pool())
                .await
                .unwrap();
        let mut grants = Vec::new();
        for id in ids {
            grants.push(self.store.grant(&id).await.unwrap().unwrap());
        }
        grants
    }

    pub fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }

    pub fn basic_token_requests(&self) -> usize {
        self.basic_token_requests.load(Ordering::SeqCst)
    }

    /// How many times the AS's key set was fetched.
    pub fn jwks_requests(&self) -> usize {
        self.jwks_requests.load(Ordering::SeqCst)
    }

    /// What an operator's `tessera keys rotate --id-token --now` does: a
    /// new RS256 ID-token key (the printer's algorithm) signs from now on,
    /// under a `kid` no client has seen. Returns the new `kid`.
    pub async fn rotate_id_token_key_now(&self) -> String {
        let now = self.clock.now();
        let info = self
            .state
            .keys
            .manager()
            .rotate_id_token_key(SigningAlgorithm::Rs256, true, now)
            .await
            .unwrap();
        self.state.keys.reload().await.unwrap();
        info.kid
    }

    pub async fn client(&self) -> OAuthClient {
        OAuthClient::discover(
            &self.issuer,
            CLIENT_ID,
            Some(CLIENT_SECRET),
            &self.redirect_uri,
        )
        .await
        .unwrap()
    }

    /// A back-channel request the test makes itself (to revoke behind the
    /// client's back).
    pub async fn revoke(&self, token: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/revoke", self.issuer))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}
