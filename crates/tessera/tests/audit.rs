//! Issue 13 item 4: the audit trail as an operator reads it — `tessera
//! audit tail|search` over the real database, and the same events as JSON
//! log lines with `log_format = "json"`.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Deadlines in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{run, stdout, stop, tessera};

const SECRET: &str = "svc-secret-0123456789-0123456789-abcdef";

fn audit(dir: &std::path::Path, config: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut c = tessera(dir);
    c.arg("audit").args(args).arg("--config").arg(config);
    run(c, None)
}

#[tokio::test(flavor = "multi_thread")]
async fn issue13_item4_the_audit_trail_from_the_log_to_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tessera.toml");
    std::fs::write(
        &config,
        format!(
            r#"
issuer = "http://localhost:9001"
listen = "127.0.0.1:0"
log_format = "json"

[[clients]]
client_id = "svc"
client_secret = "{SECRET}"
grant_types = ["client_credentials"]
scopes = ["a"]
"#
        ),
    )
    .unwrap();

    // The server, its JSON log kept.
    let mut serve = tessera(dir.path());
    serve
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = serve.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let port: u16 = loop {
        assert!(Instant::now() < deadline, "server did not start");
        let line = lines.next().expect("server exited").unwrap();
        serde_json::from_str::<serde_json::Value>(&line)
            .unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
            break rest
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap();
        }
    };
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });

    let http = reqwest::Client::new();
    let token = |secret: &'static str| {
        http.post(format!("http://127.0.0.1:{port}/token"))
            .basic_auth("svc", Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    assert_eq!(
        token("wrong-secret-0123456789-0123456789")
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(token(SECRET).await.unwrap().status(), 200);

    // The log: one JSON object with the event's fields, never the secret.
    let deadline = Instant::now() + Duration::from_secs(10);
    let event = loop {
        let found = log.lock().unwrap().iter().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["target"] == "tessera::audit" && v["kind"] == "client_authentication_failed")
                .then_some(v)
        });
        if let Some(v) = found {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no audit line in {:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(event["outcome"], "failure");
    assert_eq!(event["client_id"], "svc");
    assert_eq!(event["source"], "127.0.0.1");
    assert!(
        !log.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("wrong-secret"))
    );
    stop(child);

    // The command line: the same event, from the table.
    let out = audit(
        dir.path(),
        &config,
        &[
            "search",
            "--client",
            "svc",
            "--kind",
            "client_authentication_failed",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["source"], "127.0.0.1");
    assert_eq!(found[0]["outcome"], "failure");

    // Management changes are events too, from the command line.
    let mut user = tessera(dir.path());
    user.args(["user", "add", "carol", "--password-stdin", "--config"])
        .arg(&config);
    assert!(run(user, Some("carol-password\n")).status.success());
    let out = audit(
        dir.path(),
        &config,
        &["search", "--user", "carol", "--since", "1h"],
    );
    let text = stdout(&out);
    assert!(
        text.contains("user_created") && text.contains("source=command line"),
        "{text}"
    );

    // Tail shows the newest last; seeding from the file was recorded too.
    let out = audit(dir.path(), &config, &["tail", "-n", "50"]);
    let text = stdout(&out);
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(kinds.last(), Some(&"user_created"), "{text}");
    assert!(kinds.contains(&"client_registered"), "{text}");
    assert!(text.contains("source=configuration file"), "{text}");

    // --follow prints what is written after it started.
    let mut follow = tessera(dir.path());
    follow
        .args(["audit", "tail", "-n", "1", "--follow", "--config"])
        .arg(&config)
        .stdout(Stdio::piped());
    let mut tail = follow.spawn().unwrap();
    let mut followed = BufReader::new(tail.stdout.take().unwrap()).lines();
    // Its first line (the newest event so far) says it is following.
    let first = followed.next().expect("the newest event").unwrap();
    assert!(first.contains("user carol created"), "{first}");
    let mut user = tessera(dir.path());
    user.args(["user", "add", "dave", "--password-stdin", "--config"])
        .arg(&config);
    assert!(run(user, Some("dave-password\n")).status.success());
    let line = followed.next().expect("a followed line").unwrap();
    assert!(
        line.contains("user_created") && line.contains("user dave created"),
        "{line}"
    );
    tail.kill().unwrap();
    tail.wait().unwrap();

    // A clear line for a bad filter.
    let out = audit(dir.path(), &config, &["search", "--since", "yesterday"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--since must be"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn issue13_item4_a_bad_log_format_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = tessera(dir.path());
    serve.args(["serve"]).env("TESSERA_LOG_FORMAT", "xml");
    let out = run(serve, None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("log_format must be \"text\" or \"json\""),
        "{err}"
    );
}
