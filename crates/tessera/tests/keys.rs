//! `tessera keys list|rotate|retire`, and what `tessera serve` does with the
//! keys, as an operator sees it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Deadlines and unique names in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Base64 of 32 bytes, as `openssl rand -base64 32` prints.
// Random: production mode refuses a weak key (issue 13 item 7).
const KEK_A: &str = "ez+8xWvkCeSWnnR5Rvisz60J3/SmKz8TEz8SaibJhlw=";
const KEK_B: &str = "a0kIQuo7XnS/l9MYi0V4w9Kb9W9CxIQk+t5ic+m5HKY=";

fn tessera(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.env_remove("TESSERA_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("TESSERA_KEY_ENCRYPTION_KEY")
        .env_remove("TESSERA_ISSUER")
        .env(
            "TESSERA_DATABASE",
            format!("sqlite://{}", dir.join("t.db").display()),
        )
        .current_dir(dir)
        .stdin(Stdio::null());
    c
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = tessera(dir);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(dir, args, env);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn refused(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(dir, args, env);
    assert!(
        !out.status.success(),
        "{args:?} should fail: {}",
        stdout(&out)
    );
    stderr(&out)
}

/// `kid → (algorithm, state)` from `tessera keys list`.
fn listed(dir: &Path, env: &[(&str, &str)]) -> Vec<(String, String, String)> {
    ok(dir, &["keys", "list"], env)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

fn kid_in(rotate_output: &str) -> String {
    rotate_output
        .split('`')
        .nth(1)
        .expect("the new kid is printed")
        .to_owned()
}

#[test]
fn keys_list_rotate_and_retire() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(listed(d, &[]).is_empty(), "a new database has no key yet");

    // With no key at all, the first one signs at once.
    let first = kid_in(&ok(d, &["keys", "rotate"], &[]));
    assert_eq!(
        listed(d, &[]),
        [(first.clone(), "ES256".into(), "active".into())]
    );

    // A rotation publishes a key ahead of use.
    let out = ok(d, &["keys", "rotate", "--algorithm", "EdDSA"], &[]);
    assert!(out.contains("published now, signing from"), "{out}");
    let pending = kid_in(&out);
    assert_eq!(
        listed(d, &[]),
        [
            (first.clone(), "ES256".into(), "active".into()),
            (pending.clone(), "EdDSA".into(), "pending".into()),
        ]
    );

    // The active key is never retired.
    let err = refused(d, &["keys", "retire", &first], &[]);
    assert!(err.contains("is the active signing key"), "{err}");
    // A pending key has signed nothing: it may be withdrawn.
    assert!(ok(d, &["keys", "retire", &pending], &[]).contains("retired"));
    assert_eq!(
        listed(d, &[])[1],
        (pending.clone(), "EdDSA".into(), "retired".into())
    );
    let err = refused(d, &["keys", "retire", &pending], &[]);
    assert!(err.contains("already retired"), "{err}");

    // --now: signs at once; the key it replaces stays until its tokens
    // (10 minutes by default) have expired.
    let out = ok(d, &["keys", "rotate", "--now", "--algorithm", "rs256"], &[]);
    assert!(out.contains("signing now"), "{out}");
    let current = kid_in(&out);
    // (In activation order: the withdrawn key would have activated last.)
    assert_eq!(
        listed(d, &[]),
        [
            (first.clone(), "ES256".into(), "superseded".into()),
            (current.clone(), "RS256".into(), "active".into()),
            (pending.clone(), "EdDSA".into(), "retired".into()),
        ]
    );
    let line = ok(d, &["keys", "list"], &[]);
    assert!(
        line.lines().next().unwrap().contains("retirable from 20"),
        "{line}"
    );
    let err = refused(d, &["keys", "retire", &first], &[]);
    assert!(
        err.contains("may have signed access tokens that are still valid"),
        "{err}"
    );
    assert!(err.contains("can be retired from 20"), "{err}");

    let err = refused(d, &["keys", "retire", "no-such-kid"], &[]);
    assert!(err.contains("no signing key `no-such-kid`"), "{err}");
    let err = refused(d, &["keys", "rotate", "--algorithm", "HS256"], &[]);
    assert!(
        err.contains("possible values: ES256, EdDSA, RS256"),
        "{err}"
    );
}

#[test]
fn production_mode_needs_the_right_key_encryption_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let https = ("TESSERA_ISSUER", "https://as.example.com");
    let kek_a = ("TESSERA_KEY_ENCRYPTION_KEY", KEK_A);
    let kek_b = ("TESSERA_KEY_ENCRYPTION_KEY", KEK_B);

    let err = refused(d, &["keys", "rotate"], &[https]);
    assert!(err.contains("no key_encryption_key configured"), "{err}");
    assert!(err.contains("TESSERA_KEY_ENCRYPTION_KEY"), "{err}");
    let err = refused(d, &["serve"], &[https]);
    assert!(err.contains("no key_encryption_key configured"), "{err}");

    ok(d, &["keys", "rotate"], &[https, kek_a]);
    // Listing needs no key; rotating with the wrong one is refused, so no key
    // the server could not read is ever added.
    assert_eq!(listed(d, &[https]).len(), 1);
    let err = refused(d, &["keys", "rotate"], &[https, kek_b]);
    assert!(
        err.contains("cannot be decrypted with the configured key_encryption_key"),
        "{err}"
    );
    assert_eq!(listed(d, &[https]).len(), 1);

    // A server with the wrong key refuses to start, with a clear message.
    let out = run(
        d,
        &["serve"],
        &[https, kek_b, ("TESSERA_LISTEN", "127.0.0.1:0")],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("cannot be decrypted with the configured key_encryption_key"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !err.contains(KEK_B) && !err.contains(KEK_A),
        "keys never printed"
    );

    for bad in ["c2hvcnQ=", "not base64 at all"] {
        let err = refused(
            d,
            &["keys", "list"],
            &[https, ("TESSERA_KEY_ENCRYPTION_KEY", bad)],
        );
        assert!(err.contains("base64 of exactly 32 random bytes"), "{err}");
        assert!(!err.contains(bad), "the value is not echoed");
    }
}

fn start(dir: &Path, config: &Path) -> (Child, u16) {
    let mut serve = tessera(dir);
    serve
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = serve.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let port = loop {
        assert!(Instant::now() < deadline, "server did not start");
        let line = lines.next().expect("server exited").unwrap();
        if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
            break rest
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// The real background task of `tessera serve`, in real time: a key rotated
/// with the CLI shows up in the running server's JWKS within the reload
/// interval (1 s here).
#[tokio::test(flavor = "multi_thread")]
async fn a_running_server_picks_up_a_cli_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("tessera.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nkey_reload_interval_secs = 1\n",
    )
    .unwrap();
    let (mut child, port) = start(d, &config);
    let jwks = || async move {
        reqwest::get(format!("http://127.0.0.1:{port}/jwks.json"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // The access-token key, and an ID-token key per algorithm (RS256 among
    // them, as OpenID Connect requires).
    assert_eq!(jwks().await.matches("\"kid\"").count(), 4);
    let mut list = tessera(d);
    list.args(["--config"]).arg(&config).args(["keys", "list"]);
    let listed = stdout(&list.output().unwrap());
    assert_eq!(listed.matches("signs ID tokens").count(), 3, "{listed}");

    let mut rotate = tessera(d);
    rotate
        .args(["--config"])
        .arg(&config)
        .args(["keys", "rotate", "--algorithm", "EdDSA"]);
    let out = rotate.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let kid = kid_in(&stdout(&out));

    let deadline = Instant::now() + Duration::from_secs(20);
    while !jwks().await.contains(&format!("\"{kid}\"")) {
        assert!(
            Instant::now() < deadline,
            "the server never reloaded its keys"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // ID-token keys rotate on their own chain.
    let mut rotate = tessera(d);
    rotate
        .args(["--config"])
        .arg(&config)
        .args(["keys", "rotate", "--id-token"]);
    let out = rotate.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let id_kid = kid_in(&stdout(&out));
    let mut list = tessera(d);
    list.args(["--config"]).arg(&config).args(["keys", "list"]);
    let listed = stdout(&list.output().unwrap());
    let line = listed.lines().find(|l| l.starts_with(&id_kid)).unwrap();
    assert!(
        line.contains("RS256") && line.contains("pending") && line.contains("signs ID tokens"),
        "{line}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Key ids are random base64url, so one in 32 starts with `-`: it must be
/// read as the kid, not as an option.
#[test]
fn a_kid_starting_with_a_hyphen_is_a_kid() {
    let dir = tempfile::tempdir().unwrap();
    let err = refused(
        dir.path(),
        &["keys", "retire", "-tyOfLg6tabkMxMHlG7D0w"],
        &[],
    );
    assert!(
        err.contains("no signing key `-tyOfLg6tabkMxMHlG7D0w`"),
        "{err}"
    );
}
