//! `TestApp`: the real server on an ephemeral loopback port, over a fresh
//! store with the standard fixture, on a manual clock; and
//! `TestAppBuilder`, the one way a test server starts.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::redirect::Policy;
use tessera_authorization_server::admin::Admin;
use tessera_authorization_server::clock::ManualClock;
use tessera_authorization_server::{AppState, ServerConfig};
use tessera_core::redirect_uri::Mode;
use tessera_runtime::SystemRandomness;
use tessera_store::Store;
use tokio::sync::oneshot;

use super::backend::{Backend, DropSchema};
use super::faulty_store::FaultyStore;
use super::fixtures::{PHOTOS, T0, TEST_KEY_ENCRYPTION_KEY};
use super::logs::init_log_capture;
use tessera_store::Gated;

pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub state: AppState,
    pub clock: ManualClock,
    /// The real store (inside any test wrapper such as the [`FaultyStore`]).
    pub store: Arc<dyn Store>,
    pub admin: Admin,
    pub backend: Backend,
    /// The store wrapper of a server built with [`TestAppBuilder::faulty`].
    faults: Option<Arc<FaultyStore>>,
    pub(super) dir: tempfile::TempDir,
    pub(super) schema: Option<DropSchema>,
    _shutdown: oneshot::Sender<()>,
}

/// What the server's issuer is.
enum Issuer {
    /// Its own loopback address (development mode).
    Loopback,
    /// A fixed URL; an https issuer puts the server in production mode, as
    /// behind a TLS-terminating proxy.
    Fixed(String),
    /// `{loopback}{path}`: every endpoint under `path`, the metadata at
    /// `/.well-known/oauth-authorization-server{path}` (RFC 8414 §3.1).
    Path(String),
}

/// A change to the server's configuration before it starts.
type Configure<'a> = Box<dyn FnOnce(&mut ServerConfig) + 'a>;

/// How a test server is built: [`TestApp::builder`], the settings, then
/// [`TestAppBuilder::spawn`].
pub struct TestAppBuilder<'a> {
    backend: Backend,
    issuer: Issuer,
    start: i64,
    faulty: bool,
    configure: Vec<Configure<'a>>,
}

impl TestApp {
    /// The standard server: loopback issuer, the backend of
    /// `TESSERA_TEST_BACKEND`, the clock at [`T0`], the standard fixture
    /// (confidential clients `c1` and `c2`, public client `p1`, users alice
    /// and bob, ...).
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    pub fn builder<'a>() -> TestAppBuilder<'a> {
        TestAppBuilder {
            backend: Backend::from_env(),
            issuer: Issuer::Loopback,
            start: T0,
            faulty: false,
            configure: Vec::new(),
        }
    }

    /// The [`FaultyStore`] the server's store calls go through.
    ///
    /// # Panics
    /// Unless the server was built with [`TestAppBuilder::faulty`].
    pub fn faults(&self) -> &FaultyStore {
        self.faults
            .as_deref()
            .expect("a server built with TestAppBuilder::faulty")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn issuer(&self) -> &str {
        self.state.config.issuer()
    }

    /// The issuer's path ("" at the root, "/tenant" for
    /// `TestApp::builder().path("/tenant")`).
    pub fn base_path(&self) -> &str {
        self.state.config.base_path()
    }

    /// A back-channel HTTP client: no cookies, no redirects.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("client")
    }

    /// The kinds of the latest security events, newest first.
    pub async fn security_events(&self) -> Vec<String> {
        self.store
            .security_events(100)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

impl<'a> TestAppBuilder<'a> {
    /// Runs on `backend` rather than the one `TESSERA_TEST_BACKEND` names.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Another issuer than the server's own loopback address (an https
    /// issuer puts the server in production mode, as behind a
    /// TLS-terminating proxy).
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Issuer::Fixed(issuer.into());
        self
    }

    /// The issuer `{base}{path}` (e.g. `path = "/tenant"`): every endpoint
    /// lives under `path`, the metadata at
    /// `/.well-known/oauth-authorization-server{path}` (RFC 8414 §3.1).
    pub fn path(mut self, path: &str) -> Self {
        self.issuer = Issuer::Path(path.into());
        self
    }

    /// The server's store is a [`FaultyStore`] around the real one (which
    /// stays reachable, healthy, as `app.store`); see [`TestApp::faults`].
    pub fn faulty(mut self) -> Self {
        self.faulty = true;
        self
    }

    /// The clock starts at the wall clock's time rather than [`T0`], for
    /// clients outside the test's control (other languages' libraries) that
    /// check token times against their own clock.
    pub fn wall_clock(mut self) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs();
        self.start = i64::try_from(now).expect("time");
        self
    }

    /// Changes the server's configuration before it starts (after the
    /// issuer and audience are set).
    pub fn configure(mut self, configure: impl FnOnce(&mut ServerConfig) + 'a) -> Self {
        self.configure.push(Box::new(configure));
        self
    }

    /// Starts the server, or `None` (after saying so) when its backend
    /// cannot run here (PostgreSQL without `TESSERA_TEST_POSTGRES_URL`).
    pub async fn try_spawn(self) -> Option<TestApp> {
        if !self.backend.available() {
            println!("PostgreSQL suite not run: set TESSERA_TEST_POSTGRES_URL");
            return None;
        }
        Some(self.spawn().await)
    }

    /// Starts the server and seeds the standard fixture.
    pub async fn spawn(self) -> TestApp {
        init_log_capture();
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, schema) = self.backend.open(dir.path()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://127.0.0.1:{}", addr.port());
        let issuer = match self.issuer {
            Issuer::Loopback => base.clone(),
            Issuer::Fixed(issuer) => issuer,
            Issuer::Path(path) => format!("{base}{path}"),
        };
        let mut config = ServerConfig::new(&issuer, PHOTOS).expect("config");
        for configure in self.configure {
            configure(&mut config);
        }
        // Production mode refuses to start without a key-encryption key.
        if config.mode() == Mode::Production && config.keys.encryption_key.is_none() {
            config.keys.encryption_key = Some(TEST_KEY_ENCRYPTION_KEY);
        }
        let clock = ManualClock::new(self.start);
        let rng = Arc::new(SystemRandomness);
        let faults = self.faulty.then(|| Arc::new(FaultyStore::new()));
        let served: Arc<dyn Store> = match &faults {
            Some(faulty) => Arc::new(Gated::new(store.clone(), faulty.clone())),
            None => store.clone(),
        };
        let admin = Admin::new(served.clone(), rng.clone(), Mode::Development)
            .await
            .expect("admin");
        let state = AppState::new(served, config, Arc::new(clock.clone()), rng)
            .await
            .expect("state");
        let (tx, rx) = oneshot::channel::<()>();
        let server_state = state.clone();
        tokio::spawn(async move {
            let _ = tessera_authorization_server::serve(listener, server_state, async {
                let _ = rx.await;
            })
            .await;
        });
        let app = TestApp {
            base,
            addr,
            state,
            clock,
            store,
            admin,
            backend: self.backend,
            faults,
            dir,
            schema,
            _shutdown: tx,
        };
        app.seed().await;
        app
    }
}
