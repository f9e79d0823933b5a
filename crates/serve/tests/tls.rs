//! Issue 13 item 7, "TLS termination built in": a real rustls server on
//! loopback, real handshakes from a rustls client (and a hand-written TLS 1.1
//! ClientHello), certificates generated in the test (rcgen) and written to
//! files that the server reads and reloads. Reloads poll every 100 ms, and
//! every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Socket timeouts run on real time: these tests measure them with Instant.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use rustls::pki_types::{CertificateDer, ServerName};
use tessera_serve::{ConnectionLimits, Tls, TlsError, TlsFiles, serve_tls};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A self-signed certificate for `localhost` and its key, as PEM.
struct Pair {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

fn pair() -> Pair {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    Pair {
        cert_pem: certified.cert.pem(),
        key_pem: certified.signing_key.serialize_pem(),
        der: certified.cert.der().clone(),
    }
}

fn write(dir: &Path, pair: &Pair) -> TlsFiles {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, &pair.cert_pem).unwrap();
    std::fs::write(&key, &pair.key_pem).unwrap();
    let mut files = TlsFiles::new(cert, key);
    files.reload_interval = Duration::from_millis(100);
    files
}

fn limits(header_ms: u64) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_millis(header_ms),
        request_body_timeout: Duration::from_secs(5),
        max_connections: 64,
    }
}

async fn start(tls: Tls, limits: ConnectionLimits) -> SocketAddr {
    let app = Router::new().route("/", get(|| async { "hello over tls" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_tls(
        listener,
        app,
        limits,
        Some(tls),
        std::future::pending(),
    ));
    addr
}

fn client(
    trusted: &[&CertificateDer<'static>],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add((*cert).clone()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    // Every connection a full handshake: a resumed session presents no
    // certificate (the client would report the one it remembers).
    config.resumption = rustls::client::Resumption::disabled();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// One GET / over TLS: the certificate the server presented, the version
/// negotiated and the whole answer.
async fn fetch(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
) -> std::io::Result<(CertificateDer<'static>, rustls::ProtocolVersion, String)> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))??;
    let (_, connection) = tls.get_ref();
    let presented = connection.peer_certificates().unwrap()[0].clone();
    let version = connection.protocol_version().unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), tls.read_to_string(&mut answer))
        .await
        .map_err(|_| std::io::Error::other("answer timed out"))??;
    Ok((presented, version, answer))
}

#[tokio::test]
async fn issue13_item7_tls_serves_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let first = pair();
    let tls = Tls::load(write(dir.path(), &first)).unwrap();
    let addr = start(tls, limits(2_000)).await;
    let (presented, _, answer) = fetch(addr, &client(&[&first.der], BOTH)).await.unwrap();
    assert_eq!(presented, first.der);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello over tls"), "{answer}");

    // A client that trusts another certificate refuses the handshake.
    let other = pair();
    assert!(fetch(addr, &client(&[&other.der], BOTH)).await.is_err());
}

#[tokio::test]
async fn issue13_item7_tls_1_2_and_1_3_are_offered() {
    let dir = tempfile::tempdir().unwrap();
    let first = pair();
    let addr = start(Tls::load(write(dir.path(), &first)).unwrap(), limits(2_000)).await;
    for (only, expected) in [
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
    ] {
        let (_, version, answer) = fetch(addr, &client(&[&first.der], &[only])).await.unwrap();
        assert_eq!(version, expected);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

/// A TLS 1.1 ClientHello (docs/conformance.md item 18: TLS 1.2 or later;
/// legacy version 3.2, no `supported_versions`
/// extension, a TLS 1.0/1.1 cipher suite), written by hand because no
/// client in this workspace can speak TLS 1.1.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x13, 0x00, 0x2f]); // ECDHE_RSA_AES128_SHA, RSA_AES128_SHA
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    // signature_algorithms (ecdsa_secp256r1_sha256), which rustls requires
    // before it looks at the version.
    body.extend_from_slice(&[0x00, 0x08, 0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]);
    let mut handshake = vec![0x01, 0x00];
    handshake.extend_from_slice(&(body.len() as u16).to_be_bytes());
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x02];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn issue13_item7_tls_1_1_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(
        Tls::load(write(dir.path(), &pair())).unwrap(),
        limits(2_000),
    )
    .await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&tls11_client_hello()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .ok();
    // One fatal alert record (type 21), `protocol_version` (70): no
    // ServerHello, no certificate.
    assert!(answer.len() >= 7, "{answer:?}");
    assert_eq!(answer[0], 0x15, "an alert, not a handshake: {answer:?}");
    assert_eq!(
        &answer[5..7],
        &[2, 70],
        "fatal protocol_version: {answer:?}"
    );
}

/// Opens connections until one presents `expected` (the reload is polled),
/// or 5 s pass.
async fn presented_eventually(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
    expected: &CertificateDer<'static>,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match fetch(addr, connector).await {
            Ok((presented, _, _)) if &presented == expected => return true,
            Ok(_) => {}
            Err(e) => eprintln!("fetch: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn issue13_item7_a_replaced_certificate_is_presented_by_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (pair(), pair());
    let addr = start(Tls::load(write(dir.path(), &first)).unwrap(), limits(2_000)).await;
    let both = client(&[&first.der, &second.der], BOTH);
    assert_eq!(fetch(addr, &both).await.unwrap().0, first.der);

    write(dir.path(), &second);
    assert!(
        presented_eventually(addr, &both, &second.der).await,
        "the new certificate is served within a few polls"
    );
    let (_, _, answer) = fetch(addr, &client(&[&second.der], BOTH)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn issue13_item7_a_broken_replacement_keeps_the_old_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (pair(), pair());
    let files = write(dir.path(), &first);
    let tls = Tls::load(files.clone()).unwrap();
    let addr = start(tls.clone(), limits(2_000)).await;
    let trusts_first = client(&[&first.der], BOTH);

    // The new certificate with the old key: a renewal half done.
    std::fs::write(&files.certificate, &second.cert_pem).unwrap();
    assert!(matches!(tls.reload(), Err(TlsError::KeyMismatch { .. })));
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (presented, _, answer) = fetch(addr, &trusts_first).await.unwrap();
    assert_eq!(presented, first.der, "still the old certificate");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Garbage in the key file, then the key file gone: still the old one.
    std::fs::write(&files.certificate, &first.cert_pem).unwrap();
    std::fs::write(&files.key, "not a key").unwrap();
    assert!(matches!(tls.reload(), Err(TlsError::NoKey(_))));
    std::fs::remove_file(&files.key).unwrap();
    assert!(matches!(tls.reload(), Err(TlsError::Read { .. })));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(fetch(addr, &trusts_first).await.unwrap().0, first.der);

    // The renewal completed: the new pair is served.
    write(dir.path(), &second);
    assert!(presented_eventually(addr, &client(&[&second.der], BOTH), &second.der).await);
}

#[tokio::test]
async fn issue13_item7_a_stalled_handshake_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(Tls::load(write(dir.path(), &pair())).unwrap(), limits(300)).await;
    // Half a ClientHello, then nothing.
    let hello = tls11_client_hello();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(&hello[..10]).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a stalled handshake is not waited for forever"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn issue13_item7_start_refuses_files_that_cannot_be_served() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (pair(), pair());
    let files = write(dir.path(), &first);
    let mut messages = Vec::new();
    let mut message = |e: TlsError| {
        let text = e.to_string();
        messages.push(text.clone());
        text
    };

    // Missing file: named.
    let missing = TlsFiles::new(dir.path().join("nope.pem"), files.key.clone());
    let e = message(Tls::load(missing).unwrap_err());
    assert!(
        e.starts_with("cannot read the TLS certificate file") && e.contains("nope.pem"),
        "{e}"
    );

    // The key where the certificate should be: no certificate in it.
    let swapped = TlsFiles::new(files.key.clone(), files.key.clone());
    let e = message(Tls::load(swapped).unwrap_err());
    assert!(e.contains("holds no PEM certificate"), "{e}");

    // Broken PEM.
    let broken = dir.path().join("broken.pem");
    std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
    let e = message(Tls::load(TlsFiles::new(&broken, files.key.clone())).unwrap_err());
    assert!(e.contains("is not valid PEM"), "{e}");

    // A key that is not the certificate's.
    let other_key = dir.path().join("other.pem");
    std::fs::write(&other_key, &second.key_pem).unwrap();
    let e = message(Tls::load(TlsFiles::new(files.certificate.clone(), &other_key)).unwrap_err());
    assert!(e.contains("does not belong to the certificate"), "{e}");

    // Each is one line, and none carries the files' content.
    let key_body = second.key_pem.lines().nth(1).unwrap();
    for e in messages {
        assert!(!e.contains('\n') && !e.contains(key_body), "{e}");
    }
}
