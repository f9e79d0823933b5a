//! Issue 13 item 7, production posture, as an operator meets it through
//! the `tessera` binary: built-in TLS from two configuration keys, and the
//! production checks refusing to start with one clear line (a weak
//! key-encryption key, a `mode` the issuer contradicts, TLS files that
//! cannot be served).
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Deadlines in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{free_port, run, stdout, stop, tessera};

/// Random: what `openssl rand -base64 32` prints.
const STRONG_KEK: &str = "a0kIQuo7XnS/l9MYi0V4w9Kb9W9CxIQk+t5ic+m5HKY=";

/// Runs `command`, which must fail, and returns its one line of error
/// (without `error: `).
fn one_error_line(command: Command) -> String {
    let out = run(command, None);
    assert!(!out.status.success(), "should fail: {}", stdout(&out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0]
        .strip_prefix("error: ")
        .expect("starts with error:")
        .to_owned()
}

fn https_serve(dir: &Path) -> Command {
    let mut serve = tessera(dir);
    serve
        .arg("serve")
        .env("TESSERA_ISSUER", "https://localhost")
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_KEY_ENCRYPTION_KEY", STRONG_KEK);
    serve
}

#[test]
fn issue13_item7_a_weak_key_encryption_key_is_refused_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let counting: Vec<u8> = (0u8..32).collect();
    for (weak, why) in [
        (b64(&[0x5e; 32]), "fewer than 16 different byte values"),
        (b64(b"correct horse battery staple 123"), "printable"),
        (b64(&counting), "counting sequence"),
    ] {
        let mut serve = https_serve(dir.path());
        serve.env("TESSERA_KEY_ENCRYPTION_KEY", &weak);
        let message = one_error_line(serve);
        assert!(
            message.contains("key_encryption_key is weak") && message.contains(why),
            "{message}"
        );
        assert!(message.contains("openssl rand -base64 32"), "{message}");
        assert!(!message.contains(&weak), "the key is not echoed");
    }

    // Refused before the database is touched: nothing was written.
    assert!(!dir.path().join("t.db").exists());

    // In development mode (an http://localhost issuer) it is allowed.
    let mut rotate = tessera(dir.path());
    rotate
        .args(["keys", "rotate"])
        .env("TESSERA_KEY_ENCRYPTION_KEY", b64(&[0x5e; 32]));
    let out = run(rotate, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn issue13_item7_mode_must_be_what_the_issuer_makes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = tessera(dir.path());
    serve.arg("serve").env("TESSERA_MODE", "production");
    let message = one_error_line(serve);
    assert!(
        message.contains("mode is production")
            && message.contains("http://localhost:9001")
            && message.contains("needs an https issuer"),
        "{message}"
    );

    let mut serve = https_serve(dir.path());
    serve.env("TESSERA_MODE", "development");
    let message = one_error_line(serve);
    assert!(message.contains("mode is development"), "{message}");

    let mut serve = tessera(dir.path());
    serve.arg("serve").env("TESSERA_MODE", "staging");
    let message = one_error_line(serve);
    assert!(
        message.contains("mode must be \"production\" or \"development\""),
        "{message}"
    );
}

/// A self-signed certificate for `localhost` and its key, written to `dir`.
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key, certified.cert.pem())
}

#[test]
fn issue13_item7_tls_files_that_cannot_be_served_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cert, key, _) = certificate(d, "a");
    let (_, other_key, _) = certificate(d, "b");

    let cases: [(&[(&str, &Path)], &str); 4] = [
        (
            &[("TESSERA_TLS_CERTIFICATE_FILE", &cert)],
            "tls_certificate_file is set but tls_key_file is not",
        ),
        (
            &[
                ("TESSERA_TLS_CERTIFICATE_FILE", &d.join("missing.crt")),
                ("TESSERA_TLS_KEY_FILE", &key),
            ],
            "cannot read the TLS certificate file",
        ),
        (
            &[
                ("TESSERA_TLS_CERTIFICATE_FILE", &cert),
                ("TESSERA_TLS_KEY_FILE", &other_key),
            ],
            "does not belong to the certificate",
        ),
        (
            &[
                ("TESSERA_TLS_CERTIFICATE_FILE", &key),
                ("TESSERA_TLS_KEY_FILE", &key),
            ],
            "holds no PEM certificate",
        ),
    ];
    for (settings, expected) in cases {
        let mut serve = https_serve(d);
        for (name, value) in settings {
            serve.env(name, value);
        }
        let message = one_error_line(serve);
        assert!(message.contains(expected), "{message}");
    }

    // Serving https itself with an http issuer is a contradiction.
    let mut serve = tessera(d);
    serve
        .arg("serve")
        .env("TESSERA_TLS_CERTIFICATE_FILE", &cert)
        .env("TESSERA_TLS_KEY_FILE", &key);
    let message = one_error_line(serve);
    assert!(message.contains("needs an https issuer"), "{message}");
}

/// Spawns `command` and waits for it to log that it listens with https on
/// `port`.
fn start_https(mut command: Command, port: u16) -> std::process::Child {
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "server did not start");
        let line = lines.next().expect("server exited").unwrap();
        if line.contains(&format!("listening on https://127.0.0.1:{port}")) {
            break;
        }
    }
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

/// A client that trusts only `pem` and finds `localhost` on `port`.
fn trusting(pem: &str, port: u16) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn issue13_item7_tessera_serve_answers_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = certificate(dir.path(), "server");
    let port = free_port();
    let mut serve = https_serve(dir.path());
    serve
        .env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
        .env("TESSERA_TLS_CERTIFICATE_FILE", &cert)
        .env("TESSERA_TLS_KEY_FILE", &key);
    let child = start_https(serve, port);
    let client = trusting(&pem, port);
    let r = client
        .get(format!(
            "https://localhost:{port}/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let metadata: serde_json::Value = r.json().await.unwrap();
    assert_eq!(metadata["issuer"], "https://localhost");
    stop(child);
}

#[tokio::test]
async fn issue13_item7_the_photo_api_answers_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = certificate(dir.path(), "api");
    let port = free_port();
    let mut api = tessera(dir.path());
    api.arg("photo-api")
        .env("TESSERA_RESOURCE_LISTEN", format!("127.0.0.1:{port}"))
        // No AS: the API starts anyway (and would answer 503 to tokens).
        .env("TESSERA_RESOURCE_ISSUER", "http://127.0.0.1:9")
        .env("TESSERA_RESOURCE_TLS_CERTIFICATE_FILE", &cert)
        .env("TESSERA_RESOURCE_TLS_KEY_FILE", &key);
    let child = start_https(api, port);
    let r = trusting(&pem, port)
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    stop(child);

    // Without its key, it refuses to start, naming the key to set.
    let mut api = tessera(dir.path());
    api.arg("photo-api")
        .env("TESSERA_RESOURCE_LISTEN", "127.0.0.1:0")
        .env("TESSERA_RESOURCE_TLS_CERTIFICATE_FILE", &cert);
    let message = one_error_line(api);
    assert!(
        message.contains("tls_certificate_file is set but tls_key_file is not"),
        "{message}"
    );
}

#[tokio::test]
async fn issue13_item7_the_photo_printer_answers_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = certificate(dir.path(), "printer");
    let port = free_port();
    let mut printer = tessera(dir.path());
    printer
        .arg("photo-printer")
        .env("TESSERA_CLIENT_APP_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "TESSERA_CLIENT_APP_CLIENT_SECRET",
            "printer-secret-0123456789-0123456789",
        )
        .env(
            "TESSERA_CLIENT_APP_REDIRECT_URI",
            format!("https://localhost:{port}/callback"),
        )
        .env("TESSERA_CLIENT_APP_TLS_CERTIFICATE_FILE", &cert)
        .env("TESSERA_CLIENT_APP_TLS_KEY_FILE", &key);
    let child = start_https(printer, port);
    let r = trusting(&pem, port)
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    stop(child);
}
