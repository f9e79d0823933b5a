//! The real authorization server (behind a layer that counts `/token`
//! requests) and the real photo API behind the guard, both on loopback, and
//! a cookie-keeping "browser" that fills in the AS's HTML forms.
//!
//! Test-only (never a dependency of a shipped crate): it panics on any
//! failure, as a test should.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scraper::{Html, Selector};
use tessera_authorization_server::admin::{Admin, ClientSpec, ResourceSpec};
use tessera_authorization_server::clock::SystemClock;
use tessera_authorization_server::{AppState, ServerConfig};
use tessera_client::OAuthClient;
use tessera_core::redirect_uri::Mode;
use tessera_core::secrets::SecretString;
use tessera_photo_api::{PhotoApi, PhotoStore};
use tessera_protected_resource::{Guard, GuardConfig};
use tessera_runtime::SystemRandomness;
use tessera_store::SqliteStore;

pub const PHOTOS: &str = "http://localhost:9002";
pub const CLIENT_ID: &str = "photo-printer";
pub const CLIENT_SECRET: &str = "printer-secret-0123456789-0123456789-xyz";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9000/callback";
const API_SECRET: &str = "photo-api-secret-0123456789-0123456789-x";
pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "alice-password-1";

pub struct Servers {
    pub issuer: String,
    pub photos: String,
    /// The client's registered redirect URI.
    pub redirect_uri: String,
    /// How many requests reached the AS's `/token`.
    token_requests: Arc<AtomicUsize>,
    /// How many of them authenticated with HTTP Basic.
    basic_token_requests: Arc<AtomicUsize>,
    /// The AS's administration, for what an operator does behind the
    /// client's back.
    admin: Admin,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn spec(id: &str, secret: &str, redirect: &[&str], scopes: &[&str], grants: &[&str]) -> ClientSpec {
    ClientSpec {
        client_id: id.into(),
        client_secret: Some(SecretString::new(secret)),
        redirect_uris: redirect.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        grant_types: grants.iter().map(|s| s.to_string()).collect(),
        name: Some("Photo Printer".into()),
        require_pkce: true,
        introspect: false,
        resource: None,
        access_token_format: None,
        id_token_signed_response_alg: None,
        post_logout_redirect_uris: Vec::new(),
    }
}

/// The AS and the photo API. The guard uses introspection with no cache, so
/// revoking an access token at the AS makes the next call a 401
/// `invalid_token` at once (no clock to wait for).
pub async fn start() -> Servers {
    start_with_redirect_uri(REDIRECT_URI).await
}

/// [`start`], with the photo printer registered for `redirect_uri`.
pub async fn start_with_redirect_uri(redirect_uri: &str) -> Servers {
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
    admin
        .register_client(
            &spec(
                CLIENT_ID,
                CLIENT_SECRET,
                &[redirect_uri],
                &["photos:read", "photos:write"],
                &["authorization_code", "refresh_token"],
            ),
            false,
            0,
        )
        .await
        .unwrap();
    let mut api = spec("photo-api", API_SECRET, &[], &[], &["client_credentials"]);
    api.introspect = true;
    api.resource = Some(PHOTOS.into());
    admin.register_client(&api, false, 0).await.unwrap();
    admin
        .add_user(ALICE, &SecretString::new(ALICE_PASSWORD), 0)
        .await
        .unwrap();
    let config = ServerConfig::new(&issuer, PHOTOS).unwrap();
    let state = AppState::new(store, config, Arc::new(SystemClock), rng)
        .await
        .unwrap();

    // The AS's own router, wrapped so the tests can see on the AS side
    // whether a token request arrived.
    let token_requests = Arc::new(AtomicUsize::new(0));
    let basic_token_requests = Arc::new(AtomicUsize::new(0));
    let (counter, basic) = (token_requests.clone(), basic_token_requests.clone());
    let app = tessera_authorization_server::router(state).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
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
    tokio::spawn(async move { axum::serve(listener, app).await });

    let api_dir = tempfile::tempdir().unwrap();
    let photo_store = PhotoStore::connect(&format!(
        "sqlite://{}",
        api_dir.path().join("photos.db").display()
    ))
    .await
    .unwrap();
    let guard = Guard::new(
        GuardConfig::introspection(&issuer, PHOTOS, "photo-api", API_SECRET)
            .introspection_cache_max(Duration::ZERO),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let photos = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        tessera_photo_api::serve(
            listener,
            PhotoApi::new(photo_store, Arc::new(SystemClock)),
            &guard,
            std::future::pending(),
        )
        .await
    });
    Servers {
        issuer,
        photos,
        redirect_uri: redirect_uri.to_owned(),
        token_requests,
        basic_token_requests,
        admin,
        _dirs: (as_dir, api_dir),
    }
}

impl Servers {
    /// Changes alice's password at the AS, which ends every grant of hers:
    /// her access tokens turn inactive (the photo API answers 401
    /// `invalid_token`) and her refresh tokens `invalid_grant`.
    pub async fn end_alices_grants(&self) {
        let now = tessera_runtime::Clock::now(&SystemClock);
        let changed = self
            .admin
            .set_password(ALICE, &SecretString::new("alice-new-password-2"), now)
            .await
            .unwrap();
        assert!(changed);
    }

    pub fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }

    pub fn basic_token_requests(&self) -> usize {
        self.basic_token_requests.load(Ordering::SeqCst)
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

/// A person's browser: cookies kept, redirects shown rather than followed.
pub struct Browser {
    pub http: reqwest::Client,
    base: String,
    redirect_uri: String,
}

impl Browser {
    pub fn new(servers: &Servers) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: servers.issuer.clone(),
            redirect_uri: servers.redirect_uri.clone(),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{}", self.base, url)
        } else {
            url.to_owned()
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(self.absolute(url)).send().await.unwrap()
    }

    pub async fn submit(&self, form: Form) -> reqwest::Response {
        self.http
            .post(self.absolute(&form.action))
            .form(&form.fields)
            .send()
            .await
            .unwrap()
    }

    pub async fn form_at(&self, url: &str) -> Form {
        let r = self.get(url).await;
        assert_eq!(r.status(), 200, "form page {url}");
        Form::parse(&r.text().await.unwrap())
    }

    /// From the authorization URL to the redirect back to the client, as
    /// alice, pressing `decision` ("approve" or "deny") at consent. Returns
    /// the callback's query string.
    pub async fn authorize(&self, url: &url::Url, decision: &str) -> String {
        self.authorize_granting(url, decision, None).await
    }

    /// [`Browser::authorize`], leaving only `granted` checked at consent
    /// (all the requested scopes when `None`).
    pub async fn authorize_granting(
        &self,
        url: &url::Url,
        decision: &str,
        granted: Option<&[&str]>,
    ) -> String {
        let r = self.get(url.as_str()).await;
        assert!(r.status().is_redirection(), "authorize: {}", r.status());
        let mut loc = location(&r);
        if loc.starts_with("/login") {
            let mut form = self.form_at(&loc).await;
            form.set("username", ALICE).set("password", ALICE_PASSWORD);
            let r = self.submit(form).await;
            assert_eq!(r.status(), 303, "login");
            loc = location(&r);
        }
        if loc.starts_with("/consent") {
            let mut form = self.form_at(&loc).await;
            if let Some(granted) = granted {
                form.fields
                    .retain(|(k, v)| k != "scope" || granted.contains(&v.as_str()));
            }
            form.fields.push(("decision".into(), decision.into()));
            let r = self.submit(form).await;
            assert_eq!(r.status(), 303, "consent");
            loc = location(&r);
        }
        let callback = url::Url::parse(&loc).unwrap();
        assert!(
            loc.starts_with(&self.redirect_uri),
            "back to the client: {loc}"
        );
        callback.query().unwrap_or_default().to_owned()
    }
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The page's first form: hidden and text inputs, checked checkboxes.
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    pub fn parse(html: &str) -> Self {
        let doc = Html::parse_document(html);
        let form = doc
            .select(&Selector::parse("form").unwrap())
            .next()
            .expect("a form");
        let action = form.value().attr("action").unwrap_or("").to_owned();
        let mut fields = Vec::new();
        for input in form.select(&Selector::parse("input").unwrap()) {
            let el = input.value();
            let Some(name) = el.attr("name") else {
                continue;
            };
            if el.attr("type") == Some("checkbox") && el.attr("checked").is_none() {
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
}

/// Replaces (or with `None` removes) one parameter of a query string.
pub fn with_param(query: &str, name: &str, value: Option<&str>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != name {
            out.append_pair(&k, &v);
        }
    }
    if let Some(v) = value {
        out.append_pair(name, v);
    }
    out.finish()
}
