//! Two `tessera serve` processes on one PostgreSQL database behave as one
//! server: a code issued by one is redeemed at the other, tokens refresh and
//! revoke across them, and a key rotated through the database is published
//! by both, and failed logins at either count toward the same lockout.
//! They share the database, the key-encryption key (from the
//! configuration) and, through the database, the client-secret HMAC key.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Deadlines and unique names in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{drop_schema, fresh_schema, postgres_url, run, start_command, stdout, stop, tessera};

const KEK: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const SECRET: &str = "app-secret-0123456789-0123456789-abcdef";
const REDIRECT: &str = "http://localhost:9000/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

const CONFIG: &str = r#"
issuer = "http://localhost:9001"
key_reload_interval_secs = 1
# Two failed logins lock an account (for the shared-throttle check).
login_throttle_lockout_failures = 2

[[clients]]
client_id = "app"
client_secret = "app-secret-0123456789-0123456789-abcdef"
redirect_uris = ["http://localhost:9000/callback"]
scopes = ["photos:read"]
introspect = true

[[users]]
username = "alice"
password = "alice-password-1"

[[users]]
username = "bob"
password = "bob-password-12"
"#;

/// The value of the hidden input `name` in an HTML page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_on_one_postgres_database_act_as_one_server() {
    let Some(url) = postgres_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tessera.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let schema = fresh_schema("nodes");
    let node_command = |args: &[&str]| {
        let mut c = tessera(dir.path());
        c.arg("--config")
            .arg(&config)
            .args(args)
            .env("TESSERA_DATABASE", &url)
            .env("TESSERA_DATABASE_SCHEMA", &schema)
            .env("TESSERA_KEY_ENCRYPTION_KEY", KEK)
            .env("TESSERA_LISTEN", "127.0.0.1:0");
        c
    };
    let (node1, port1) = start_command(node_command(&["serve"]));
    let (node2, port2) = start_command(node_command(&["serve", "--no-migrate"]));
    let (n1, n2) = (
        format!("http://127.0.0.1:{port1}"),
        format!("http://127.0.0.1:{port2}"),
    );

    // Log in and authorize at node 1, as a browser would.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = browser
        .get(format!(
            "{n1}/authorize?response_type=code&client_id=app&redirect_uri={REDIRECT}\
             &scope=photos:read&state=s1&code_challenge={CHALLENGE}&code_challenge_method=S256"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let login = browser
        .get(format!("{n1}{}", location(&r)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = browser
        .post(format!("{n1}/login"))
        .form(&[
            ("csrf_token", hidden(&login, "csrf_token").as_str()),
            ("request", hidden(&login, "request").as_str()),
            ("username", "alice"),
            ("password", "alice-password-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let consent = browser
        .get(format!("{n1}{}", location(&r)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = browser
        .post(format!("{n1}/consent"))
        .form(&[
            ("csrf_token", hidden(&consent, "csrf_token").as_str()),
            ("request", hidden(&consent, "request").as_str()),
            ("scope", "photos:read"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert!(back.starts_with(REDIRECT), "{back}");
    let code = url_param(&back, "code");

    // Redeem the code at node 2.
    let http = reqwest::Client::new();
    let token = |base: &str, form: Vec<(&'static str, String)>| {
        http.post(format!("{base}/token"))
            .basic_auth("app", Some(SECRET))
            .form(&form)
            .send()
    };
    let r = token(
        &n2,
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.into()),
            ("code_verifier", VERIFIER.into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let first: serde_json::Value = r.json().await.unwrap();

    // Refresh at node 1.
    let r = token(
        &n1,
        vec![
            ("grant_type", "refresh_token".into()),
            (
                "refresh_token",
                first["refresh_token"].as_str().unwrap().into(),
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let second: serde_json::Value = r.json().await.unwrap();
    let access = second["access_token"].as_str().unwrap().to_owned();

    // Revoke at node 2; node 1's introspection sees it inactive.
    let introspect = |base: &str| {
        http.post(format!("{base}/introspect"))
            .basic_auth("app", Some(SECRET))
            .form(&[("token", access.as_str())])
            .send()
    };
    let active: serde_json::Value = introspect(&n1).await.unwrap().json().await.unwrap();
    assert_eq!(active["active"], true, "{active}");
    let r = http
        .post(format!("{n2}/revoke"))
        .basic_auth("app", Some(SECRET))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let inactive: serde_json::Value = introspect(&n1).await.unwrap().json().await.unwrap();
    assert_eq!(inactive, serde_json::json!({ "active": false }));

    // The code was used at node 2: replaying it at node 1 fails.
    let r = token(
        &n1,
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", REDIRECT.into()),
            ("code_verifier", VERIFIER.into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);

    // A key rotated through the database (as node 1's operator would) is
    // published by node 2 within its reload interval.
    let out = run(node_command(&["keys", "rotate"]), None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kid = stdout(&out)
        .split('`')
        .nth(1)
        .expect("the new kid")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jwks: serde_json::Value = http
            .get(format!("{n2}/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        if kids.contains(&kid.as_str()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 2 never published {kid}: {kids:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Issue 13, login throttling shared across nodes: failed logins are
    // counted in the database, so one wrong password at each node locks
    // bob (two failures lock an account here), and neither node then lets
    // his right password through.
    assert_eq!(login_at(&n1, &n1, "bob", "guess-1").await.status(), 401);
    assert_eq!(login_at(&n1, &n2, "bob", "guess-2").await.status(), 401);
    for (at, node) in [(&n1, "node 1"), (&n2, "node 2")] {
        let r = login_at(&n2, at, "bob", "bob-password-12").await;
        assert_eq!(r.status(), 429, "{node}");
        assert!(r.headers().contains_key("retry-after"), "{node}");
    }

    stop(node1);
    stop(node2);
    drop_schema(&url, &schema).await;
}

/// A fresh browser's login: the authorization request and login page at
/// `page`, the form posted to `post` (sessions live in the shared database).
async fn login_at(page: &str, post: &str, username: &str, password: &str) -> reqwest::Response {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = browser
        .get(format!(
            "{page}/authorize?response_type=code&client_id=app&redirect_uri={REDIRECT}\
             &scope=photos:read&state=s2&code_challenge={CHALLENGE}&code_challenge_method=S256"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let form = browser
        .get(format!("{page}{}", location(&r)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    browser
        .post(format!("{post}/login"))
        .form(&[
            ("csrf_token", hidden(&form, "csrf_token").as_str()),
            ("request", hidden(&form, "request").as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

fn url_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    form_urlencoded_pairs(query)
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in {url}"))
        .1
}

/// Codes and states are base64url: no percent-decoding needed.
fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
