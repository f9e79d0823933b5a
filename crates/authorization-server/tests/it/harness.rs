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
use tessera_core::secrets::SecretString;
use tessera_runtime::SystemRandomness;
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

/// Which store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// SQLite, unless `TESSERA_TEST_BACKEND=postgres` asks for the whole
    /// suite on PostgreSQL (then `TESSERA_TEST_POSTGRES_URL` is required).
    pub fn from_env() -> Self {
        match std::env::var("TESSERA_TEST_BACKEND").as_deref() {
            Ok("postgres") => {
                assert!(
                    postgres_url().is_some(),
                    "TESSERA_TEST_BACKEND=postgres needs TESSERA_TEST_POSTGRES_URL"
                );
                Self::Postgres
            }
            _ => Self::Sqlite,
        }
    }
}

/// The PostgreSQL database of the tests, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TESSERA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub state: AppState,
    pub clock: ManualClock,
    /// The real store (inside any test wrapper): SQLite, or
    /// PostgreSQL for [`TestApp::spawn_on`].
    pub store: Arc<dyn Store>,
    pub admin: Admin,
    _dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
    _schema: Option<DropSchema>,
    pub backend: Backend,
}

/// Drops a test's PostgreSQL schema when the test ends (on a thread and
/// connection of its own: the test's runtime is going away).
pub struct DropSchema {
    pub url: String,
    pub schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection as _;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test schema {}", self.schema);
        }
    }
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
        let issuer = issuer.map(str::to_owned);
        Self::spawn_custom(
            move |base| issuer.unwrap_or_else(|| base.to_owned()),
            |real| real,
            configure,
        )
        .await
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

    /// A second, independent connection to this server's database, as
    /// another process (the CLI, another node) would open it.
    pub async fn second_store(&self) -> Arc<dyn Store> {
        match &self._schema {
            None => {
                let url = format!("sqlite://{}", self.data_dir().join("tessera.db").display());
                Arc::new(SqliteStore::connect(&url).await.expect("second store"))
            }
            Some(pg) => {
                let options = tessera_store::PostgresOptions {
                    schema: Some(pg.schema.clone()),
                    ..tessera_store::PostgresOptions::new(pg.url.clone())
                };
                Arc::new(
                    tessera_store::PostgresStore::connect(&options)
                        .await
                        .expect("second store"),
                )
            }
        }
    }

    /// The directory holding the SQLite database (`tessera.db` and its WAL).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The published JWK set, as `JwkSet` or raw JSON.
    pub async fn jwks<T: serde::de::DeserializeOwned>(&self) -> T {
        self.http()
            .get(self.url("/jwks.json"))
            .send()
            .await
            .expect("jwks request")
            .json()
            .await
            .expect("jwks json")
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
        id_token_signed_response_alg: None,
        post_logout_redirect_uris: Vec::new(),
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

// ---------------------------------------------------------------------------
// Fault injection, issuers with a path, and back-channel helpers
// (revocation, introspection, metadata, client credentials, resources).
// ---------------------------------------------------------------------------

/// The store methods a storage failure at revocation or introspection goes
/// through: the token lookups and the two revocation writes.
pub const TOKEN_STORE_METHODS: &[&str] = &[
    "refresh_token",
    "access_token_by_jti",
    "access_token_by_hash",
    "revoke_grant",
    "revoke_access_token",
];

/// A [`Store`] that delegates every method to a real [`SqliteStore`], except
/// that while failures are switched on the chosen methods fail as a broken
/// database would (`StoreError::Corrupt("injected failure")`).
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    failing: std::sync::atomic::AtomicBool,
    methods: std::sync::Mutex<Vec<&'static str>>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            failing: std::sync::atomic::AtomicBool::new(false),
            methods: std::sync::Mutex::new(TOKEN_STORE_METHODS.to_vec()),
        }
    }

    /// From now on, `methods` fail (and only they).
    pub fn fail(&self, methods: &[&'static str]) {
        *self.methods.lock().unwrap_or_else(|p| p.into_inner()) = methods.to_vec();
        self.failing
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every method works again.
    pub fn heal(&self) {
        self.failing
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    fn check(&self, method: &str) -> tessera_store::StoreResult<()> {
        let failing = self.failing.load(std::sync::atomic::Ordering::SeqCst)
            && self
                .methods
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&method);
        if failing {
            Err(tessera_store::StoreError::Corrupt(
                "injected failure".into(),
            ))
        } else {
            Ok(())
        }
    }
}

mod faulty_store_impl {
    use super::FaultyStore;
    use tessera_core::UnixTime;
    use tessera_core::authorize::AuthorizationRequest;
    use tessera_core::client::Client;
    use tessera_core::grant::{CodeGrant, RefreshTokenRecord};
    use tessera_core::resource::Resource;
    use tessera_store::*;

    #[async_trait::async_trait]
    impl Store for FaultyStore {
        async fn setting_or_init(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>> {
            self.check("setting_or_init")?;
            self.inner.setting_or_init(name, initial).await
        }
        async fn upsert_client(&self, client: &Client, now: UnixTime) -> StoreResult<()> {
            self.check("upsert_client")?;
            self.inner.upsert_client(client, now).await
        }
        async fn client(&self, client_id: &str) -> StoreResult<Option<Client>> {
            self.check("client")?;
            self.inner.client(client_id).await
        }
        async fn clients(&self) -> StoreResult<Vec<Client>> {
            self.check("clients")?;
            self.inner.clients().await
        }
        async fn delete_client(&self, client_id: &str, now: UnixTime) -> StoreResult<bool> {
            self.check("delete_client")?;
            self.inner.delete_client(client_id, now).await
        }
        async fn upsert_resource(&self, resource: &Resource, now: UnixTime) -> StoreResult<()> {
            self.check("upsert_resource")?;
            self.inner.upsert_resource(resource, now).await
        }
        async fn resource(&self, identifier: &str) -> StoreResult<Option<Resource>> {
            self.check("resource")?;
            self.inner.resource(identifier).await
        }
        async fn resources(&self) -> StoreResult<Vec<Resource>> {
            self.check("resources")?;
            self.inner.resources().await
        }
        async fn delete_resource(&self, identifier: &str) -> StoreResult<bool> {
            self.check("delete_resource")?;
            self.inner.delete_resource(identifier).await
        }
        async fn create_user(&self, user: &User) -> StoreResult<()> {
            self.check("create_user")?;
            self.inner.create_user(user).await
        }
        async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
            self.check("user_by_username")?;
            self.inner.user_by_username(username).await
        }
        async fn user(&self, user_id: &str) -> StoreResult<Option<User>> {
            self.check("user")?;
            self.inner.user(user_id).await
        }
        async fn users(&self) -> StoreResult<Vec<User>> {
            self.check("users")?;
            self.inner.users().await
        }
        async fn delete_user(&self, username: &str, now: UnixTime) -> StoreResult<bool> {
            self.check("delete_user")?;
            self.inner.delete_user(username, now).await
        }
        async fn set_user_claims(
            &self,
            username: &str,
            claims: &tessera_core::user_claims::UserClaims,
        ) -> StoreResult<bool> {
            self.check("set_user_claims")?;
            self.inner.set_user_claims(username, claims).await
        }
        async fn set_password(
            &self,
            username: &str,
            password_hash: &str,
            now: UnixTime,
        ) -> StoreResult<bool> {
            self.check("set_password")?;
            self.inner.set_password(username, password_hash, now).await
        }
        async fn signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
            self.check("signing_keys")?;
            self.inner.signing_keys().await
        }
        async fn insert_signing_key(&self, key: &StoredSigningKey) -> StoreResult<()> {
            self.check("insert_signing_key")?;
            self.inner.insert_signing_key(key).await
        }
        async fn create_session(&self, session: &Session) -> StoreResult<()> {
            self.check("create_session")?;
            self.inner.create_session(session).await
        }
        async fn session(
            &self,
            id_hash: &TokenHash,
            now: UnixTime,
        ) -> StoreResult<Option<Session>> {
            self.check("session")?;
            self.inner.session(id_hash, now).await
        }
        async fn replace_session(&self, old: Option<&TokenHash>, new: &Session) -> StoreResult<()> {
            self.check("replace_session")?;
            self.inner.replace_session(old, new).await
        }
        async fn delete_session(&self, id_hash: &TokenHash) -> StoreResult<()> {
            self.check("delete_session")?;
            self.inner.delete_session(id_hash).await
        }
        async fn save_authorization_request(
            &self,
            id: &str,
            session: &TokenHash,
            request: &AuthorizationRequest,
            expires_at: UnixTime,
        ) -> StoreResult<()> {
            self.check("save_authorization_request")?;
            self.inner
                .save_authorization_request(id, session, request, expires_at)
                .await
        }
        async fn authorization_request(
            &self,
            id: &str,
            session: &TokenHash,
            now: UnixTime,
        ) -> StoreResult<Option<AuthorizationRequest>> {
            self.check("authorization_request")?;
            self.inner.authorization_request(id, session, now).await
        }
        async fn take_authorization_request(
            &self,
            id: &str,
            session: &TokenHash,
        ) -> StoreResult<bool> {
            self.check("take_authorization_request")?;
            self.inner.take_authorization_request(id, session).await
        }
        async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
            self.check("consent")?;
            self.inner.consent(user_id, client_id).await
        }
        async fn save_consent(&self, consent: &Consent) -> StoreResult<()> {
            self.check("save_consent")?;
            self.inner.save_consent(consent).await
        }
        async fn issue_code(
            &self,
            grant: &Grant,
            code_hash: &TokenHash,
            code: &CodeGrant,
        ) -> StoreResult<()> {
            self.check("issue_code")?;
            self.inner.issue_code(grant, code_hash, code).await
        }
        async fn code_challenge_seen(
            &self,
            client_id: &str,
            challenge: &str,
            since: UnixTime,
        ) -> StoreResult<bool> {
            self.check("code_challenge_seen")?;
            self.inner
                .code_challenge_seen(client_id, challenge, since)
                .await
        }
        async fn consume_code(
            &self,
            code_hash: &TokenHash,
            now: UnixTime,
        ) -> StoreResult<CodeConsumption> {
            self.check("consume_code")?;
            self.inner.consume_code(code_hash, now).await
        }
        async fn issue_tokens(
            &self,
            access: &AccessTokenRecord,
            refresh: Option<(&TokenHash, &NewRefreshToken)>,
        ) -> StoreResult<()> {
            self.check("issue_tokens")?;
            self.inner.issue_tokens(access, refresh).await
        }
        async fn refresh_token(&self, hash: &TokenHash) -> StoreResult<Option<RefreshTokenRecord>> {
            self.check("refresh_token")?;
            self.inner.refresh_token(hash).await
        }
        async fn rotate_refresh_token(
            &self,
            old: &TokenHash,
            now: UnixTime,
            access: &AccessTokenRecord,
            new_hash: &TokenHash,
            new: &NewRefreshToken,
            retry: Option<&RefreshRetry>,
        ) -> StoreResult<bool> {
            self.check("rotate_refresh_token")?;
            self.inner
                .rotate_refresh_token(old, now, access, new_hash, new, retry)
                .await
        }
        async fn refresh_retry(
            &self,
            old: &TokenHash,
            now: UnixTime,
        ) -> StoreResult<Option<Vec<u8>>> {
            self.check("refresh_retry")?;
            self.inner.refresh_retry(old, now).await
        }
        async fn purge_expired(
            &self,
            now: UnixTime,
            batch: u32,
        ) -> StoreResult<Option<PurgeReport>> {
            self.check("purge_expired")?;
            self.inner.purge_expired(now, batch).await
        }
        async fn access_token_by_jti(&self, jti: &str) -> StoreResult<Option<AccessTokenStatus>> {
            self.check("access_token_by_jti")?;
            self.inner.access_token_by_jti(jti).await
        }
        async fn access_token_by_hash(
            &self,
            hash: &TokenHash,
        ) -> StoreResult<Option<AccessTokenStatus>> {
            self.check("access_token_by_hash")?;
            self.inner.access_token_by_hash(hash).await
        }
        async fn revoke_access_token(&self, jti: &str, now: UnixTime) -> StoreResult<()> {
            self.check("revoke_access_token")?;
            self.inner.revoke_access_token(jti, now).await
        }
        async fn revoke_grant(
            &self,
            grant_id: &str,
            now: UnixTime,
            reason: &str,
        ) -> StoreResult<()> {
            self.check("revoke_grant")?;
            self.inner.revoke_grant(grant_id, now, reason).await
        }
        async fn grant(&self, grant_id: &str) -> StoreResult<Option<Grant>> {
            self.check("grant")?;
            self.inner.grant(grant_id).await
        }
        async fn record_security_event(&self, event: &SecurityEvent) -> StoreResult<()> {
            self.check("record_security_event")?;
            self.inner.record_security_event(event).await
        }
        async fn security_events(&self, limit: u32) -> StoreResult<Vec<SecurityEvent>> {
            self.check("security_events")?;
            self.inner.security_events(limit).await
        }
        async fn retire_signing_key(&self, kid: &str, now: UnixTime) -> StoreResult<bool> {
            self.check("retire_signing_key")?;
            self.inner.retire_signing_key(kid, now).await
        }
        async fn seal_signing_key(
            &self,
            kid: &str,
            encryption: &str,
            private_key: &[u8],
        ) -> StoreResult<bool> {
            self.check("seal_signing_key")?;
            self.inner
                .seal_signing_key(kid, encryption, private_key)
                .await
        }
    }
}

impl TestApp {
    /// A server whose store is a [`FaultyStore`] around the real one (which
    /// stays reachable, healthy, as `app.store`).
    pub async fn spawn_faulty(
        configure: impl FnOnce(&mut ServerConfig),
    ) -> (Self, Arc<FaultyStore>) {
        let mut faulty = None;
        let app = Self::spawn_custom(
            |base| base.to_owned(),
            |real| {
                let f = Arc::new(FaultyStore::new(real));
                faulty = Some(f.clone());
                f
            },
            configure,
        )
        .await;
        (app, faulty.expect("the store was built"))
    }

    /// A server whose issuer is `{base}{path}` (e.g. `path = "/tenant"`):
    /// every endpoint lives under `path`, the metadata at
    /// `/.well-known/oauth-authorization-server{path}` (RFC 8414 §3.1).
    pub async fn spawn_at_path(path: &str, configure: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::spawn_custom(|base| format!("{base}{path}"), |real| real, configure).await
    }

    /// [`TestApp::spawn_with_issuer`] with the issuer `{base}{path}` and the
    /// store the server uses chosen by `wrap` (given the real one).
    /// The one way a test server starts: `issuer` maps the loopback base
    /// URL to the issuer, `wrap` may put something around the real store.
    async fn spawn_custom(
        issuer: impl FnOnce(&str) -> String,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        Self::spawn_custom_on(Backend::from_env(), issuer, wrap, configure).await
    }

    /// Like [`TestApp::spawn_with`], on `backend`; `None` (after saying so)
    /// for PostgreSQL when `TESSERA_TEST_POSTGRES_URL` is not set.
    pub async fn spawn_on(
        backend: Backend,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Option<Self> {
        if backend == Backend::Postgres && postgres_url().is_none() {
            println!("PostgreSQL suite not run: set TESSERA_TEST_POSTGRES_URL");
            return None;
        }
        Some(Self::spawn_custom_on(backend, |base| base.to_owned(), |real| real, configure).await)
    }

    async fn spawn_custom_on(
        backend: Backend,
        issuer: impl FnOnce(&str) -> String,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        Self::spawn_custom_at(backend, T0, issuer, wrap, configure).await
    }

    /// The standard fixture with the clock at the wall clock's time, for
    /// clients outside the test's control (other languages' libraries) that
    /// check token times against their own clock.
    pub async fn spawn_at_wall_clock() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs();
        Self::spawn_custom_at(
            Backend::from_env(),
            i64::try_from(now).expect("time"),
            |base| base.to_owned(),
            |real| real,
            |_| {},
        )
        .await
    }

    async fn spawn_custom_at(
        backend: Backend,
        start: i64,
        issuer: impl FnOnce(&str) -> String,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        init_log_capture();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut schema_guard = None;
        let store: Arc<dyn Store> = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
                Arc::new(SqliteStore::connect(&url).await.expect("store"))
            }
            Backend::Postgres => {
                let url = postgres_url().expect("checked by spawn_on");
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_nanos();
                let schema = format!("it_{}_{nanos}", std::process::id());
                schema_guard = Some(DropSchema {
                    url: url.clone(),
                    schema: schema.clone(),
                });
                let options = tessera_store::PostgresOptions {
                    // A schema of its own: the tests run in parallel.
                    schema: Some(schema),
                    connect_attempts: 3,
                    connect_retry_delay: std::time::Duration::from_millis(300),
                    ..tessera_store::PostgresOptions::new(url)
                };
                Arc::new(
                    tessera_store::PostgresStore::connect(&options)
                        .await
                        .expect("TESSERA_TEST_POSTGRES_URL is set but PostgreSQL is not usable"),
                )
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://127.0.0.1:{}", addr.port());
        let mut config = ServerConfig::new(&issuer(&base), PHOTOS).expect("config");
        configure(&mut config);
        // Production mode refuses to start without a key-encryption key.
        if config.mode() == Mode::Production && config.keys.encryption_key.is_none() {
            config.keys.encryption_key = Some(TEST_KEY_ENCRYPTION_KEY);
        }
        let clock = ManualClock::new(start);
        let rng = Arc::new(SystemRandomness);
        let served = wrap(store.clone());
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
        let app = Self {
            base,
            addr,
            state,
            clock,
            store,
            admin,
            _dir: dir,
            _shutdown: tx,
            _schema: schema_guard,
            backend,
        };
        app.seed().await;
        app
    }

    /// The issuer's path ("" at the root, "/tenant" for `spawn_at_path("/tenant")`).
    pub fn base_path(&self) -> &str {
        self.state.config.base_path()
    }

    /// `POST {issuer path}{path}` with a form body and `auth`.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        auth: ClientAuth<'_>,
    ) -> reqwest::Response {
        self.post_form_to(
            &self.url(&format!("{}{path}", self.base_path())),
            form,
            auth,
        )
        .await
    }

    /// `POST url` (absolute) with a form body and `auth`.
    pub async fn post_form_to(
        &self,
        url: &str,
        form: &[(&str, &str)],
        auth: ClientAuth<'_>,
    ) -> reqwest::Response {
        let mut form = form.to_vec();
        let mut req = self.http().post(url);
        match auth {
            ClientAuth::Basic(id, secret) => {
                req = req.header("authorization", basic_header(id, secret));
            }
            ClientAuth::Post(id, secret) => {
                form.push(("client_id", id));
                form.push(("client_secret", secret));
            }
            ClientAuth::Public(id) => form.push(("client_id", id)),
            ClientAuth::Nothing => {}
        }
        req.form(&form).send().await.expect("back-channel request")
    }

    /// `POST /revoke` for `token`, with `token_type_hint` if given.
    pub async fn revoke(
        &self,
        token: &str,
        hint: Option<&str>,
        auth: ClientAuth<'_>,
    ) -> reqwest::Response {
        let mut form = vec![("token", token)];
        if let Some(h) = hint {
            form.push(("token_type_hint", h));
        }
        self.post_form("/revoke", &form, auth).await
    }

    /// `POST /revoke` that must succeed: 200, `Cache-Control: no-store`, an
    /// empty body or `{}` (RFC 7009 §2.2).
    pub async fn revoke_ok(&self, token: &str, hint: Option<&str>, auth: ClientAuth<'_>) {
        let r = Reply::read(self.revoke(token, hint, auth).await).await;
        assert_eq!(r.status, 200, "revoke: {}", r.text);
        assert_no_store(&r);
        assert!(
            r.text.is_empty() || r.text.trim() == "{}",
            "revoke body: {}",
            r.text
        );
    }

    /// `POST /introspect` for `token`.
    pub async fn introspect(&self, token: &str, auth: ClientAuth<'_>) -> reqwest::Response {
        self.post_form("/introspect", &[("token", token)], auth)
            .await
    }

    /// What `caller` (Basic, with its fixture secret) learns about `token`:
    /// 200, JSON, `Cache-Control: no-store`.
    pub async fn introspection(&self, caller: &str, token: &str) -> serde_json::Value {
        let r = Reply::read(self.introspect(token, auth_of(caller)).await).await;
        assert_eq!(r.status, 200, "introspection by {caller}: {}", r.text);
        assert_json(&r);
        assert_no_store(&r);
        r.json()
    }

    /// `token` is active for `caller`; returns the introspection answer.
    pub async fn assert_active(&self, caller: &str, token: &str, what: &str) -> serde_json::Value {
        let v = self.introspection(caller, token).await;
        assert_eq!(v["active"], true, "{what}: active for {caller}: {v}");
        v
    }

    /// `token` is inactive for `caller`: exactly `{"active": false}`, no
    /// other member (RFC 7662 §2.2).
    pub async fn assert_inactive(&self, caller: &str, token: &str, what: &str) {
        let v = self.introspection(caller, token).await;
        assert_eq!(
            v,
            serde_json::json!({ "active": false }),
            "{what}: inactive for {caller}"
        );
    }

    /// `POST /token` with `auth`.
    pub async fn token_with(
        &self,
        form: &[(&str, &str)],
        auth: ClientAuth<'_>,
    ) -> reqwest::Response {
        self.post_form("/token", form, auth).await
    }

    /// The refresh grant for `client_id` (its fixture authentication).
    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> reqwest::Response {
        self.token_with(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
            auth_of(client_id),
        )
        .await
    }

    /// The client credentials grant for `client_id` with `extra` parameters.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        self.token_with(&form, auth_of(client_id)).await
    }

    /// alice's user id (the `sub` of her tokens).
    pub async fn alice_id(&self) -> String {
        self.store
            .user_by_username(ALICE)
            .await
            .expect("store")
            .expect("alice")
            .user_id
    }
}

/// How a back-channel request authenticates the client.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// `client_secret_basic`, form-encoded as RFC 6749 §2.3.1 says.
    Basic(&'a str, &'a str),
    /// `client_secret_post`.
    Post(&'a str, &'a str),
    /// `client_id` only (`none`, public clients).
    Public(&'a str),
    /// No authentication at all.
    Nothing,
}

/// The fixture's authentication of `client_id`: Basic with its secret for a
/// confidential client, `client_id` only for the others.
pub fn auth_of(client_id: &str) -> ClientAuth<'_> {
    match secret_of(client_id) {
        Some(secret) => ClientAuth::Basic(client_id, secret),
        None => ClientAuth::Public(client_id),
    }
}

/// A response, read once.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn read(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        Self {
            status,
            headers,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text))
    }
}

pub fn assert_json(r: &Reply) {
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "content-type {ct:?}: {}",
        r.text
    );
}

/// `Cache-Control` has `no-store` among its values.
pub fn assert_no_store(r: &Reply) {
    let cc = r.header("cache-control").unwrap_or_default();
    assert!(
        cc.split(',')
            .any(|v| v.trim().eq_ignore_ascii_case("no-store")),
        "cache-control {cc:?}"
    );
}

/// An OAuth JSON error (RFC 6749 §5.2): `status`, `error`, JSON, no-store,
/// only `error`/`error_description`/`error_uri`, each in the RFC character
/// set; `never` must not come back anywhere in the answer.
pub async fn expect_oauth_error(
    r: reqwest::Response,
    status: u16,
    error: &str,
    never: &[&str],
) -> Reply {
    let a = Reply::read(r).await;
    assert_eq!(a.status, status, "status; body {}", a.text);
    assert_json(&a);
    assert_no_store(&a);
    let body = a.json();
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    for (key, value) in obj {
        assert!(
            ["error", "error_description", "error_uri"].contains(&key.as_str()),
            "unexpected member {key} in {body}"
        );
        let value = value
            .as_str()
            .unwrap_or_else(|| panic!("{key} is not a string: {body}"));
        assert!(
            value
                .bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
            "{key} {value:?} is outside the RFC 6749 character set"
        );
    }
    assert_eq!(body["error"], error, "{body}");
    for s in never.iter().filter(|s| !s.is_empty()) {
        assert!(!a.text.contains(s), "the body leaks {s:?}: {}", a.text);
    }
    a
}

/// A successful token response (RFC 6749 §5.1): 200, JSON, no-store,
/// `Bearer`; returns the body.
pub async fn expect_token_response(r: reqwest::Response) -> serde_json::Value {
    let a = Reply::read(r).await;
    assert_eq!(a.status, 200, "token response: {}", a.text);
    assert_json(&a);
    assert_no_store(&a);
    let body = a.json();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["access_token"].is_string(), "{body}");
    body
}

/// The `access_token` of a token response.
pub fn access_token(body: &serde_json::Value) -> String {
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {body}"))
        .to_owned()
}

/// The `refresh_token` of a token response.
pub fn refresh_token(body: &serde_json::Value) -> String {
    body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {body}"))
        .to_owned()
}

/// The claims of a JWT, read without verification (the tests that need a
/// verified token verify it against the JWKS themselves).
pub fn jwt_claims(token: &str) -> serde_json::Value {
    jwt_part(token, 1)
}

/// Segment `i` (0: header, 1: claims) of a JWT, decoded.
pub fn jwt_part(token: &str, i: usize) -> serde_json::Value {
    let seg = token
        .split('.')
        .nth(i)
        .unwrap_or_else(|| panic!("not a JWT: {token}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg)
        .unwrap_or_else(|e| panic!("JWT segment {i} is not base64url ({e}): {token}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT segment {i} is not JSON ({e})"))
}
