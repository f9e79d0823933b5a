//! Server metadata, RFC 8414, and issuer identification, RFC 9207
//! (docs/conformance.md §1I, items 68-69).
//!
//! The central test, [`conformance_1i_69_metadata_matches_behaviour`],
//! reads the document and exercises every advertised value through the
//! endpoints the document names, and checks that well-known values the
//! document does not advertise are refused. It runs for an issuer at the
//! root and for an issuer with a path.

use std::collections::BTreeSet;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::harness::*;

const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

/// Every member the document may have: each one is checked below. A new
/// member must come with a check.
const CHECKED_MEMBERS: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "revocation_endpoint",
    "introspection_endpoint",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "code_challenge_methods_supported",
    "token_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_methods_supported",
    "scopes_supported",
    "authorization_response_iss_parameter_supported",
];

/// Values from the IANA registries (and OIDC) that a server might
/// advertise. Each one is either advertised and exercised, or not
/// advertised and refused.
const RESPONSE_TYPES: &[&str] = &[
    "code",
    "token",
    "id_token",
    "none",
    "code token",
    "code id_token",
    "id_token token",
    "code id_token token",
];
const RESPONSE_MODES: &[&str] = &[
    "query",
    "fragment",
    "form_post",
    "query.jwt",
    "fragment.jwt",
    "form_post.jwt",
    "jwt",
    "web_message",
];
const PKCE_METHODS: &[&str] = &["S256", "plain", "S512"];
const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "implicit",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:openid:params:grant-type:ciba",
];
const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "none",
    "client_secret_jwt",
    "private_key_jwt",
];
/// Scopes no fixture client or resource has.
const UNADVERTISED_SCOPES: &[&str] = &["zzz", "offline_access", "admin"];

/// The metadata document of `app`, at the RFC 8414 §3.1 location for its
/// issuer (path inserted after the well-known prefix).
async fn fetch_metadata(app: &TestApp) -> (Reply, Value) {
    let r = app
        .http()
        .get(app.url(&format!("{WELL_KNOWN}{}", app.base_path())))
        .send()
        .await
        .unwrap();
    let r = Reply::read(r).await;
    assert_eq!(r.status, 200, "metadata: {}", r.text);
    assert_json(&r);
    let doc = r.json();
    assert!(doc.is_object(), "{doc}");
    (r, doc)
}

/// The server as the document describes it.
struct Described<'a> {
    app: &'a TestApp,
    doc: Value,
}

impl Described<'_> {
    fn issuer(&self) -> &str {
        self.doc["issuer"].as_str().expect("issuer")
    }

    fn url(&self, member: &str) -> String {
        self.doc[member]
            .as_str()
            .unwrap_or_else(|| panic!("{member} is not a string: {}", self.doc))
            .to_owned()
    }

    fn list(&self, member: &str) -> Vec<String> {
        self.doc[member]
            .as_array()
            .unwrap_or_else(|| panic!("{member} is not an array: {}", self.doc))
            .iter()
            .map(|v| {
                v.as_str()
                    .unwrap_or_else(|| panic!("{member} holds a non-string: {v}"))
                    .to_owned()
            })
            .collect()
    }

    fn advertises(&self, member: &str, value: &str) -> bool {
        self.list(member).iter().any(|v| v == value)
    }

    /// The candidates and whatever else the document lists under `member`.
    fn values(&self, member: &str, candidates: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = candidates.iter().map(|s| s.to_string()).collect();
        for v in self.list(member) {
            if !all.contains(&v) {
                all.push(v);
            }
        }
        all
    }

    /// `GET {authorization_endpoint}?{request}` in `browser`.
    async fn authorize(&self, browser: &Browser, request: &AuthRequest) -> reqwest::Response {
        browser
            .get(&format!(
                "{}?{}",
                self.url("authorization_endpoint"),
                request.query()
            ))
            .await
    }

    /// The front channel as alice, logging in and approving on whatever
    /// pages the server sends her to; returns the final `Location`.
    async fn front_channel(&self, request: &AuthRequest) -> String {
        let browser = self.app.browser();
        let r = self.authorize(&browser, request).await;
        assert!(r.status().is_redirection(), "authorize: {}", r.status());
        let mut loc = location(&r);
        let base = self.app.base_path();
        for _ in 0..3 {
            if loc.starts_with(&request.redirect_uri) {
                break;
            }
            if loc.starts_with(&format!("{base}/login?")) {
                let r = browser.login(&loc, ALICE, ALICE_PASSWORD).await;
                assert_eq!(r.status(), 303, "login");
                loc = location(&r);
            } else if loc.starts_with(&format!("{base}/consent?")) {
                let form = browser.form_at(&loc).await;
                let r = browser.submit(&form, Some(("decision", "approve"))).await;
                assert_eq!(r.status(), 303, "consent");
                loc = location(&r);
            } else {
                panic!("unexpected redirect during the dance: {loc}");
            }
        }
        assert!(
            loc.starts_with(&format!("{}?", request.redirect_uri)),
            "{loc}"
        );
        // RFC 9207: iss in every authorization response, equal to the
        // metadata's issuer.
        assert_eq!(param(&loc, "iss").as_deref(), Some(self.issuer()), "{loc}");
        loc
    }

    /// A code for `request` (which must succeed).
    async fn code(&self, request: AuthRequest) -> Flow {
        let loc = self.front_channel(&request).await;
        assert_eq!(param(&loc, "state").as_deref(), Some("xyz"), "{loc}");
        request.into_flow(&loc)
    }

    /// The authorization request is refused at the redirect URI with
    /// `error`: no code, no token, `iss` present.
    async fn refused_at_authorize(&self, request: &AuthRequest, error: &str, what: &str) {
        let r = self.authorize(&self.app.browser(), request).await;
        let loc = location(&r);
        assert!(r.status().is_redirection(), "{what}: {} {loc}", r.status());
        assert!(
            loc.starts_with(&format!("{}?", request.redirect_uri)),
            "{what}: {loc}"
        );
        assert!(!loc.contains('#'), "{what}: nothing in a fragment: {loc}");
        assert!(!loc.contains("access_token"), "{what}: {loc}");
        assert!(param(&loc, "code").is_none(), "{what}: {loc}");
        assert_eq!(
            param(&loc, "error").as_deref(),
            Some(error),
            "{what}: {loc}"
        );
        assert_eq!(
            param(&loc, "iss").as_deref(),
            Some(self.issuer()),
            "{what}: {loc}"
        );
    }

    async fn post(
        &self,
        member: &str,
        form: &[(&str, &str)],
        auth: ClientAuth<'_>,
    ) -> reqwest::Response {
        self.app.post_form_to(&self.url(member), form, auth).await
    }

    async fn redeem(&self, flow: &Flow, auth: ClientAuth<'_>) -> Value {
        let body =
            expect_token_response(self.post("token_endpoint", &code_form(flow), auth).await).await;
        self.check_access_token(&access_token(&body)).await;
        body
    }

    /// The access token names the metadata's issuer, is signed by a key the
    /// document's `jwks_uri` publishes, and is active at its introspection
    /// endpoint.
    async fn check_access_token(&self, at: &str) {
        let claims = jwt_claims(at);
        assert_eq!(claims["iss"], self.issuer(), "{claims}");
        let kid = jwt_part(at, 0)["kid"].as_str().expect("kid").to_owned();
        let jwks: jsonwebtoken::jwk::JwkSet = self
            .app
            .http()
            .get(self.url("jwks_uri"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .expect("a JWK set at jwks_uri");
        let jwk = jwks.find(&kid).expect("the signing key is published");
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::decode_header(at).unwrap().alg);
        v.set_issuer(&[self.issuer()]);
        v.validate_aud = false;
        v.validate_exp = false;
        jsonwebtoken::decode::<Value>(at, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
            .expect("verifies against jwks_uri");
        let v = self.introspect(at, auth_of("rs1")).await;
        assert_eq!(v["active"], true, "{v}");
        assert_eq!(v["iss"], self.issuer(), "{v}");
    }

    async fn introspect(&self, token: &str, auth: ClientAuth<'_>) -> Value {
        let r = Reply::read(
            self.post("introspection_endpoint", &[("token", token)], auth)
                .await,
        )
        .await;
        assert_eq!(r.status, 200, "introspection with {auth:?}: {}", r.text);
        r.json()
    }

    async fn refresh(&self, rt: &str, auth: ClientAuth<'_>) -> reqwest::Response {
        self.post(
            "token_endpoint",
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            auth,
        )
        .await
    }
}

/// A client assertion (RFC 7523) for `client_id`: HS256 with the client's
/// secret (`client_secret_jwt`) or ES256 with some key (`private_key_jwt`).
fn client_assertion(client_id: &str, audience: &str, method: &str) -> String {
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": new_verifier(),
        "iat": T0,
        "exp": T0 + 60,
    });
    match method {
        "client_secret_jwt" => jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret_of(client_id).expect("secret").as_bytes()),
        )
        .unwrap(),
        _ => jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &foreign_key()).unwrap(),
    }
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How `confidential` (with its fixture secret) or `public` authenticates
/// with `method`; `None` for the assertion methods.
fn secret_or_none<'a>(
    method: &str,
    confidential: &'a str,
    public: &'a str,
) -> Option<(&'a str, ClientAuth<'a>)> {
    let secret = || secret_of(confidential).expect("a confidential client");
    match method {
        "client_secret_basic" => Some((confidential, ClientAuth::Basic(confidential, secret()))),
        "client_secret_post" => Some((confidential, ClientAuth::Post(confidential, secret()))),
        "none" => Some((public, ClientAuth::Public(public))),
        _ => None,
    }
}

/// The code grant of `flow`.
fn code_form(flow: &Flow) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", flow.code.as_str()),
        ("redirect_uri", flow.redirect_uri.as_str()),
        ("code_verifier", flow.verifier.as_str()),
    ]
}

/// Everything the document says, done; everything it does not say, refused.
async fn exercise_metadata(app: &TestApp) {
    let (_, doc) = fetch_metadata(app).await;
    let s = Described { app, doc };

    // --- the document itself ----------------------------------------------
    for key in s.doc.as_object().unwrap().keys() {
        assert!(
            CHECKED_MEMBERS.contains(&key.as_str()),
            "`{key}` is advertised, but this test does not exercise it"
        );
    }
    assert_eq!(s.issuer(), app.issuer(), "issuer, exactly (RFC 8414 §3.3)");
    for member in [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let url = s.url(member);
        assert!(
            url.starts_with(&format!("{}/", s.issuer())),
            "{member} {url} is under the issuer"
        );
    }
    assert_eq!(
        s.doc["authorization_response_iss_parameter_supported"], true,
        "RFC 9207"
    );

    // --- response types ---------------------------------------------------
    for rt in s.values("response_types_supported", RESPONSE_TYPES) {
        let request = AuthRequest::new("c1").set("response_type", &rt);
        if s.advertises("response_types_supported", &rt) {
            match rt.as_str() {
                "code" => {
                    let flow = s.code(request).await;
                    s.redeem(&flow, auth_of("c1")).await;
                }
                other => panic!("response type {other} is advertised but not exercised"),
            }
        } else {
            s.refused_at_authorize(&request, "unsupported_response_type", &rt)
                .await;
        }
    }

    // --- response modes ---------------------------------------------------
    for mode in s.values("response_modes_supported", RESPONSE_MODES) {
        let request = AuthRequest::new("c1").set("response_mode", &mode);
        if s.advertises("response_modes_supported", &mode) {
            match mode.as_str() {
                "query" => {
                    let flow = s.code(request).await;
                    s.redeem(&flow, auth_of("c1")).await;
                }
                other => panic!("response mode {other} is advertised but not exercised"),
            }
        } else {
            s.refused_at_authorize(&request, "invalid_request", &mode)
                .await;
        }
    }

    // --- PKCE methods -----------------------------------------------------
    for method in s.values("code_challenge_methods_supported", PKCE_METHODS) {
        let request = AuthRequest::new("p1").set("code_challenge_method", &method);
        if s.advertises("code_challenge_methods_supported", &method) {
            match method.as_str() {
                "S256" => {
                    // A public client: PKCE is all that binds the code.
                    let flow = s.code(request).await;
                    s.redeem(&flow, auth_of("p1")).await;
                }
                other => panic!("PKCE method {other} is advertised but not exercised"),
            }
        } else {
            // With a challenge of that method's form: for plain, the
            // verifier itself.
            let request = if method == "plain" {
                let verifier = request.verifier.clone();
                request.set("code_challenge", &verifier)
            } else {
                request
            };
            s.refused_at_authorize(&request, "invalid_request", &method)
                .await;
        }
    }
    // RFC 7636 §4.3: no method means plain, which is not advertised.
    let request = AuthRequest::new("p1").remove("code_challenge_method");
    s.refused_at_authorize(&request, "invalid_request", "no method (plain)")
        .await;

    // --- grant types --------------------------------------------------------
    for grant in s.values("grant_types_supported", GRANT_TYPES) {
        if s.advertises("grant_types_supported", &grant) {
            match grant.as_str() {
                "authorization_code" => {
                    let flow = s.code(AuthRequest::new("c1")).await;
                    s.redeem(&flow, auth_of("c1")).await;
                }
                "refresh_token" => {
                    let flow = s.code(AuthRequest::new("c1")).await;
                    let body = s.redeem(&flow, auth_of("c1")).await;
                    let next = expect_token_response(
                        s.refresh(&refresh_token(&body), auth_of("c1")).await,
                    )
                    .await;
                    s.check_access_token(&access_token(&next)).await;
                }
                "client_credentials" => {
                    let body = expect_token_response(
                        s.post(
                            "token_endpoint",
                            &[("grant_type", "client_credentials")],
                            auth_of("svc"),
                        )
                        .await,
                    )
                    .await;
                    s.check_access_token(&access_token(&body)).await;
                }
                other => panic!("grant type {other} is advertised but not exercised"),
            }
        } else {
            for client_id in ["c1", "svc", "p1"] {
                let r = s
                    .post(
                        "token_endpoint",
                        &[
                            ("grant_type", grant.as_str()),
                            ("username", ALICE),
                            ("password", ALICE_PASSWORD),
                            ("scope", "a"),
                        ],
                        auth_of(client_id),
                    )
                    .await;
                expect_oauth_error(r, 400, "unsupported_grant_type", &[ALICE_PASSWORD]).await;
            }
        }
    }

    // --- client authentication at the token endpoint -------------------------
    let token_endpoint = s.url("token_endpoint");
    for method in s.values("token_endpoint_auth_methods_supported", AUTH_METHODS) {
        let advertised = s.advertises("token_endpoint_auth_methods_supported", &method);
        match secret_or_none(&method, "c1", "p1") {
            Some((client_id, auth)) => {
                let flow = s.code(AuthRequest::new(client_id)).await;
                if advertised {
                    s.redeem(&flow, auth).await;
                } else {
                    let r = s.post("token_endpoint", &code_form(&flow), auth).await;
                    expect_oauth_error(r, 401, "invalid_client", &[]).await;
                }
            }
            None => {
                assert!(
                    !advertised,
                    "token endpoint auth method {method} is advertised but not exercised"
                );
                // A client assertion, with and without client_id: never
                // accepted.
                let assertion = client_assertion("svc", &token_endpoint, &method);
                for with_id in [true, false] {
                    let mut form = vec![
                        ("grant_type", "client_credentials"),
                        ("client_assertion_type", JWT_BEARER),
                        ("client_assertion", assertion.as_str()),
                    ];
                    if with_id {
                        form.push(("client_id", "svc"));
                    }
                    let r = s.post("token_endpoint", &form, ClientAuth::Nothing).await;
                    expect_oauth_error(r, 401, "invalid_client", &[]).await;
                }
            }
        }
    }

    // --- client authentication at the revocation endpoint ---------------------
    let revocation_endpoint = s.url("revocation_endpoint");
    for method in s.values("revocation_endpoint_auth_methods_supported", AUTH_METHODS) {
        let advertised = s.advertises("revocation_endpoint_auth_methods_supported", &method);
        let owner = if method == "none" { "p1" } else { "c1" };
        let flow = s.code(AuthRequest::new(owner)).await;
        let rt = refresh_token(&s.redeem(&flow, auth_of(owner)).await);
        let assertion = client_assertion(owner, &revocation_endpoint, &method);
        let (form, auth) = match secret_or_none(&method, "c1", "p1") {
            Some((_, auth)) => (vec![("token", rt.as_str())], auth),
            None => {
                assert!(
                    !advertised,
                    "revocation auth method {method} is advertised but not exercised"
                );
                let form = vec![
                    ("token", rt.as_str()),
                    ("client_id", owner),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", assertion.as_str()),
                ];
                (form, ClientAuth::Nothing)
            }
        };
        let r = s.post("revocation_endpoint", &form, auth).await;
        if advertised {
            let r = Reply::read(r).await;
            assert_eq!(r.status, 200, "revocation with {method}: {}", r.text);
            let r = s.refresh(&rt, auth_of(owner)).await;
            expect_oauth_error(r, 400, "invalid_grant", &[]).await;
        } else {
            expect_oauth_error(r, 401, "invalid_client", &[&rt]).await;
            // Not revoked.
            expect_token_response(s.refresh(&rt, auth_of(owner)).await).await;
        }
    }

    // --- client authentication at the introspection endpoint -------------------
    let introspection_endpoint = s.url("introspection_endpoint");
    let at = access_token(
        &s.redeem(&s.code(AuthRequest::new("c1")).await, auth_of("c1"))
            .await,
    );
    for method in s.values(
        "introspection_endpoint_auth_methods_supported",
        AUTH_METHODS,
    ) {
        let advertised = s.advertises("introspection_endpoint_auth_methods_supported", &method);
        // The only clients without a secret are public ones, which may not
        // introspect.
        let assertion = client_assertion("rs1", &introspection_endpoint, &method);
        let (form, auth) = match secret_or_none(&method, "rs1", "p1") {
            Some((_, auth)) => (vec![("token", at.as_str())], auth),
            None => {
                let form = vec![
                    ("token", at.as_str()),
                    ("client_id", "rs1"),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", assertion.as_str()),
                ];
                (form, ClientAuth::Nothing)
            }
        };
        let r = Reply::read(s.post("introspection_endpoint", &form, auth).await).await;
        if advertised {
            assert!(
                matches!(auth, ClientAuth::Basic(..) | ClientAuth::Post(..)),
                "introspection auth method {method} is advertised but not exercised"
            );
            assert_eq!(r.status, 200, "introspection with {method}: {}", r.text);
            assert_eq!(r.json()["active"], true, "introspection with {method}");
        } else {
            assert!(
                r.status == 401 || r.status == 403,
                "introspection with {method}: {} {}",
                r.status,
                r.text
            );
            assert!(!r.text.contains("active"), "{method}: {}", r.text);
        }
    }

    // --- scopes -------------------------------------------------------------
    let scopes = s.list("scopes_supported");
    assert!(!scopes.is_empty());
    for scope in &scopes {
        // c1 is registered with every scope of the fixture.
        let flow = s.code(AuthRequest::new("c1").scope(scope)).await;
        let body = s.redeem(&flow, auth_of("c1")).await;
        assert_eq!(body["scope"], scope.as_str(), "advertised scope {scope}");
    }
    let all = scopes.join(" ");
    let flow = s.code(AuthRequest::new("c1").scope(&all)).await;
    let body = s.redeem(&flow, auth_of("c1")).await;
    assert_eq!(body["scope"], all.as_str());
    for scope in UNADVERTISED_SCOPES {
        assert!(!scopes.iter().any(|s| s == scope), "{scope}");
        let request = AuthRequest::new("c1").scope(&format!("a {scope}"));
        s.refused_at_authorize(&request, "invalid_scope", scope)
            .await;
        let r = s
            .post(
                "token_endpoint",
                &[("grant_type", "client_credentials"), ("scope", scope)],
                auth_of("svc"),
            )
            .await;
        expect_oauth_error(r, 400, "invalid_scope", &[]).await;
    }

    // --- every endpoint answers ------------------------------------------------
    // (The others were used above.)
    let r = app.http().get(s.url("jwks_uri")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let jwks: Value = r.json().await.unwrap();
    assert!(
        jwks["keys"].as_array().is_some_and(|k| !k.is_empty()),
        "{jwks}"
    );
}

/// The stylesheet links of a page.
fn stylesheets(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("link[rel=stylesheet]").unwrap();
    doc.select(&sel)
        .filter_map(|l| l.value().attr("href").map(str::to_owned))
        .collect()
}

// =========================================================================
// 68. The document
// =========================================================================

#[tokio::test]
async fn conformance_1i_68_metadata_document() {
    let app = TestApp::spawn().await;
    let (r, doc) = fetch_metadata(&app).await;
    let issuer = app.issuer().to_owned();
    assert_eq!(doc["issuer"], issuer.as_str(), "exactly the issuer");
    let url = url::Url::parse(&issuer).expect("issuer is a URL");
    assert!(url.query().is_none() && url.fragment().is_none());
    assert!(
        r.header("cache-control")
            .is_some_and(|cc| !cc.contains("private")),
        "{:?}",
        r.header("cache-control")
    );

    // Required and recommended members.
    for (member, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/jwks.json"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
    ] {
        assert_eq!(doc[member], format!("{issuer}{path}"), "{member}");
    }
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["response_modes_supported"], json!(["query"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    let as_set = |member: &str| -> BTreeSet<String> {
        doc[member]
            .as_array()
            .unwrap_or_else(|| panic!("{member}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let set =
        |items: &[&str]| -> BTreeSet<String> { items.iter().map(|s| s.to_string()).collect() };
    assert_eq!(
        as_set("grant_types_supported"),
        set(&["authorization_code", "refresh_token", "client_credentials"])
    );
    for member in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        assert_eq!(
            as_set(member),
            set(&["client_secret_basic", "client_secret_post", "none"]),
            "{member}"
        );
    }
    assert_eq!(
        as_set("introspection_endpoint_auth_methods_supported"),
        set(&["client_secret_basic", "client_secret_post"])
    );
    // The registered scopes, and the OIDC scopes every code-flow client may
    // ask for.
    assert_eq!(
        doc["scopes_supported"],
        json!([
            "a", "address", "b", "c", "email", "openid", "phone", "profile"
        ])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);

    // Nothing OAuth 2.1 dropped, in any list.
    for (member, value) in doc.as_object().unwrap() {
        if let Some(items) = value.as_array() {
            for item in items {
                let item = item.as_str().unwrap();
                for banned in ["token", "password", "implicit", "plain"] {
                    assert_ne!(item, banned, "{member} lists {banned}");
                }
            }
        }
    }

    insta::with_settings!({ filters => vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]")] }, {
        insta::assert_json_snapshot!("metadata_document", doc);
    });
}

#[tokio::test]
async fn conformance_1i_68_https_issuer_and_endpoints() {
    // Production mode (as behind a TLS-terminating proxy): the issuer and
    // every endpoint are https (conformance `CheckDiscEndpointAllEndpointsAreHttps`).
    let app = TestApp::builder()
        .issuer("https://as.example")
        .spawn()
        .await;
    let r = app.http().get(app.url(WELL_KNOWN)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["issuer"], "https://as.example");
    for (member, value) in doc.as_object().unwrap() {
        if member.ends_with("_endpoint") || member == "jwks_uri" || member == "issuer" {
            let url = value.as_str().unwrap();
            assert!(url.starts_with("https://as.example"), "{member}: {url}");
        }
    }
}

#[tokio::test]
async fn conformance_1i_68_issuer_with_a_path() {
    let app = TestApp::builder().path("/tenant").spawn().await;
    let issuer = format!("{}/tenant", app.base);
    assert_eq!(app.issuer(), issuer);

    // RFC 8414 §3.1: the well-known prefix goes between host and path.
    let (_, doc) = fetch_metadata(&app).await;
    assert_eq!(doc["issuer"], issuer.as_str());
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/jwks.json"));
    // Not at the root's location, and no endpoint outside the path.
    for path in [
        WELL_KNOWN,
        "/authorize",
        "/token",
        "/revoke",
        "/introspect",
        "/jwks.json",
    ] {
        let r = app.http().get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }

    // The dance under the path, step by step.
    let browser = app.browser();
    let request = AuthRequest::new("c1");
    let r = browser
        .get(&format!("/tenant/authorize?{}", request.query()))
        .await;
    assert!(r.status().is_redirection());
    let login = location(&r);
    assert!(login.starts_with("/tenant/login?request="), "{login}");
    let page = browser.get(&login).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(Form::parse(&html).action, "/tenant/login");
    assert_eq!(stylesheets(&html), vec!["/tenant/static/tessera.css"]);
    let css = browser.get("/tenant/static/tessera.css").await;
    assert_eq!(css.status(), 200);
    // Error pages under the path are styled from there too.
    let r = browser.get("/tenant/authorize?client_id=nobody").await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        stylesheets(&r.text().await.unwrap()),
        vec!["/tenant/static/tessera.css"],
        "error page"
    );
    let r = browser.login(&login, ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let consent = location(&r);
    assert!(consent.starts_with("/tenant/consent?request="), "{consent}");
    let form = browser.form_at(&consent).await;
    assert_eq!(form.action, "/tenant/consent");
    let r = browser.submit(&form, Some(("decision", "approve"))).await;
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert_eq!(
        param(&back, "iss").as_deref(),
        Some(issuer.as_str()),
        "{back}"
    );
    let flow = request.into_flow(&back);
    let body = expect_token_response(
        app.post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", flow.code.as_str()),
                ("redirect_uri", flow.redirect_uri.as_str()),
                ("code_verifier", flow.verifier.as_str()),
            ],
            auth_of("c1"),
        )
        .await,
    )
    .await;
    let at = access_token(&body);
    assert_eq!(jwt_claims(&at)["iss"], issuer.as_str());
    let v = app.assert_active("rs1", &at, "token of the tenant").await;
    assert_eq!(v["iss"], issuer.as_str());
    app.revoke_ok(&refresh_token(&body), None, auth_of("c1"))
        .await;
    app.assert_inactive("rs1", &at, "after revocation").await;

    // And everything the document says holds there too.
    exercise_metadata(&app).await;
}

// =========================================================================
// 69. The document matches the behaviour
// =========================================================================

#[tokio::test]
async fn conformance_1i_69_metadata_matches_behaviour() {
    let app = TestApp::spawn().await;
    exercise_metadata(&app).await;
}

#[tokio::test]
async fn metadata_accepts_only_get() {
    let app = TestApp::spawn().await;
    let r = app.http().post(app.url(WELL_KNOWN)).send().await.unwrap();
    assert!(
        r.status() == 405 || r.status() == 404,
        "POST metadata: {}",
        r.status()
    );
}
