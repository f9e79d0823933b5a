//! Issue 13, "no connection timeouts and no connection limit": the
//! header-read timeout closes slow-header and idle kept-alive connections,
//! a stalled body is refused, and at the cap new connections wait until
//! one closes, while the server keeps answering. Raw TCP on loopback, with
//! short limits so each case ends in well under a second or two; every wait
//! is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Socket timeouts run on real time: these tests measure them with Instant.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use tessera_serve::{ConnectionLimits, serve};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn start(limits: ConnectionLimits) -> SocketAddr {
    let app = Router::new()
        .route(
            "/",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                format!("hello {}", peer.ip())
            }),
        )
        .route("/echo", post(|body: String| async move { body }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, app, limits, std::future::pending()));
    addr
}

fn limits(header_ms: u64, body_ms: u64, max: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_millis(header_ms),
        request_body_timeout: Duration::from_millis(body_ms),
        max_connections: max,
    }
}

/// Reads until the peer closes the connection or `within` passes; returns
/// what was read and whether it was closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into(), false),
        }
    }
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

#[tokio::test]
async fn issue13_a_slow_header_is_cut_off() {
    let addr = start(limits(300, 5_000, 64)).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(closed, "a header that never ends is not waited for forever");
}

#[tokio::test]
async fn issue13_an_idle_kept_alive_connection_is_closed() {
    let addr = start(limits(300, 5_000, 64)).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(GET).await.unwrap();
    let (answer, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("hello 127.0.0.1"),
        "the peer address: {answer}"
    );
    assert!(closed, "closed after idling past the timeout");
}

/// The handler's body read fails at the timeout, and the request ends with
/// a 4xx (the extractor's rejection, or 408 where nothing reads the body).
#[tokio::test]
async fn issue13_a_stalled_body_is_refused_in_time() {
    let addr = start(limits(5_000, 300, 64)).await;
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly ten.")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, _) = read_until_closed(&mut stalled, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        answer.contains("timeout") || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

/// At the cap, a new connection is not served until a slot frees; the
/// slots held by slow clients free themselves at the header timeout, and
/// the server answers again.
#[tokio::test]
async fn issue13_connections_beyond_the_cap_wait_for_a_free_slot() {
    let addr = start(limits(800, 5_000, 3)).await;
    let mut holders = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        holders.push(s);
    }
    // Give the server a moment to accept all three.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    waiting.write_all(GET).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(300), waiting.read(&mut buf)).await;
    assert!(early.is_err(), "no answer while every slot is taken");
    // The slow clients are cut off at the header timeout; then it is served.
    let (answer, _) = read_until_closed(&mut waiting, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(holders);
}
