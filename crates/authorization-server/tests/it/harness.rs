//! The integration harness: the real server on an ephemeral loopback port,
//! a real SQLite file in a temp dir, a manual clock, and a cookie-keeping
//! "browser" that reads HTML forms the way a person's browser would.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use reqwest::redirect::Policy;
use scraper::{Html, Selector};
use tessera_authorization_server::admin::{Admin, ClientSpec};
use tessera_authorization_server::clock::ManualClock;
use tessera_authorization_server::{AppState, ServerConfig};
use tessera_core::pkce::CodeChallenge;
use tessera_core::redirect_uri::Mode;
use tessera_core::secrets::{SecretString, SystemRandomness};
pub use tessera_store::{SqliteStore, Store};
use tokio::sync::oneshot;

pub const RS1_SECRET: &str = "rs1-secret-0123456789-0123456789-abcdef";
pub const RS2_SECRET: &str = "rs2-secret-0123456789-0123456789-abcdef";
pub const SVC_SECRET: &str = "svc-secret-0123456789-0123456789-abcdef";
/// The default audience of the test server, registered as a resource.
pub const PHOTOS: &str = "https://photos.example";
pub const OTHER: &str = "https://other.example";
pub const C1_SECRET: &str = "c1-secret-0123456789-0123456789-abcdef";
pub const C2_SECRET: &str = "c2-secret-0123456789-0123456789-abcdef";
pub const C1_REDIRECT: &str = "https://client.example/cb";
pub const C2_REDIRECT: &str = "https://client2.example/cb";
pub const P1_REDIRECT: &str = "http://127.0.0.1/cb";
pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "alice-password-1";
pub const BOB: &str = "bob";
pub const BOB_PASSWORD: &str = "bob-password-12";
/// A fixed start time, so snapshots and expiry arithmetic are stable.
pub const T0: i64 = 1_800_000_000;
/// The key-encryption key of production-mode test servers.
pub const TEST_KEY_ENCRYPTION_KEY: tessera_authorization_server::keys::KeyEncryptionKey =
    tessera_authorization_server::keys::KeyEncryptionKey::from_bytes([0x5e; 32]);

pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub state: AppState,
    pub clock: ManualClock,
    pub store: Arc<SqliteStore>,
    pub admin: Admin,
    _dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
}

impl TestApp {
    /// Starts a server with the standard fixture: confidential clients `c1`
    /// and `c2`, public client `p1`, users alice and bob.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::spawn_with_issuer(None, configure).await
    }

    /// Like [`TestApp::spawn_with`], with another issuer than the server's own
    /// loopback address (an https issuer puts the server in production mode,
    /// as behind a TLS-terminating proxy).
    pub async fn spawn_with_issuer(
        issuer: Option<&str>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        init_log_capture();
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
        let store = Arc::new(SqliteStore::connect(&url).await.expect("store"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://127.0.0.1:{}", addr.port());
        let mut config =
            ServerConfig::new(issuer.unwrap_or(&base), "https://photos.example").expect("config");
        configure(&mut config);
        // Production mode refuses to start without a key-encryption key.
        if config.mode() == Mode::Production && config.keys.encryption_key.is_none() {
            config.keys.encryption_key = Some(TEST_KEY_ENCRYPTION_KEY);
        }
        let clock = ManualClock::new(T0);
        let rng = Arc::new(SystemRandomness);
        let admin = Admin::new(store.clone(), rng.clone(), Mode::Development)
            .await
            .expect("admin");
        let state = AppState::new(store.clone(), config, Arc::new(clock.clone()), rng)
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
        let app = Self {
            base,
            addr,
            state,
            clock,
            store,
            admin,
            _dir: dir,
            _shutdown: tx,
        };
        app.seed().await;
        app
    }

    async fn seed(&self) {
        for (identifier, scopes) in [(PHOTOS, vec!["a", "b", "c"]), (OTHER, vec!["a"])] {
            let spec = tessera_authorization_server::admin::ResourceSpec {
                identifier: identifier.into(),
                name: None,
                scopes: scopes.into_iter().map(str::to_owned).collect(),
            };
            self.admin
                .register_resource(&spec, T0)
                .await
                .expect("resource");
        }
        // Resource servers that may introspect tokens for their resource.
        for (id, secret, resource) in [("rs1", RS1_SECRET, PHOTOS), ("rs2", RS2_SECRET, OTHER)] {
            let mut spec = client(id, Some(secret), &[], &[]);
            spec.grant_types = vec!["client_credentials".into()];
            spec.introspect = true;
            spec.resource = Some(resource.into());
            self.register(spec).await;
        }
        // A machine client (client credentials only).
        let mut svc = client("svc", Some(SVC_SECRET), &[], &["a", "b"]);
        svc.grant_types = vec!["client_credentials".into()];
        self.register(svc).await;
        self.register(client(
            "c1",
            Some(C1_SECRET),
            &[C1_REDIRECT, "https://client.example/cb2"],
            &["a", "b", "c"],
        ))
        .await;
        self.register(client(
            "c2",
            Some(C2_SECRET),
            &[C2_REDIRECT],
            &["a", "b", "c"],
        ))
        .await;
        self.register(client("p1", None, &[P1_REDIRECT], &["a", "b"]))
            .await;
        self.admin
            .add_user(ALICE, &SecretString::new(ALICE_PASSWORD), T0)
            .await
            .expect("alice");
        self.admin
            .add_user(BOB, &SecretString::new(BOB_PASSWORD), T0)
            .await
            .expect("bob");
    }

    pub async fn register(&self, spec: ClientSpec) {
        self.admin
            .register_client(&spec, false, T0)
            .await
            .expect("register client");
    }

    /// The directory holding the SQLite database (`tessera.db` and its WAL).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn issuer(&self) -> &str {
        self.state.config.issuer()
    }

    /// A browser: keeps cookies, does not follow redirects.
    pub fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: self.base.clone(),
        }
    }

    /// A back-channel HTTP client: no cookies, no redirects.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .expect("client")
    }

    /// `POST /token` with a form body and optional Basic credentials
    /// (form-encoded as RFC 6749 §2.3.1 says).
    pub async fn token(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut req = self.http().post(self.url("/token")).form(form);
        if let Some((id, secret)) = basic {
            req = req.header("authorization", basic_header(id, secret));
        }
        req.send().await.expect("token request")
    }

    /// Redeems a code for `c1` with Basic authentication.
    pub async fn redeem(&self, flow: &Flow) -> reqwest::Response {
        let (id, secret) = flow.credentials();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", flow.code.as_str()),
            ("redirect_uri", flow.redirect_uri.as_str()),
            ("code_verifier", flow.verifier.as_str()),
        ];
        match secret {
            Some(s) => self.token(&form, Some((id, s))).await,
            None => {
                form.push(("client_id", id));
                self.token(&form, None).await
            }
        }
    }

    /// Runs the whole front channel for `client_id` as alice and returns the
    /// code.
    pub async fn code_for(&self, client_id: &str, scope: &str) -> Flow {
        let browser = self.browser();
        let flow = AuthRequest::new(client_id).scope(scope);
        let location = browser
            .authorize_through_consent(self, &flow, ALICE, ALICE_PASSWORD, None)
            .await;
        flow.into_flow(&location)
    }

    /// Code, then tokens; returns the token response JSON.
    pub async fn tokens_for(&self, client_id: &str, scope: &str) -> serde_json::Value {
        let flow = self.code_for(client_id, scope).await;
        let r = self.redeem(&flow).await;
        assert_eq!(r.status(), 200, "redeem");
        r.json().await.expect("json")
    }

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

/// Everything the server side logs, at TRACE, for every test in this binary:
/// `logging.rs` searches it for secrets.
static LOGS: std::sync::LazyLock<std::sync::Mutex<Vec<u8>>> =
    std::sync::LazyLock::new(Default::default);

struct CaptureWriter;

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_log_capture() {
    let filter = "tessera_authorization_server=trace,tessera_store=trace,tessera_core=trace,tower_http=trace,axum=trace,sqlx=trace";
    let _ = tracing_subscriber::fmt()
        .with_writer(|| CaptureWriter)
        .with_env_filter(filter)
        .with_ansi(false)
        .try_init();
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

pub fn client(id: &str, secret: Option<&str>, redirects: &[&str], scopes: &[&str]) -> ClientSpec {
    ClientSpec {
        client_id: id.into(),
        client_secret: secret.map(SecretString::new),
        redirect_uris: redirects.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        name: Some(format!("Client {id}")),
        require_pkce: true,
        introspect: false,
        resource: None,
        access_token_format: None,
    }
}

pub fn basic_header(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

pub fn secret_of(client_id: &str) -> Option<&'static str> {
    match client_id {
        "c1" => Some(C1_SECRET),
        "c2" => Some(C2_SECRET),
        "rs1" => Some(RS1_SECRET),
        "rs2" => Some(RS2_SECRET),
        "svc" => Some(SVC_SECRET),
        _ => None,
    }
}

pub fn default_redirect(client_id: &str) -> &'static str {
    match client_id {
        "c1" => C1_REDIRECT,
        "c2" => C2_REDIRECT,
        _ => P1_REDIRECT,
    }
}

/// A fresh PKCE verifier (43+ characters of the unreserved set).
pub fn new_verifier() -> String {
    tessera_core::secrets::new_opaque_token(&SystemRandomness)
        .expect("rng")
        .expose()
        .to_owned()
}

/// An authorization request under construction.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client_id: String,
    pub params: Vec<(String, String)>,
    pub verifier: String,
    pub redirect_uri: String,
}

impl AuthRequest {
    /// `response_type=code`, the client's first redirect URI (explicit),
    /// `scope=a`, `state=xyz`, and a fresh S256 challenge.
    pub fn new(client_id: &str) -> Self {
        let verifier = new_verifier();
        let redirect_uri = default_redirect(client_id).to_owned();
        let params = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), client_id.into()),
            ("redirect_uri".into(), redirect_uri.clone()),
            ("scope".into(), "a".into()),
            ("state".into(), "xyz".into()),
            (
                "code_challenge".into(),
                CodeChallenge::s256_of(&verifier).as_str().to_owned(),
            ),
            ("code_challenge_method".into(), "S256".into()),
        ];
        Self {
            client_id: client_id.into(),
            params,
            verifier,
            redirect_uri,
        }
    }

    /// Sets (replacing) a parameter.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.params.retain(|(k, _)| k != name);
        self.params.push((name.into(), value.into()));
        if name == "redirect_uri" {
            self.redirect_uri = value.into();
        }
        self
    }

    /// Adds a parameter, even if one of that name exists.
    pub fn add(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    pub fn remove(mut self, name: &str) -> Self {
        self.params.retain(|(k, _)| k != name);
        self
    }

    pub fn scope(self, scope: &str) -> Self {
        self.set("scope", scope)
    }

    pub fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            s.append_pair(k, v);
        }
        s.finish()
    }

    pub fn into_flow(self, location: &str) -> Flow {
        let params = query_params(location);
        let code = params
            .iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no code in {location}"));
        Flow {
            client_id: self.client_id,
            code,
            verifier: self.verifier,
            redirect_uri: self.redirect_uri,
        }
    }
}

/// A code and what is needed to redeem it.
#[derive(Debug, Clone)]
pub struct Flow {
    pub client_id: String,
    pub code: String,
    pub verifier: String,
    pub redirect_uri: String,
}

impl Flow {
    pub fn credentials(&self) -> (&str, Option<&'static str>) {
        (self.client_id.as_str(), secret_of(&self.client_id))
    }
}

/// The query parameters of a URL (or of a `Location` header).
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    query_params(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii location").to_owned())
        .unwrap_or_default()
}

/// An HTML form as a browser would submit it.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The first form of the page: hidden and text inputs with their values,
    /// checked checkboxes; buttons are chosen at submit time.
    pub fn parse(html: &str) -> Self {
        let doc = Html::parse_document(html);
        let form_sel = Selector::parse("form").expect("selector");
        let input_sel = Selector::parse("input").expect("selector");
        let form = doc
            .select(&form_sel)
            .next()
            .unwrap_or_else(|| panic!("no form in page: {html}"));
        let action = form.value().attr("action").unwrap_or("").to_owned();
        let mut fields = Vec::new();
        for input in form.select(&input_sel) {
            let el = input.value();
            let Some(name) = el.attr("name") else {
                continue;
            };
            let kind = el.attr("type").unwrap_or("text");
            if kind == "checkbox" && el.attr("checked").is_none() {
                continue;
            }
            fields.push((name.to_owned(), el.attr("value").unwrap_or("").to_owned()));
        }
        Self { action, fields }
    }

    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.fields.retain(|(k, _)| k != name);
        self.fields.push((name.into(), value.into()));
        self
    }

    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.fields.retain(|(k, _)| k != name);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The values of every checked box named `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl Browser {
    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{}", self.base, url)
        } else {
            url.to_owned()
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(self.absolute(url)).send().await.expect("GET")
    }

    pub async fn authorize(&self, request: &AuthRequest) -> reqwest::Response {
        self.get(&format!("/authorize?{}", request.query())).await
    }

    /// Submits a form; `button` adds the pressed button's name and value.
    pub async fn submit(&self, form: &Form, button: Option<(&str, &str)>) -> reqwest::Response {
        let mut fields = form.fields.clone();
        if let Some((k, v)) = button {
            fields.push((k.into(), v.into()));
        }
        self.http
            .post(self.absolute(&form.action))
            .form(&fields)
            .send()
            .await
            .expect("POST")
    }

    /// GETs a page and parses its form.
    pub async fn form_at(&self, url: &str) -> Form {
        let r = self.get(url).await;
        assert_eq!(r.status(), 200, "form page {url}");
        Form::parse(&r.text().await.expect("body"))
    }

    /// Logs in on the login page at `url`; returns the response to the POST.
    pub async fn login(&self, url: &str, username: &str, password: &str) -> reqwest::Response {
        let mut form = self.form_at(url).await;
        form.set("username", username).set("password", password);
        self.submit(&form, None).await
    }

    /// From `/authorize` to the redirect back to the client, logging in and
    /// approving consent as needed. `granted` unchecks every other scope.
    /// Returns the final `Location`.
    pub async fn authorize_through_consent(
        &self,
        _app: &TestApp,
        request: &AuthRequest,
        username: &str,
        password: &str,
        granted: Option<&[&str]>,
    ) -> String {
        let mut r = self.authorize(request).await;
        assert!(
            r.status().is_redirection(),
            "authorize: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
        let mut loc = location(&r);
        if loc.starts_with("/login") {
            r = self.login(&loc, username, password).await;
            assert_eq!(r.status(), 303, "login");
            loc = location(&r);
        }
        if loc.starts_with("/consent") {
            let mut form = self.form_at(&loc).await;
            if let Some(granted) = granted {
                form.remove("scope");
                for s in granted {
                    form.fields.push(("scope".into(), (*s).into()));
                }
            }
            r = self.submit(&form, Some(("decision", "approve"))).await;
            assert_eq!(r.status(), 303, "consent");
            loc = location(&r);
        }
        loc
    }
}
