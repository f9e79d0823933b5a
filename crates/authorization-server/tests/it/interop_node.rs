//! Interoperability with Node's `openid-client` (v6, `interop/node`): the
//! script drives discovery, the code flow with PKCE through the real login
//! and consent forms, ID-token validation (signatures included), UserInfo,
//! refresh, introspection and revocation, and exits non-zero on failure.
//!
//! Needs `node` and `npm` (CI installs them). `npm ci` runs here when
//! `interop/node/node_modules` is missing. Set `TESSERA_SKIP_NODE_INTEROP=1`
//! to skip on a machine without Node; the test says so on its output.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::*;
use crate::oidc_basic_op::set_alice_claims;

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/node")
}

#[tokio::test]
async fn node_openid_client_interoperates() {
    if std::env::var_os("TESSERA_SKIP_NODE_INTEROP").is_some() {
        eprintln!("SKIPPED: TESSERA_SKIP_NODE_INTEROP is set");
        return;
    }
    let dir = interop_dir();
    if !dir.join("node_modules").exists() {
        let ci = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm (set TESSERA_SKIP_NODE_INTEROP=1 to skip)");
        assert!(
            ci.status.success(),
            "npm ci: {}",
            String::from_utf8_lossy(&ci.stderr)
        );
    }
    // openid-client checks token times against the real clock.
    let app = TestApp::builder().wall_clock().spawn().await;
    set_alice_claims(&app).await;
    let issuer = app.issuer().to_owned();
    // The script runs on a blocking thread, so this runtime's thread keeps
    // serving its requests.
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("oidc-interop.mjs")
            .current_dir(interop_dir())
            .env("TESSERA_ISSUER", issuer)
            .env("CLIENT_ID", "c1")
            .env("CLIENT_SECRET", C1_SECRET)
            .env("REDIRECT_URI", C1_REDIRECT)
            .env("USERNAME", ALICE)
            .env("PASSWORD", ALICE_PASSWORD)
            .env("RS_CLIENT_ID", "rs1")
            .env("RS_CLIENT_SECRET", RS1_SECRET)
            .output()
            .expect("node (set TESSERA_SKIP_NODE_INTEROP=1 to skip)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "openid-client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    println!("{stdout}");
}
