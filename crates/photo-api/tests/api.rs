//! The photo API behind the guard, against the real authorization server of
//! this workspace, both on loopback ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use tessera_protected_resource::GuardConfig;
use tessera_test_support::{API_CLIENT_ID, API_SECRET, PHOTOS, Servers, client_spec};

const PRINTER_SECRET: &str = "printer-secret-0123456789-0123456789-xyz";
const VIEWER_SECRET: &str = "viewer-secret-0123456789-0123456789-xyzw";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// The servers of tessera-test-support, and the HTTP client the test's
/// callers use.
struct Api {
    servers: Servers,
    http: reqwest::Client,
}

impl Deref for Api {
    type Target = Servers;
    fn deref(&self) -> &Servers {
        &self.servers
    }
}

impl DerefMut for Api {
    fn deref_mut(&mut self) -> &mut Servers {
        &mut self.servers
    }
}

/// The AS (with machine clients `printer` and `viewer` besides the API's
/// own client) and the photo API in front of a guard made by `guard`.
async fn start(guard: impl FnOnce(&str) -> GuardConfig + 'static) -> Api {
    let machine =
        |id, secret, scopes| client_spec(id, secret, &[], scopes, &["client_credentials"]);
    let servers = Servers::builder()
        .guard(guard)
        .client(machine(
            "printer",
            PRINTER_SECRET,
            &["photos:read", "photos:write"],
        ))
        .client(machine("viewer", VIEWER_SECRET, &["photos:read"]))
        .start()
        .await;
    Api {
        servers,
        http: reqwest::Client::new(),
    }
}

impl Api {
    async fn token(&self, client_id: &str, secret: &str, scope: &str) -> String {
        let r = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<serde_json::Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn list(&self, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/photos", self.photos))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn upload(&self, token: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        self.http
            .post(format!("{}/photos?name=Holiday", self.photos))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn photo_ids(&self, token: &str) -> Vec<String> {
        let body: serde_json::Value = self.list(token).await.json().await.unwrap();
        body["photos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test]
async fn a_token_from_the_as_reads_the_subjects_photos() {
    let s = start(|issuer| GuardConfig::jwt(issuer, PHOTOS)).await;
    let token = s.token("printer", PRINTER_SECRET, "photos:read").await;
    let r = s.list(&token).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["owner"], "printer");
    let photos = body["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 3, "new users get three sample photos");

    let url = format!("{}{}", s.photos, photos[0]["url"].as_str().unwrap());
    let image = s.http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/svg+xml");
    assert!(
        image.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(image.bytes().await.unwrap().starts_with(b"<svg"));

    // No token, or a token in the query string: 401 without an error code.
    let r = s
        .http
        .get(format!("{}/photos?access_token={token}", s.photos))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("Bearer realm=") && !challenge.contains("error="),
        "{challenge}"
    );
}

#[tokio::test]
async fn writing_needs_photos_write() {
    let s = start(|issuer| GuardConfig::jwt(issuer, PHOTOS)).await;
    let reader = s.token("viewer", VIEWER_SECRET, "photos:read").await;
    let r = s.upload(&reader, "image/png", PNG.to_vec()).await;
    assert_eq!(r.status(), 403);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"photos:write\""),
        "{challenge}"
    );
    let id = s.photo_ids(&reader).await.remove(0);
    let r = s
        .http
        .delete(format!("{}/photos/{id}", s.photos))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.photo_ids(&reader).await.len(), 3, "nothing was deleted");
}

#[tokio::test]
async fn uploads_are_checked_and_nothing_is_half_written() {
    let s = start(|issuer| GuardConfig::jwt(issuer, PHOTOS)).await;
    let writer = s
        .token("printer", PRINTER_SECRET, "photos:read photos:write")
        .await;
    assert_eq!(s.photo_ids(&writer).await.len(), 3);

    let r = s.upload(&writer, "image/png", PNG.to_vec()).await;
    assert_eq!(r.status(), 201);
    let created: serde_json::Value = r.json().await.unwrap();
    assert_eq!(created["name"], "Holiday");
    assert_eq!(s.photo_ids(&writer).await.len(), 4);

    let r = s
        .upload(&writer, "text/html", b"<script>alert(1)</script>".to_vec())
        .await;
    assert_eq!(r.status(), 415);
    let r = s
        .upload(&writer, "image/svg+xml", b"<svg onload=alert(1)/>".to_vec())
        .await;
    assert_eq!(r.status(), 415, "SVG uploads could carry script");
    let r = s.upload(&writer, "image/png", b"not a png".to_vec()).await;
    assert_eq!(r.status(), 400);
    let too_big = [PNG, &vec![0u8; 3 * 1024 * 1024]].concat();
    let r = s.upload(&writer, "image/png", too_big).await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        s.photo_ids(&writer).await.len(),
        4,
        "refused uploads leave nothing behind"
    );

    let id = created["id"].as_str().unwrap();
    let r = s
        .http
        .delete(format!("{}/photos/{id}", s.photos))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(s.photo_ids(&writer).await.len(), 3);
}

#[tokio::test]
async fn a_user_only_ever_sees_their_own_photos() {
    let s = start(|issuer| GuardConfig::jwt(issuer, PHOTOS)).await;
    let printer = s
        .token("printer", PRINTER_SECRET, "photos:read photos:write")
        .await;
    let viewer = s.token("viewer", VIEWER_SECRET, "photos:read").await;
    let printers = s.photo_ids(&printer).await;
    let viewers = s.photo_ids(&viewer).await;
    assert!(printers.iter().all(|id| !viewers.contains(id)));
    let r = s
        .http
        .get(format!("{}/photos/{}", s.photos, printers[0]))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "another user's photo is as absent as a missing one"
    );
}

#[tokio::test]
async fn introspection_mode_refuses_a_revoked_token_and_fails_closed() {
    let mut s = start(|issuer| {
        GuardConfig::introspection(issuer, PHOTOS, API_CLIENT_ID, API_SECRET)
            .introspection_cache_max(Duration::ZERO)
    })
    .await;
    let token = s.token("printer", PRINTER_SECRET, "photos:read").await;
    assert_eq!(s.list(&token).await.status(), 200);

    let r = s
        .http
        .post(format!("{}/revoke", s.issuer))
        .basic_auth("printer", Some(PRINTER_SECRET))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s.list(&token).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    // The AS goes away: nothing passes, nothing is a 200.
    let fresh = s.token("printer", PRINTER_SECRET, "photos:read").await;
    s.stop_authorization_server();
    let mut status = 0;
    for _ in 0..50 {
        status = s.list(&fresh).await.status().as_u16();
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 503);
}

/// Issue 12 item 9: the API's own address says what it is (JSON: it is an
/// API), naming its resource identifier, its authorization server and its
/// routes with their scopes; another address is a JSON 404, not an empty
/// body. Neither needs a token.
#[tokio::test]
async fn the_root_describes_the_api_and_unknown_addresses_say_so() {
    let s = start(|issuer| GuardConfig::jwt(issuer, PHOTOS)).await;
    let r = s.http.get(format!("{}/", s.photos)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let about: serde_json::Value = r.json().await.unwrap();
    assert_eq!(about["resource"], PHOTOS);
    assert_eq!(
        about["authorization_servers"],
        serde_json::json!([s.issuer])
    );
    assert_eq!(
        about["scopes_supported"],
        serde_json::json!(["photos:read", "photos:write"])
    );
    let routes: Vec<(String, String, String)> = about["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap().to_owned();
            (field("method"), field("path"), field("scope"))
        })
        .collect();
    assert!(routes.contains(&("GET".into(), "/photos".into(), "photos:read".into())));
    assert!(routes.contains(&("POST".into(), "/photos".into(), "photos:write".into())));
    assert!(about["description"].as_str().unwrap().contains("Bearer"));
    // Every route described exists, behind the guard (401 without a token).
    for (method, path, _) in &routes {
        let url = format!("{}{}", s.photos, path.replace("{id}", "p1"));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = s.http.request(method, &url).send().await.unwrap();
        assert_eq!(r.status(), 401, "{url}");
    }

    let r = s
        .http
        .get(format!("{}/nothing-here", s.photos))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

/// Issue 13, "no connection timeouts": the photo API takes connections
/// through tessera-serve, so a slow-header client is cut off at its
/// header-read timeout while others are served.
#[tokio::test]
async fn issue13_the_photo_api_cuts_off_slow_headers() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let servers = Servers::builder()
        .api_connection_limits(tessera_serve::ConnectionLimits {
            header_read_timeout: Duration::from_millis(300),
            ..Default::default()
        })
        .start()
        .await;
    let mut slow = tokio::net::TcpStream::connect(servers.photos.trim_start_matches("http://"))
        .await
        .unwrap();
    slow.write_all(b"GET /photos HTTP/1.1\r\nHost: t\r\nAuthorization: Bea")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed: {read:?}");
    let r = reqwest::get(format!("{}/photos", servers.photos))
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "others are still answered");
}

/// Issue 13 (informational, item 5): malformed requests to the photo API
/// are answered with its JSON errors, never axum's plain-text 400 or an
/// empty 405: a path segment that is not UTF-8, a repeated or malformed
/// query parameter, a method the route does not serve.
#[tokio::test]
async fn issue13_malformed_requests_get_the_apis_json_errors() {
    let s = start(|issuer| GuardConfig::jwt(issuer, PHOTOS)).await;
    let token = s
        .token("printer", PRINTER_SECRET, "photos:read photos:write")
        .await;
    let cases: Vec<(&str, reqwest::Method, String, u16)> = vec![
        (
            "a path not UTF-8",
            reqwest::Method::GET,
            "/photos/%FF%FE".into(),
            400,
        ),
        (
            "a path not UTF-8, delete",
            reqwest::Method::DELETE,
            "/photos/%C3".into(),
            400,
        ),
        (
            "a repeated name",
            reqwest::Method::POST,
            "/photos?name=a&name=b".into(),
            400,
        ),
        (
            "a method not served",
            reqwest::Method::PUT,
            "/photos".into(),
            405,
        ),
        (
            "a method not served on a photo",
            reqwest::Method::PATCH,
            "/photos/p1".into(),
            405,
        ),
        (
            "a method not served at the root",
            reqwest::Method::DELETE,
            "/".into(),
            405,
        ),
    ];
    for (what, method, path, status) in cases {
        let r = s
            .http
            .request(method, format!("{}{path}", s.photos))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(PNG.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert_eq!(
            r.headers().get("content-type").map(|v| v.to_str().unwrap()),
            Some("application/json"),
            "{what}"
        );
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"].is_string(), "{what}: {body}");
    }
    // A refused upload stores nothing.
    let before = s.photo_ids(&token).await.len();
    let r = s
        .http
        .post(format!("{}/photos?name=a&name=b", s.photos))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(s.photo_ids(&token).await.len(), before);
}
