//! Issue 13, "no connection timeouts and no connection limit": the
//! authorization server takes connections through tessera-serve, so a
//! slow-header client is cut off at the configured header-read timeout and
//! a connection over the cap waits, while others are answered. (The
//! limits' own rules are tested in crates/serve/tests/limits.rs.)

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::harness::*;

fn addr(app: &TestApp) -> String {
    app.url("").trim_start_matches("http://").to_owned()
}

#[tokio::test]
// Socket timeouts run on real time: measured with Instant.
#[allow(clippy::disallowed_methods)]
async fn issue13_the_authorization_server_cuts_off_slow_headers() {
    let app = TestApp::builder()
        .configure(|c| {
            c.connections.header_read_timeout = Duration::from_millis(300);
        })
        .spawn()
        .await;
    let mut slow = TcpStream::connect(addr(&app)).await.expect("connect");
    slow.write_all(b"POST /token HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .await
        .expect("write");
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the connection is closed: {read:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // Meanwhile and afterwards, others are answered.
    let metadata = app
        .http()
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata");
    assert_eq!(metadata.status(), 200);
}

#[tokio::test]
async fn issue13_the_authorization_server_caps_its_connections() {
    let app = TestApp::builder()
        .configure(|c| {
            c.connections.max_connections = 2;
            c.connections.header_read_timeout = Duration::from_millis(800);
        })
        .spawn()
        .await;
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr(&app)).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\n").await.expect("write");
        holders.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let http = reqwest::Client::new();
    let early = tokio::time::timeout(
        Duration::from_millis(300),
        http.get(app.url("/jwks.json")).send(),
    )
    .await;
    assert!(early.is_err(), "not served while both slots are held");
    let late = tokio::time::timeout(
        Duration::from_secs(5),
        http.get(app.url("/jwks.json")).send(),
    )
    .await
    .expect("served once the slow clients are cut off")
    .expect("response");
    assert_eq!(late.status(), 200);
    drop(holders);
}
