//! OpenID Connect rules beyond the certification modules: the discovery
//! document, UserInfo's refusals (RFC 6750), per-client ID-token algorithms,
//! and RP-initiated logout.

use serde_json::Value;
use tessera_authorization_server::clock::Clock as _;
use tessera_core::jwt::SigningAlgorithm;

use crate::harness::*;
use crate::oidc_basic_op::{
    id_token_of, oidc_app, oidc_request, oidc_tokens, set_alice_claims, userinfo_get,
    verify_id_token,
};

const DISCOVERY: &str = "/.well-known/openid-configuration";

async fn discovery(app: &TestApp, path: &str) -> Value {
    let r = app.http().get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    r.json().await.unwrap()
}

#[tokio::test]
async fn openid_configuration_document() {
    let app = TestApp::spawn().await;
    let doc = discovery(&app, DISCOVERY).await;
    insta::with_settings!({ filters => vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]")] }, {
        insta::assert_json_snapshot!("openid_configuration", doc);
    });
}

/// Both documents come from one function: every RFC 8414 member is in the
/// OIDC document with the same value.
#[tokio::test]
async fn openid_configuration_extends_the_rfc_8414_document() {
    let app = TestApp::spawn().await;
    let oauth = discovery(&app, "/.well-known/oauth-authorization-server").await;
    let oidc = discovery(&app, DISCOVERY).await;
    for (member, value) in oauth.as_object().unwrap() {
        assert_eq!(&oidc[member], value, "{member}");
    }
    assert_eq!(
        oidc["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        oidc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA", "RS256"])
    );
    // Each advertised endpoint answers.
    for endpoint in ["userinfo_endpoint", "end_session_endpoint"] {
        let r = app
            .http()
            .get(oidc[endpoint].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 404, "{endpoint}");
    }
}

/// OIDC Discovery §4: the path is appended to an issuer with a path (unlike
/// RFC 8414's path insertion).
#[tokio::test]
async fn openid_configuration_for_an_issuer_with_a_path() {
    let app = TestApp::builder().path("/tenant").spawn().await;
    let r = app
        .http()
        .get(format!("{}/tenant{DISCOVERY}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["issuer"], app.issuer());
    assert_eq!(
        doc["userinfo_endpoint"],
        format!("{}/userinfo", app.issuer())
    );
}

#[tokio::test]
async fn openid_with_another_response_type_is_unsupported_response_type() {
    let app = oidc_app().await;
    for response_type in ["token", "id_token", "code id_token", "id_token token"] {
        let r = app
            .browser()
            .authorize(&oidc_request("c1").set("response_type", response_type))
            .await;
        let loc = location(&r);
        assert!(loc.starts_with(C1_REDIRECT), "{loc}");
        assert_eq!(
            param(&loc, "error").as_deref(),
            Some("unsupported_response_type"),
            "{response_type}"
        );
        assert!(!loc.contains('#') && !loc.contains("id_token="), "{loc}");
    }
}

/// The OIDC scopes are about the user, not the resource: they do not stop
/// a `resource` whose scopes are the rest of the request.
#[tokio::test]
async fn openid_with_a_resource_indicator() {
    let app = oidc_app().await;
    let body = oidc_tokens(
        &app,
        &app.browser(),
        oidc_request("c1")
            .scope("openid email a")
            .set("resource", OTHER),
    )
    .await;
    id_token_of(&app, &body, "c1").await;
    let at = body["access_token"].as_str().unwrap();
    let payload = at.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], OTHER);
    let info: Value = userinfo_get(&app, at).await.json().await.unwrap();
    assert_eq!(info["email"], "alice@example.com");
}

#[tokio::test]
async fn without_openid_there_is_no_id_token() {
    let app = oidc_app().await;
    let body = app.tokens_for("c1", "a").await;
    assert!(body.get("id_token").is_none());
    let refreshed: Value = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ],
            Some(("c1", C1_SECRET)),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(refreshed.get("id_token").is_none());
}

/// A refresh narrowed to a scope without `openid` still gets an ID token:
/// the grant decides, and the grant has `openid`.
#[tokio::test]
async fn a_narrowed_refresh_of_an_openid_grant_gets_an_id_token() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1").scope("openid a")).await;
    let r = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", body["refresh_token"].as_str().unwrap()),
                ("scope", "a"),
            ],
            Some(("c1", C1_SECRET)),
        )
        .await;
    let refreshed: Value = r.json().await.unwrap();
    assert_eq!(refreshed["scope"], "a");
    let claims = id_token_of(&app, &refreshed, "c1").await;
    assert_eq!(claims.nonce, None);
}

#[tokio::test]
async fn a_client_may_choose_es256_or_eddsa_for_its_id_tokens() {
    let app = oidc_app().await;
    for (id, alg) in [
        ("es", SigningAlgorithm::Es256),
        ("ed", SigningAlgorithm::EdDsa),
        ("rs", SigningAlgorithm::Rs256),
    ] {
        let mut spec = client(id, Some(C1_SECRET), &[C1_REDIRECT], &["a"]);
        spec.id_token_signed_response_alg = Some(alg.as_str().into());
        app.register(spec).await;
        let request = oidc_request(id).set("redirect_uri", C1_REDIRECT);
        let location = app
            .browser()
            .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
            .await;
        let flow = request.into_flow(&location);
        let r = app
            .token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &flow.code),
                    ("redirect_uri", &flow.redirect_uri),
                    ("code_verifier", &flow.verifier),
                ],
                Some((id, C1_SECRET)),
            )
            .await;
        let body: Value = r.json().await.unwrap();
        let claims = verify_id_token(
            &app,
            body["id_token"].as_str().unwrap(),
            id,
            alg,
            body["access_token"].as_str(),
        )
        .await;
        assert_eq!(claims.aud, id);
    }
}

/// The ID-token keys exist from the start, are sealed at rest like every
/// key, and survive a restart (the same kids are published again).
#[tokio::test]
async fn id_token_keys_exist_from_the_start_one_per_algorithm() {
    let app = TestApp::spawn().await;
    let stored = app.store.signing_keys().await.unwrap();
    let mut algs: Vec<&str> = stored
        .iter()
        .filter(|k| k.purpose == "id_token")
        .map(|k| k.algorithm.as_str())
        .collect();
    algs.sort_unstable();
    assert_eq!(algs, ["ES256", "EdDSA", "RS256"]);
    assert!(stored.iter().all(|k| k.encryption == "A256GCM"));
    let jwks: Value = app.jwks().await;
    for k in &stored {
        assert!(
            jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["kid"] == k.kid.as_str()),
            "{} published",
            k.kid
        );
    }
    // The access-token key is not used for ID tokens, nor the reverse.
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    let at = jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap();
    let it = jsonwebtoken::decode_header(body["id_token"].as_str().unwrap()).unwrap();
    assert_ne!(at.kid, it.kid);
    assert_eq!(at.typ.as_deref(), Some("at+jwt"));
}

/// An ID token is not an access token: introspection does not know it, and
/// UserInfo refuses it.
#[tokio::test]
async fn an_id_token_is_not_accepted_as_an_access_token() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    let id_token = body["id_token"].as_str().unwrap();
    let r = userinfo_get(&app, id_token).await;
    assert_eq!(r.status(), 401);
    let info = app.introspection("rs1", id_token).await;
    assert_eq!(info, serde_json::json!({"active": false}));
}

// --- UserInfo refusals (RFC 6750 §3) ----------------------------------------

fn challenge(r: &reqwest::Response) -> String {
    r.headers()["www-authenticate"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn userinfo_without_a_token_is_a_bare_401_challenge() {
    let app = oidc_app().await;
    let r = app.http().get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(challenge(&r), format!("Bearer realm=\"{}\"", app.issuer()));
}

#[tokio::test]
async fn userinfo_with_an_unknown_token_is_invalid_token() {
    let app = oidc_app().await;
    let r = userinfo_get(&app, "not-a-token-we-issued").await;
    assert_eq!(r.status(), 401);
    let c = challenge(&r);
    assert!(c.contains("error=\"invalid_token\""), "{c}");
    let body = r.text().await.unwrap();
    assert!(!body.contains("not-a-token-we-issued"), "never echoed");
    insta::assert_snapshot!("userinfo_invalid_token_body", body);
}

#[tokio::test]
async fn userinfo_with_an_expired_token_is_invalid_token() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    app.clock.advance(600);
    let r = userinfo_get(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("invalid_token"));
}

#[tokio::test]
async fn userinfo_without_the_openid_scope_is_insufficient_scope() {
    let app = oidc_app().await;
    let body = app.tokens_for("c1", "a").await;
    let r = userinfo_get(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 403);
    let c = challenge(&r);
    assert!(
        c.contains("error=\"insufficient_scope\"") && c.contains("scope=\"openid\""),
        "{c}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    // A client-credentials token stands for no user.
    let r = app
        .token(
            &[("grant_type", "client_credentials"), ("scope", "a")],
            Some(("svc", SVC_SECRET)),
        )
        .await;
    let cc: Value = r.json().await.unwrap();
    let r = userinfo_get(&app, cc["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn userinfo_never_takes_a_token_from_the_query() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    let token = body["access_token"].as_str().unwrap();
    let r = app
        .http()
        .get(format!("{}?access_token={token}", app.url("/userinfo")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "as good as no token");
    // Two ways at once: invalid_request.
    let r = app
        .http()
        .post(app.url("/userinfo"))
        .bearer_auth(token)
        .form(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(challenge(&r).contains("invalid_request"));
}

#[tokio::test]
async fn userinfo_of_a_revoked_token_is_invalid_token() {
    let app = oidc_app().await;
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    let token = body["access_token"].as_str().unwrap();
    app.revoke_ok(token, None, ClientAuth::Basic("c1", C1_SECRET))
        .await;
    let r = userinfo_get(&app, token).await;
    assert_eq!(r.status(), 401);
}

/// Claims set by `tessera user set` (here the same admin call) show up at
/// once; configuration seeding sets them too.
#[tokio::test]
async fn seeded_user_claims_are_released() {
    let app = TestApp::spawn().await;
    let spec: tessera_authorization_server::admin::UserSpec =
        serde_json::from_value(serde_json::json!({
            "username": "carol",
            "password": "carol-password-1",
            "claims": {"name": "Carol", "email": "carol@example.com"}
        }))
        .unwrap();
    app.admin.ensure_user(&spec, T0).await.unwrap();
    let request = oidc_request("c1").scope("openid profile email");
    let location = app
        .browser()
        .authorize_through_consent(&request, "carol", "carol-password-1", None)
        .await;
    let body: Value = app
        .redeem(&request.into_flow(&location))
        .await
        .json()
        .await
        .unwrap();
    let info: Value = userinfo_get(&app, body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "Carol");
    assert_eq!(info["email"], "carol@example.com");
    assert_eq!(info["preferred_username"], "carol");
    // Seeding again with other claims replaces them.
    let spec: tessera_authorization_server::admin::UserSpec = serde_json::from_value(
        serde_json::json!({"username": "carol", "password": "carol-password-1", "claims": {"name": "C."}}),
    )
    .unwrap();
    app.admin.ensure_user(&spec, T0).await.unwrap();
    let info: Value = userinfo_get(&app, body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "C.");
    assert!(info.get("email").is_none());
}

// --- RP-initiated logout -------------------------------------------------------

const LOGOUT_URI: &str = "https://client.example/logged-out";

async fn app_with_logout_uri() -> TestApp {
    let app = oidc_app().await;
    let mut spec = client(
        "c1",
        Some(C1_SECRET),
        &[C1_REDIRECT, "https://client.example/cb2"],
        &["a", "b", "c"],
    );
    spec.post_logout_redirect_uris = vec![LOGOUT_URI.into()];
    app.register(spec).await;
    app
}

#[tokio::test]
async fn end_session_ends_the_browser_session_and_returns_to_a_registered_uri() {
    let app = app_with_logout_uri().await;
    let browser = app.browser();
    let body = oidc_tokens(&app, &browser, oidc_request("c1")).await;
    let hint = body["id_token"].as_str().unwrap();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", LOGOUT_URI)
        .append_pair("state", "s 1")
        .finish();
    let r = browser.get(&format!("/end_session?{query}")).await;
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    assert!(loc.starts_with(&format!("{LOGOUT_URI}?")), "{loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some("s 1"));
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    // The session is gone at the server: prompt=none now needs a login.
    let r = browser
        .authorize(&oidc_request("c1").set("prompt", "none"))
        .await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("login_required")
    );
}

/// Without a hint for the signed-in user, the user confirms first (so no
/// other site can sign them out); the confirmation carries the request on.
#[tokio::test]
async fn end_session_by_client_id_asks_the_user_first() {
    let app = app_with_logout_uri().await;
    let browser = app.browser();
    oidc_tokens(&app, &browser, oidc_request("c1")).await;
    let r = browser
        .http
        .post(app.url("/end_session"))
        .form(&[
            ("client_id", "c1"),
            ("post_logout_redirect_uri", LOGOUT_URI),
            ("state", "s2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_none());
    assert!(r.headers().get("set-cookie").is_none(), "still signed in");
    let form = Form::parse(&r.text().await.unwrap());
    assert_eq!(form.get("client_id"), Some("c1"));
    // Still signed in: a silent authorization works.
    let r = browser
        .authorize(&oidc_request("c1").set("prompt", "none"))
        .await;
    assert!(param(&location(&r), "code").is_some());
    // A forged confirmation (wrong CSRF token) changes nothing.
    let mut forged = form.clone();
    forged.set("csrf_token", "forged");
    let r = browser.submit(&forged, Some(("confirm", "yes"))).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("set-cookie").is_none());
    // The user's confirmation: signed out, back to the registered URI.
    let r = browser.submit(&form, Some(("confirm", "yes"))).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{LOGOUT_URI}?state=s2"));
    let r = browser
        .authorize(&oidc_request("c1").set("prompt", "none"))
        .await;
    assert_eq!(
        param(&location(&r), "error").as_deref(),
        Some("login_required")
    );
}

/// Never an open redirect: an unregistered URI, a URI registered for
/// another client, a client_id contradicting the hint, or a forged hint all
/// get the "signed out" page (after the user's confirmation, where needed),
/// and the session ends.
#[tokio::test]
async fn end_session_never_redirects_to_an_unregistered_uri() {
    let app = app_with_logout_uri().await;
    let browser = app.browser();
    let body = oidc_tokens(&app, &browser, oidc_request("c1")).await;
    let hint = body["id_token"].as_str().unwrap().to_owned();
    let mut forged: Vec<String> = hint.split('.').map(str::to_owned).collect();
    forged[2] = forged[2].chars().rev().collect();
    let forged = forged.join(".");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("post_logout_redirect_uri", "https://evil.example/")],
        vec![
            ("client_id", "c1"),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![
            ("client_id", "c1"),
            (
                "post_logout_redirect_uri",
                "https://client.example/logged-out/",
            ),
        ],
        vec![
            ("client_id", "c2"),
            ("post_logout_redirect_uri", LOGOUT_URI),
        ],
        vec![
            ("client_id", "c2"),
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", LOGOUT_URI),
        ],
        vec![
            ("id_token_hint", &forged),
            ("post_logout_redirect_uri", LOGOUT_URI),
        ],
        vec![("post_logout_redirect_uri", LOGOUT_URI)],
    ];
    for case in cases {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(case.iter())
            .finish();
        let mut r = browser.get(&format!("/end_session?{query}")).await;
        assert_eq!(r.status(), 200, "{case:?}");
        assert!(r.headers().get("location").is_none(), "{case:?}");
        let mut html = r.text().await.unwrap();
        if html.contains("Sign out?") {
            // Confirmed by the user: the URI is still checked.
            let form = Form::parse(&html);
            r = browser.submit(&form, Some(("confirm", "yes"))).await;
            assert_eq!(r.status(), 200, "{case:?}");
            assert!(r.headers().get("location").is_none(), "{case:?}");
            html = r.text().await.unwrap();
        }
        assert!(html.contains("signed out"), "{case:?}");
        assert!(!html.contains("evil.example"), "{case:?}");
    }
}

/// With a rotation interval, each ID-token chain rotates like the
/// access-token chain: the successor is published first, signs after the
/// pre-publication window, and the old key is retired once its ID tokens
/// have expired.
#[tokio::test]
async fn id_token_keys_rotate_on_schedule() {
    let app = TestApp::builder()
        .configure(|c| c.keys.rotation_interval_secs = Some(86_400))
        .spawn()
        .await;
    set_alice_claims(&app).await;
    let rs256_keys = || async {
        app.state
            .keys
            .manager()
            .list(app.clock.now())
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k.purpose == "id_token" && k.algorithm == "RS256")
            .map(|k| (k.kid, k.state))
            .collect::<Vec<_>>()
    };
    let first = rs256_keys().await;
    assert_eq!(first.len(), 1);
    let kid_of = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();

    app.clock.advance(86_400);
    app.state.keys.maintain().await.unwrap();
    let rotated = rs256_keys().await;
    assert_eq!(rotated.len(), 2);
    let second = rotated[1].0.clone();
    let jwks: Value = app.jwks().await;
    assert!(jwks.to_string().contains(&second), "published before use");
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    assert_eq!(kid_of(body["id_token"].as_str().unwrap()), first[0].0);

    app.clock.advance(3600);
    let body = oidc_tokens(&app, &app.browser(), oidc_request("c1")).await;
    assert_eq!(kid_of(body["id_token"].as_str().unwrap()), second);
    id_token_of(&app, &body, "c1").await;

    app.clock.advance(600 + 30);
    app.state.keys.maintain().await.unwrap();
    let states = rs256_keys().await;
    assert_eq!(
        states.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        ["retired", "active"]
    );
}
