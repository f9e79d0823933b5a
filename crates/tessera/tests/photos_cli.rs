//! `tessera photos`, the native client (issue 17), end to end over real
//! HTTP: the real binary as the CLI, the real authorization server and photo
//! API on loopback, and this test as the browser (it follows the printed
//! sign-in address and fills in the real login and consent forms).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tessera_test_support::{ALICE, ALICE_PASSWORD, Browser, Servers, client_spec};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const CLI_CLIENT: &str = "photo-cli";
/// What `Servers::end_alices_grants` sets alice's password to.
const ALICE_NEW_PASSWORD: &str = "alice-new-password-2";
/// A PNG as far as the photo API checks (its signature).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

async fn servers() -> Servers {
    let mut cli = client_spec(
        CLI_CLIENT,
        "unused",
        &["http://127.0.0.1/callback"],
        &["photos:read", "photos:write"],
        &["authorization_code", "refresh_token"],
    );
    cli.client_secret = None;
    Servers::builder().client(cli).start().await
}

/// `tessera photos …` against `servers`, keeping its token file in `dir`.
fn photos(servers: &Servers, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.arg("photos")
        .args(args)
        .args(["--issuer", &servers.issuer, "--api", &servers.photos])
        .args([
            "--token-store",
            "file",
            "--no-browser",
            "--timeout-secs",
            "60",
        ])
        .arg("--config-dir")
        .arg(dir)
        .env_remove("TESSERA_PHOTOS_KEEP_ACCESS_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

struct Finished {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs a command that needs no sign-in.
async fn finish(mut command: Command) -> Finished {
    let out = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the CLI finished in time")
        .expect("the CLI ran");
    Finished {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a command that signs in through the browser: reads the sign-in
/// address the CLI prints, plays the browser through login and consent
/// (pressing `decision`), sends the browser to the CLI's loopback callback,
/// and returns what the CLI printed and what the browser tab showed.
async fn with_browser_sign_in(
    mut command: Command,
    password: &str,
    decision: &str,
) -> (Finished, String, String) {
    let mut child: Child = command.spawn().expect("the CLI starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = String::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), stderr.next_line())
            .await
            .expect("the CLI printed the sign-in address in time")
            .expect("stderr")
            .unwrap_or_else(|| panic!("the CLI ended before printing an address:\n{seen}"));
        seen.push_str(&line);
        seen.push('\n');
        if let Some(url) = line.trim().strip_prefix("http") {
            break format!("http{url}");
        }
    };
    let browser = Browser::at(&url[..url.find("/authorize").expect("an authorization URL")]);
    let callback = browser
        .through_login_and_consent(&url, ALICE, password, decision, None)
        .await;
    assert!(
        callback.starts_with("http://127.0.0.1:") && callback.contains("/callback?"),
        "the redirect goes to the CLI's loopback listener: {callback}"
    );
    let tab = reqwest::get(&callback)
        .await
        .expect("the CLI's listener answers")
        .text()
        .await
        .expect("a page");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the CLI finished in time")
        .expect("the CLI ran");
    while let Ok(Some(line)) = stderr.next_line().await {
        seen.push_str(&line);
        seen.push('\n');
    }
    let finished = Finished {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: seen,
    };
    (finished, tab, callback)
}

fn token_file(dir: &Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .expect("the config dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

fn stored(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(token_file(dir)).expect("token file"))
        .expect("JSON")
}

/// Issue 17, "Done when": login, list, upload, an access token that stops
/// working (refreshed once), a refresh token that stops working (OAuth
/// again), logout.
#[tokio::test]
async fn issue17_the_native_client_signs_in_calls_refreshes_and_signs_in_again() {
    let servers = servers().await;
    let dir = tempfile::tempdir().expect("config dir");

    // Sign in through the browser, with the loopback redirect.
    let (login, tab, callback) = with_browser_sign_in(
        photos(&servers, dir.path(), &["login"]),
        ALICE_PASSWORD,
        "approve",
    )
    .await;
    assert!(login.success, "{}{}", login.stdout, login.stderr);
    assert!(
        login.stdout.contains("Signed in as Alice Liddell"),
        "{}",
        login.stdout
    );
    assert!(
        tab.contains("You can close this tab and return to the terminal"),
        "{tab}"
    );
    // The listener closed after the first valid callback.
    assert!(
        reqwest::get(&callback).await.is_err(),
        "a second callback finds the port closed"
    );

    // Rule: the token file is 0600, holds the refresh token, and no access
    // token unless asked.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(token_file(dir.path()))
            .expect("token file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let saved = stored(dir.path());
    assert_eq!(saved["tokens"]["access_token"], "", "{saved}");
    assert!(
        saved["tokens"]["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 32)
    );

    // Upload and list: each run starts with one refresh (no access token
    // was kept).
    let image = dir.path().join("Sunset at the pier.png");
    std::fs::write(&image, PNG).expect("image");
    let before = servers.token_requests();
    let up = finish(photos(
        &servers,
        dir.path(),
        &["upload", image.to_str().expect("path")],
    ))
    .await;
    assert!(up.success, "{}{}", up.stdout, up.stderr);
    assert_eq!(servers.token_requests(), before + 1, "one refresh");

    // Asked to keep the access token: the next run reuses it.
    let keep = |args: &[&str]| {
        let mut c = photos(&servers, dir.path(), args);
        c.env("TESSERA_PHOTOS_KEEP_ACCESS_TOKEN", "true");
        c
    };
    let listed = finish(keep(&["list"])).await;
    assert!(listed.success, "{}{}", listed.stdout, listed.stderr);
    assert!(
        listed.stdout.contains("Sunset at the pier"),
        "{}",
        listed.stdout
    );
    let before = servers.token_requests();
    let listed = finish(keep(&["list"])).await;
    assert!(listed.success, "{}", listed.stderr);
    assert_eq!(
        servers.token_requests(),
        before,
        "the kept access token is used"
    );

    // The access token stops working (revoked at the AS): the photo API
    // answers 401 invalid_token, the CLI refreshes once and carries on.
    let access_token = stored(dir.path())["tokens"]["access_token"]
        .as_str()
        .expect("kept")
        .to_owned();
    assert!(!access_token.is_empty());
    let revoked = reqwest::Client::new()
        .post(format!("{}/revoke", servers.issuer))
        .form(&[
            ("token", access_token.as_str()),
            ("token_type_hint", "access_token"),
            ("client_id", CLI_CLIENT),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);
    let listed = finish(keep(&["list"])).await;
    assert!(listed.success, "{}", listed.stderr);
    assert!(
        listed.stdout.contains("Sunset at the pier"),
        "{}",
        listed.stdout
    );
    assert_eq!(servers.token_requests(), before + 1, "refreshed once");

    // The refresh token stops working too (alice's password changed, which
    // ends her grants): the CLI says why and does OAuth again.
    servers.end_alices_grants().await;
    let (again, _, _) = with_browser_sign_in(keep(&["list"]), ALICE_NEW_PASSWORD, "approve").await;
    assert!(again.success, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stderr.contains("refused the stored refresh token")
            && again.stderr.contains("signing in again"),
        "{}",
        again.stderr
    );
    assert!(
        again.stdout.contains("Sunset at the pier"),
        "{}",
        again.stdout
    );

    // Logout revokes the refresh token at the AS and removes the file.
    let refresh_token = stored(dir.path())["tokens"]["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let out = finish(photos(&servers, dir.path(), &["logout"])).await;
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("revoked and forgotten"),
        "{}",
        out.stdout
    );
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").all(|e| e
            .expect("entry")
            .path()
            .extension()
            .is_none_or(|x| x != "json")),
        "the token file is gone"
    );
    let refused = reqwest::Client::new()
        .post(format!("{}/token", servers.issuer))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", CLI_CLIENT),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(
        refused.status(),
        400,
        "the revoked refresh token is refused"
    );
    // No secret ever reached the terminal.
    for secret in [&access_token, &refresh_token] {
        for text in [&login.stdout, &login.stderr, &again.stdout, &again.stderr] {
            assert!(!text.contains(secret.as_str()));
        }
    }
}

/// Issue 17 rule: a callback with an error shows it in the terminal and in
/// the browser tab, and nothing is stored.
#[tokio::test]
async fn issue17_a_denied_sign_in_is_shown_in_the_terminal_and_the_tab() {
    let servers = servers().await;
    let dir = tempfile::tempdir().expect("config dir");
    let (login, tab, _) = with_browser_sign_in(
        photos(&servers, dir.path(), &["login"]),
        ALICE_PASSWORD,
        "deny",
    )
    .await;
    assert!(!login.success);
    assert!(
        login.stderr.contains("the user denied access"),
        "{}",
        login.stderr
    );
    assert!(tab.contains("access_denied"), "{tab}");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "nothing stored"
    );
}

/// Issue 17, "Done when": the command the demo's banner prints signs in
/// against `tessera demo` itself, lists the demo photos and logs out.
#[tokio::test]
async fn issue17_the_banner_command_works_against_the_demo() {
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    };
    let (printer, authorization_server, api) = (port(), port(), port());
    let data = tempfile::tempdir().expect("data dir");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_tessera"));
    demo.env_remove("TESSERA_CONFIG")
        .env_remove("RUST_LOG")
        .arg("demo")
        .args(["--printer-port", &printer.to_string()])
        .args(["--as-port", &authorization_server.to_string()])
        .args(["--api-port", &api.to_string()])
        .arg("--data-dir")
        .arg(data.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut demo = demo.spawn().expect("the demo starts");
    let mut banner = BufReader::new(demo.stdout.take().expect("stdout")).lines();
    let (mut command, mut credentials) = (None, None);
    while credentials.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(60), banner.next_line())
            .await
            .expect("the banner in time")
            .expect("stdout")
            .expect("the demo printed its banner");
        if let Some(rest) = line.trim().strip_prefix("the native client") {
            command = Some(rest.trim().to_owned());
        }
        if let Some(rest) = line.split("log in as").nth(1) {
            let (user, password) = rest.trim().split_once(" / ").expect("user / password");
            credentials = Some((user.to_owned(), password.to_owned()));
        }
    }
    let command = command.expect("the banner names the native client's command");
    let flags: Vec<&str> = command
        .strip_prefix("tessera photos login")
        .expect("tessera photos login …")
        .split_whitespace()
        .collect();
    let (user, password) = credentials.expect("credentials");
    let dir = tempfile::tempdir().expect("config dir");
    let cli = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
        c.arg("photos")
            .args(args)
            .args(&flags)
            .args(["--token-store", "file", "--no-browser"])
            .arg("--config-dir")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    };
    assert_eq!(user, ALICE);
    let (login, _, _) = with_browser_sign_in(cli(&["login"]), &password, "approve").await;
    assert!(login.success, "{}{}", login.stdout, login.stderr);
    assert!(
        login.stdout.contains("Signed in as Alice Liddell"),
        "{}",
        login.stdout
    );
    let listed = finish(cli(&["list"])).await;
    assert!(listed.success, "{}{}", listed.stdout, listed.stderr);
    assert!(
        listed.stdout.contains("bytes"),
        "the demo's photos: {}",
        listed.stdout
    );
    let out = finish(cli(&["logout"])).await;
    assert!(
        out.success && out.stdout.contains("revoked and forgotten"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let _ = demo.start_kill();
}

/// `tessera photos` has no configuration file: `--config` is refused in
/// one clear line rather than silently ignored.
#[tokio::test]
async fn issue17_photos_refuses_a_config_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["--config", "tessera.toml", "photos", "list"])
        .output()
        .await
        .expect("the CLI ran");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("takes no --config"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
