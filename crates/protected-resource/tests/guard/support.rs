//! The test rig: a mock authorization server on a real loopback port (JWKS,
//! metadata, introspection; every hit counted), keys made here with
//! aws-lc-rs, a small protected app driven in process, and checks of the
//! RFC 6750 answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::handler::Handler as _;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tessera_protected_resource::{Guard, GuardConfig, ManualClock, TokenClaims};
use tokio::sync::{Notify, Semaphore, oneshot};

/// This resource's identifier: the `aud` its tokens carry.
pub const RESOURCE: &str = "https://photos.example";
/// A fixed start time (2027), so expiry arithmetic is readable.
pub const T0: i64 = 1_800_000_000;
pub const RS_CLIENT: &str = "photo-api";
pub const RS_SECRET: &str = "photo-api-secret-0123456789-0123456789";

/// How a mock endpoint answers.
#[derive(Debug, Clone, Default)]
pub enum Reply {
    #[default]
    Normal,
    Status(u16),
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with this JSON instead of the normal answer.
    Json(Value),
}

#[derive(Default)]
pub struct MockState {
    pub jwks: Mutex<Vec<Value>>,
    pub jwks_reply: Mutex<Reply>,
    pub jwks_hits: AtomicUsize,
    pub metadata_issuer: Mutex<Option<String>>,
    pub metadata_hits: AtomicUsize,
    /// Answers by token; anything else is `{"active": false}`.
    pub introspection: Mutex<HashMap<String, Value>>,
    pub introspection_reply: Mutex<Reply>,
    pub introspection_hits: AtomicUsize,
    /// The form bodies received, to check what was sent.
    pub introspection_forms: Mutex<Vec<Vec<(String, String)>>>,
    /// While set, introspection calls wait for a permit (after `arrived`).
    pub hold: Mutex<Option<Arc<Semaphore>>>,
    pub arrived: Notify,
}

pub struct MockAs {
    pub base: String,
    pub state: Arc<MockState>,
    _shutdown: oneshot::Sender<()>,
}

impl MockAs {
    pub async fn start() -> Self {
        init_log_capture();
        let state = Arc::new(MockState::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let app = Router::new()
            .route("/jwks.json", get(jwks))
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/introspect", post(introspect))
            .with_state((state.clone(), base.clone()));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            base,
            state,
            _shutdown: tx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn issuer(&self) -> &str {
        &self.base
    }

    pub fn publish(&self, jwk: Value) {
        self.state.jwks.lock().unwrap().push(jwk);
    }

    pub fn unpublish_all(&self) {
        self.state.jwks.lock().unwrap().clear();
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn metadata_hits(&self) -> usize {
        self.state.metadata_hits.load(Ordering::SeqCst)
    }

    pub fn introspection_hits(&self) -> usize {
        self.state.introspection_hits.load(Ordering::SeqCst)
    }

    pub fn set_jwks_reply(&self, r: Reply) {
        *self.state.jwks_reply.lock().unwrap() = r;
    }

    pub fn set_introspection_reply(&self, r: Reply) {
        *self.state.introspection_reply.lock().unwrap() = r;
    }

    /// The AS will call `token` active with these members (over the
    /// defaults of [`active_answer`]).
    pub fn activate(&self, token: &str, answer: Value) {
        self.state
            .introspection
            .lock()
            .unwrap()
            .insert(token.to_owned(), answer);
    }

    /// A JWT-mode config reading this server's JWKS directly.
    pub fn jwt_config(&self, clock: &ManualClock) -> GuardConfig {
        GuardConfig::jwt(self.issuer(), RESOURCE)
            .jwks_uri(&self.url("/jwks.json"))
            .clock(Arc::new(clock.clone()))
    }

    /// An introspection-mode config using this server's endpoint directly.
    pub fn introspection_config(&self, clock: &ManualClock) -> GuardConfig {
        GuardConfig::introspection(self.issuer(), RESOURCE, RS_CLIENT, RS_SECRET)
            .introspection_endpoint(&self.url("/introspect"))
            .clock(Arc::new(clock.clone()))
    }

    pub fn introspection_guard(&self, clock: &ManualClock) -> Guard {
        Guard::new(self.introspection_config(clock)).unwrap()
    }
}

type Mock = State<(Arc<MockState>, String)>;

fn reply(r: &Reply, normal: Value) -> Response {
    match r {
        Reply::Normal => axum::Json(normal).into_response(),
        Reply::Status(s) => StatusCode::from_u16(*s).unwrap().into_response(),
        Reply::Garbage => (StatusCode::OK, "<html>surprise</html>").into_response(),
        Reply::Json(v) => axum::Json(v.clone()).into_response(),
    }
}

async fn jwks(State((s, _)): Mock) -> Response {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let keys = s.jwks.lock().unwrap().clone();
    let r = s.jwks_reply.lock().unwrap().clone();
    reply(&r, json!({ "keys": keys }))
}

async fn metadata(State((s, base)): Mock) -> Response {
    s.metadata_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = s
        .metadata_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or(base.clone());
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/jwks.json"),
        "introspection_endpoint": format!("{base}/introspect"),
        "token_endpoint": format!("{base}/token"),
    }))
    .into_response()
}

async fn introspect(State((s, _)): Mock, headers: HeaderMap, body: String) -> Response {
    s.introspection_hits.fetch_add(1, Ordering::SeqCst);
    let hold = s.hold.lock().unwrap().clone();
    if let Some(gate) = hold {
        s.arrived.notify_one();
        let _permit = gate.acquire().await;
    }
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{RS_CLIENT}:{RS_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    s.introspection_forms.lock().unwrap().push(form.clone());
    let token = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let answer = s
        .introspection
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or(json!({"active": false}));
    let r = s.introspection_reply.lock().unwrap().clone();
    reply(&r, answer)
}

/// An introspection answer for an active token of this resource, with
/// `extra` members added or replaced (`null` removes one).
pub fn active_answer(issuer: &str, extra: Value) -> Value {
    let mut v = json!({
        "active": true,
        "iss": issuer,
        "sub": "alice",
        "aud": RESOURCE,
        "client_id": "printer",
        "scope": "photos:read photos:write",
        "exp": T0 + 600,
        "iat": T0,
        "jti": "jti-1",
        "token_type": "Bearer",
    });
    merge(&mut v, extra);
    v
}

fn merge(v: &mut Value, extra: Value) {
    if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), extra) {
        for (k, x) in extra {
            if x.is_null() {
                obj.remove(&k);
            } else {
                obj.insert(k, x);
            }
        }
    }
}

/// The claims of a good access token for this resource, with `extra`
/// members added or replaced (`null` removes one).
pub fn claims(issuer: &str, extra: Value) -> Value {
    let mut v = json!({
        "iss": issuer,
        "sub": "alice",
        "aud": RESOURCE,
        "client_id": "printer",
        "scope": "photos:read photos:write",
        "iat": T0,
        "exp": T0 + 600,
        "jti": "jti-1",
    });
    merge(&mut v, extra);
    v
}

/// A signing key made in the test, with its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// The raw public key (an uncompressed SEC1 point or 32 Ed25519 bytes),
    /// for the algorithm-confusion tests.
    pub public_bytes: Vec<u8>,
}

impl TestKey {
    pub fn es256(kid: &str) -> Self {
        let pkcs8 = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .unwrap()
            .to_pkcs8v1()
            .unwrap();
        let der = pkcs8.as_ref().to_vec();
        let pair =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let jwk = json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            "kid": kid, "alg": "ES256", "use": "sig",
        });
        Self {
            kid: kid.into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(&der),
            jwk,
            public_bytes: point,
        }
    }

    pub fn eddsa(kid: &str) -> Self {
        let der = Ed25519KeyPair::generate()
            .unwrap()
            .to_pkcs8v1()
            .unwrap()
            .as_ref()
            .to_vec();
        let pair = Ed25519KeyPair::from_pkcs8(&der).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        let jwk = json!({
            "kty": "OKP", "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(&public),
            "kid": kid, "alg": "EdDSA", "use": "sig",
        });
        Self {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(&der),
            jwk,
            public_bytes: public,
        }
    }

    /// The header of a proper access token: this key's alg and kid,
    /// `typ: at+jwt`.
    pub fn header(&self) -> Header {
        let mut h = Header::new(self.alg);
        h.typ = Some("at+jwt".into());
        h.kid = Some(self.kid.clone());
        h
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.header(), claims)
    }

    pub fn sign_with(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).unwrap()
    }
}

/// A JWT from raw header and claims JSON and a signature segment, for
/// tokens no library would make.
pub fn raw_jwt(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// The protected app: `GET /photos` needs `photos:read`, `POST /photos`
/// `photos:write`, `POST /echo` any valid token (and echoes the body the
/// handler received).
pub fn app(guard: &Guard) -> Router {
    Router::new()
        .route(
            "/photos",
            get(show_claims.layer(guard.require("photos:read")))
                .post(show_claims.layer(guard.require("photos:write"))),
        )
        .route("/echo", post(echo.layer(guard.layer())))
}

async fn show_claims(c: TokenClaims) -> axum::Json<Value> {
    axum::Json(json!({
        "sub": c.subject,
        "client_id": c.client_id,
        "scopes": c.scopes,
        "exp": c.expires_at,
        "aud": c.audience,
        "iss": c.issuer,
        "jti": c.jti,
    }))
}

async fn echo(_c: TokenClaims, body: String) -> String {
    body
}

/// An answer, read once.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The `WWW-Authenticate` challenge's attributes, checked for RFC 6750
    /// §3 syntax: scheme `Bearer`, each attribute once, quoted values in
    /// the allowed character set, a realm.
    pub fn challenge(&self) -> HashMap<String, String> {
        let all: Vec<_> = self.headers.get_all("www-authenticate").iter().collect();
        assert_eq!(all.len(), 1, "one challenge: {all:?}");
        parse_challenge(all[0].to_str().unwrap())
    }

    /// `401` with a bare challenge: no error code (RFC 6750 §3.1).
    pub fn assert_no_credentials(&self) {
        assert_eq!(self.status, 401, "{self:?}");
        let c = self.challenge();
        assert_eq!(c.keys().collect::<Vec<_>>(), ["realm"], "{c:?}");
    }

    /// `status` with `error` in the challenge and in the JSON body.
    pub fn assert_error(&self, status: u16, error: &str) -> HashMap<String, String> {
        assert_eq!(self.status, status, "{self:?}");
        let c = self.challenge();
        assert_eq!(c.get("error").map(String::as_str), Some(error), "{c:?}");
        assert!(c.contains_key("error_description"), "{c:?}");
        assert_eq!(self.json()["error"], error, "{}", self.body);
        assert_eq!(self.header("cache-control"), Some("no-store"));
        c
    }

    pub fn assert_invalid_token(&self) -> String {
        self.assert_error(401, "invalid_token")["error_description"].clone()
    }

    pub fn assert_invalid_request(&self) -> String {
        self.assert_error(400, "invalid_request")["error_description"].clone()
    }

    /// `503`, no challenge, no pass.
    pub fn assert_unavailable(&self) {
        assert_eq!(self.status, 503, "{self:?}");
        assert!(self.headers.get("www-authenticate").is_none());
        assert_eq!(self.json()["error"], "temporarily_unavailable");
        assert!(self.header("retry-after").is_some());
    }
}

pub fn parse_challenge(v: &str) -> HashMap<String, String> {
    let mut rest = v
        .strip_prefix("Bearer ")
        .unwrap_or_else(|| panic!("scheme: {v}"));
    let mut out = HashMap::new();
    loop {
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("unquoted value in {v}"));
        // No `"` or `\` in the allowed set, so the next quote closes.
        let (inner, after) = after
            .split_once('"')
            .unwrap_or_else(|| panic!("unterminated {name} in {v}"));
        assert!(
            inner
                .bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
            "{name} outside the RFC 6750 character set: {v}"
        );
        assert!(
            ["realm", "scope", "error", "error_description", "error_uri"].contains(&name),
            "unknown attribute {name:?} in {v}"
        );
        assert!(
            out.insert(name.to_owned(), inner.to_owned()).is_none(),
            "{name} twice in {v}"
        );
        if after.is_empty() {
            break;
        }
        rest = after
            .strip_prefix(", ")
            .unwrap_or_else(|| panic!("bad separator in {v}"));
    }
    assert!(out.contains_key("realm"), "no realm in {v}");
    out
}

pub async fn send(app: &Router, req: Request<Body>) -> Answer {
    let r = tower::Service::call(&mut app.clone(), req).await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// `GET /photos` with `Authorization: Bearer token`.
pub fn get_photos(token: &str) -> Request<Body> {
    Request::get("/photos")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// `POST /photos` with `Authorization: Bearer token`.
pub fn post_photos(token: &str) -> Request<Body> {
    Request::post("/photos")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// Everything logged by any test of this binary, at TRACE.
static LOGS: std::sync::LazyLock<Mutex<Vec<u8>>> = std::sync::LazyLock::new(Default::default);

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
    let _ = tracing_subscriber::fmt()
        .with_writer(|| CaptureWriter)
        .with_env_filter("trace")
        .with_ansi(false)
        .try_init();
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

/// A mock AS publishing one ES256 key, a JWT-mode guard at `T0`, and the
/// app behind it.
pub struct JwtFixture {
    pub mock: MockAs,
    pub clock: ManualClock,
    pub key: TestKey,
    pub guard: Guard,
    pub app: Router,
}

impl JwtFixture {
    pub async fn start() -> Self {
        Self::start_with(|c| c).await
    }

    pub async fn start_with(configure: impl FnOnce(GuardConfig) -> GuardConfig) -> Self {
        let mock = MockAs::start().await;
        let clock = ManualClock::new(T0);
        let key = TestKey::es256("k1");
        mock.publish(key.jwk.clone());
        let guard = Guard::new(configure(mock.jwt_config(&clock))).unwrap();
        let app = app(&guard);
        Self {
            mock,
            clock,
            key,
            guard,
            app,
        }
    }

    /// A good token signed by the published key, with `extra` claims.
    pub fn token(&self, extra: Value) -> String {
        self.key.sign(&claims(self.mock.issuer(), extra))
    }

    pub async fn get(&self, token: &str) -> Answer {
        send(&self.app, get_photos(token)).await
    }
}
