//! The photo API behind the guard, against the real authorization server of
//! this workspace, both on loopback ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use tessera_authorization_server::admin::{Admin, ClientSpec, ResourceSpec};
use tessera_authorization_server::clock::SystemClock;
use tessera_authorization_server::{AppState, ServerConfig};
use tessera_core::redirect_uri::Mode;
use tessera_core::secrets::SecretString;
use tessera_photo_api::{PhotoApi, PhotoStore};
use tessera_protected_resource::{Guard, GuardConfig};
use tessera_runtime::SystemRandomness;
use tessera_store::SqliteStore;
use tokio::sync::oneshot;

const PHOTOS: &str = "http://localhost:9002";
const PRINTER_SECRET: &str = "printer-secret-0123456789-0123456789-xyz";
const VIEWER_SECRET: &str = "viewer-secret-0123456789-0123456789-xyzw";
const API_SECRET: &str = "photo-api-secret-0123456789-0123456789-x";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

struct Servers {
    issuer: String,
    photos: String,
    http: reqwest::Client,
    stop_as: Option<oneshot::Sender<()>>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn client(id: &str, secret: &str, scopes: &[&str], introspect: bool) -> ClientSpec {
    ClientSpec {
        client_id: id.into(),
        client_secret: Some(SecretString::new(secret)),
        redirect_uris: vec![],
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        grant_types: vec!["client_credentials".into()],
        name: None,
        require_pkce: true,
        introspect,
        resource: introspect.then(|| PHOTOS.to_owned()),
        access_token_format: None,
        id_token_signed_response_alg: None,
        post_logout_redirect_uris: Vec::new(),
    }
}

/// The AS (with clients `printer` and `viewer`, and the API's own client)
/// and the photo API in front of a guard made by `guard`.
async fn start(guard: impl FnOnce(&str) -> GuardConfig) -> Servers {
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
            &client(
                "printer",
                PRINTER_SECRET,
                &["photos:read", "photos:write"],
                false,
            ),
            false,
            0,
        )
        .await
        .unwrap();
    admin
        .register_client(
            &client("viewer", VIEWER_SECRET, &["photos:read"], false),
            false,
            0,
        )
        .await
        .unwrap();
    admin
        .register_client(&client("photo-api", API_SECRET, &[], true), false, 0)
        .await
        .unwrap();
    let config = ServerConfig::new(&issuer, PHOTOS).unwrap();
    let state = AppState::new(store, config, Arc::new(SystemClock), rng)
        .await
        .unwrap();
    let (stop_as, stopped) = oneshot::channel::<()>();
    tokio::spawn(tessera_authorization_server::serve(
        listener,
        state,
        async {
            let _ = stopped.await;
        },
    ));

    let api_dir = tempfile::tempdir().unwrap();
    let photo_store = PhotoStore::connect(&format!(
        "sqlite://{}",
        api_dir.path().join("photos.db").display()
    ))
    .await
    .unwrap();
    let guard = Guard::new(guard(&issuer)).unwrap();
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
        http: reqwest::Client::new(),
        stop_as: Some(stop_as),
        _dirs: (as_dir, api_dir),
    }
}

impl Servers {
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
        GuardConfig::introspection(issuer, PHOTOS, "photo-api", API_SECRET)
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
    s.stop_as.take().map(|tx| tx.send(()));
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
