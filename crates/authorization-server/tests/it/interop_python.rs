//! Interoperability with Python's most used OAuth clients (issue 12 item 2
//! and its "Done when"): `interop/python/interop.py` drives Authlib through
//! discovery, the code flow with PKCE through the real login and consent
//! forms, ID-token validation by Authlib's own rules, UserInfo, refresh
//! (Basic and post), revocation, and requests-oauthlib through client
//! credentials; it exits non-zero on failure. Both libraries send HTTP Basic
//! credentials without form-encoding them, and both clients here have a
//! secret with `+`, `/` and `=`.
//!
//! The pinned packages live in a virtualenv at `interop/python/.venv`
//! (`.ci/run` makes it; this test makes it when it is missing, which needs
//! PyPI). Set `TESSERA_SKIP_PYTHON_INTEROP=1` to skip on a machine without
//! Python; the test says so on its output.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::*;
use crate::oidc_basic_op::set_alice_claims;

/// The shape of `openssl rand -base64 32`, as an operator may well choose.
const AUTHLIB_SECRET: &str = "kq+3Vz/8HnWp0T+q4mW7xYb2Jr/Lc9dE5fG1hA2=";
const SERVICE_SECRET: &str = "s+Vz/8k=Hn4p+0Tq4mW7xYb2Jr+Lc9dE5fG/h1==";

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/python")
}

/// The virtualenv's interpreter, made from the pinned requirements when
/// missing.
fn python() -> PathBuf {
    let dir = interop_dir();
    let python = dir.join(".venv/bin/python");
    if !python.exists() {
        let run = |program: &str, args: &[&str]| {
            let out = Command::new(program)
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap_or_else(|e| {
                    panic!("{program}: {e} (set TESSERA_SKIP_PYTHON_INTEROP=1 to skip)")
                });
            assert!(
                out.status.success(),
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run("python3", &["-m", "venv", ".venv"]);
        run(
            ".venv/bin/pip",
            &["install", "-q", "--no-deps", "-r", "requirements.txt"],
        );
    }
    python
}

#[tokio::test]
async fn python_authlib_and_requests_oauthlib_interoperate() {
    if std::env::var_os("TESSERA_SKIP_PYTHON_INTEROP").is_some() {
        eprintln!("SKIPPED: TESSERA_SKIP_PYTHON_INTEROP is set");
        return;
    }
    let python = python();
    // Authlib checks token times against the real clock.
    let app = TestApp::builder().wall_clock().spawn().await;
    set_alice_claims(&app).await;
    app.register(client(
        "authlib",
        Some(AUTHLIB_SECRET),
        &[C1_REDIRECT],
        &["a", "b"],
    ))
    .await;
    let mut service = client("requests-oauthlib", Some(SERVICE_SECRET), &[], &["a"]);
    service.grant_types = vec!["client_credentials".into()];
    app.register(service).await;

    let issuer = app.issuer().to_owned();
    // The script runs on a blocking thread, so this runtime's thread keeps
    // serving its requests.
    let run = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg("interop.py")
            .current_dir(interop_dir())
            .env("TESSERA_ISSUER", issuer)
            .env("CLIENT_ID", "authlib")
            .env("CLIENT_SECRET", AUTHLIB_SECRET)
            .env("REDIRECT_URI", C1_REDIRECT)
            .env("USERNAME", ALICE)
            .env("PASSWORD", ALICE_PASSWORD)
            .env("SERVICE_ID", "requests-oauthlib")
            .env("SERVICE_SECRET", SERVICE_SECRET)
            .env("RS_CLIENT_ID", "rs1")
            .env("RS_CLIENT_SECRET", RS1_SECRET)
            .output()
            .expect("python (set TESSERA_SKIP_PYTHON_INTEROP=1 to skip)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the Python clients failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    println!("{stdout}");
}
