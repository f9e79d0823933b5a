//! Issue 13, "done when": a bounded login storm, a slow-client storm and a
//! kill -9 during a burst of writes, against the real binary on loopback,
//! each stopping by itself. Other requests keep being answered during the
//! storms, memory stays bounded, and nothing the server answered is lost.
//!
//! The latency bounds here are liveness checks (the finding was a server
//! unreachable for 45 s), not benchmarks: the figures measured are printed
//! for the record, and the assertions leave a wide margin for a busy
//! machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Deadlines and latencies in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{start_command, stop, tessera};
use tessera_test_support::{Browser, location};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const SVC_SECRET: &str = "svc-secret-0123456789-0123456789-abcdef";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// A probe slower than this means the server was starved.
const LIVENESS: Duration = Duration::from_secs(5);
/// No request of these tests waits longer than this: a starved server
/// fails the test instead of hanging it.
const REQUEST_DEADLINE: Duration = Duration::from_secs(60);

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_DEADLINE)
        .build()
        .unwrap()
}

fn config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("tessera.toml");
    std::fs::write(
        &path,
        format!(
            r#"
issuer = "http://localhost:9001"
listen = "127.0.0.1:0"
header_read_timeout_secs = 1
{extra}

[[clients]]
client_id = "svc"
client_secret = "{SVC_SECRET}"
grant_types = ["client_credentials"]
scopes = ["a"]
introspect = true
access_token_format = "opaque"

[[clients]]
client_id = "web"
client_secret = "web-secret-0123456789-0123456789-abcdef"
redirect_uris = ["http://localhost:9000/callback"]
scopes = ["a"]

[[users]]
username = "alice"
password = "alice-password"
"#
        ),
    )
    .unwrap();
    path
}

fn start(dir: &Path, config: &Path) -> (Child, String) {
    let mut serve = tessera(dir);
    serve.args(["serve", "--config"]).arg(config);
    let (child, port) = start_command(serve);
    (child, format!("http://127.0.0.1:{port}"))
}

/// A client-credentials token request; the token if answered 200.
async fn token(http: &reqwest::Client, base: &str) -> Result<String, String> {
    let r = http
        .post(format!("{base}/token"))
        .basic_auth("svc", Some(SVC_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != 200 {
        return Err(r.status().to_string());
    }
    let body: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no token".into())
}

/// Probes the server (discovery, then a token) until `stop` is set; the
/// slowest answer, and how many probes there were. A failed probe fails
/// the test.
async fn probe_until(base: String, stop: Arc<AtomicBool>) -> (Duration, usize) {
    let http = http_client();
    let mut slowest = Duration::ZERO;
    let mut count = 0;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let r = http
            .get(format!("{base}/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery answered during the storm");
        assert_eq!(r.status(), 200);
        token(&http, &base).await.expect("a token during the storm");
        slowest = slowest.max(started.elapsed());
        count += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (slowest, count)
}

fn rss_kib(child: &Child, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Finding "a login flood exhausts memory" (200 concurrent wrong-password
/// logins took the server from 59 MiB to 3.8 GiB): now bounded by the
/// hashing slots, and the server answers others throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue13_storm_a_login_storm_leaves_the_server_answering() {
    const STORM: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    // Every storm login costs a hashing slot (distinct usernames, the
    // address throttle out of the way): the worst case for memory.
    let config = config(
        dir.path(),
        "password_hashing_slots = 2\npassword_hashing_queue = 4\nlogin_throttle_address_free_failures = 100000\n[budgets]\nanonymous_authorizations_per_address = \"off\"",
    );
    let (child, base) = start(dir.path(), &config);
    let before = rss_kib(&child, "VmRSS:");

    // Each storm login in its own browser, its form ready.
    let mut forms = Vec::new();
    for i in 0..STORM {
        let mut browser = Browser::at(&base);
        // A fresh connection for each request: preparing 200 forms takes
        // longer than the header-read timeout, which closes idle kept-alive
        // connections (as it should) under a pool that would reuse them.
        browser.http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .timeout(REQUEST_DEADLINE)
            .build()
            .unwrap();
        let r = browser
            .get(&format!(
                "/authorize?response_type=code&client_id=web&scope=a&state=s{i}\
                 &code_challenge={CHALLENGE}&code_challenge_method=S256"
            ))
            .await;
        let mut form = browser.form_at(&location(&r)).await;
        form.set("username", &format!("storm-{i}"))
            .set("password", "wrong-password-1");
        forms.push((browser, form));
    }

    let stop_probes = Arc::new(AtomicBool::new(false));
    let probes = tokio::spawn(probe_until(base.clone(), stop_probes.clone()));
    let started = Instant::now();
    let mut storm = tokio::task::JoinSet::new();
    for (browser, form) in forms {
        storm.spawn(async move { browser.submit(&form, None).await.status().as_u16() });
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    while let Some(s) = storm.join_next().await {
        *statuses.entry(s.unwrap()).or_default() += 1;
    }
    let storm_time = started.elapsed();
    stop_probes.store(true, Ordering::Relaxed);
    let (slowest, count) = probes.await.unwrap();
    let peak = rss_kib(&child, "VmHWM:");
    println!(
        "login storm: {STORM} logins in {storm_time:?}, answers {statuses:?}; \
         {count} probes, slowest {slowest:?}; RSS {} MiB before, peak {} MiB",
        before / 1024,
        peak / 1024
    );
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        [401, 503],
        "every storm login answered: a failed login or 'busy'"
    );
    assert!(count > 0 && slowest < LIVENESS, "probes: {slowest:?}");
    // Two slots of ~19 MiB: far from the gigabytes of the finding.
    assert!(
        peak < before + 200 * 1024,
        "peak RSS {} MiB from {} MiB",
        peak / 1024,
        before / 1024
    );
    stop(child);
}

/// Finding "no connection timeouts and no connection limit": 300 clients
/// that never finish their headers and 300 idle sockets do not starve real
/// ones, and are closed after the header-read timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue13_storm_a_slow_client_storm_leaves_the_server_answering() {
    const SLOW: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let (child, base) = start(dir.path(), &config);
    let addr = base.trim_start_matches("http://").to_owned();

    let mut slow = Vec::new();
    for i in 0..2 * SLOW {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 0 {
            // Half a request, then nothing.
            s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
                .await
                .unwrap();
        }
        slow.push(s);
    }
    let stop_probes = Arc::new(AtomicBool::new(false));
    let probes = tokio::spawn(probe_until(base.clone(), stop_probes.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_probes.store(true, Ordering::Relaxed);
    let (slowest, count) = probes.await.unwrap();

    // Every slow or idle socket has been closed by the server by now (1 s
    // header-read timeout): a read sees the end, never waits.
    let mut checks = tokio::task::JoinSet::new();
    for mut s in slow {
        checks.spawn(async move {
            let mut buf = [0u8; 512];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    // A 408 before the close is fine.
                    Ok(_) => continue,
                }
            }
        });
    }
    // All at once, under one deadline: every socket read sees the end.
    let mut closed = 0;
    let all = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(done) = checks.join_next().await {
            done.unwrap();
            closed += 1;
        }
    })
    .await;
    checks.abort_all();
    assert!(
        all.is_ok(),
        "{closed} of {} sockets closed within 30 s",
        2 * SLOW
    );
    println!(
        "slow-client storm: {count} probes, slowest {slowest:?}; {closed} of {} sockets closed",
        2 * SLOW
    );
    assert!(count > 0 && slowest < LIVENESS, "probes: {slowest:?}");
    stop(child);
}

/// "No answered token lost after kill -9": a burst of token requests, the
/// server killed in the middle of it; after a restart on the same database
/// every token that was answered is still active (opaque tokens: only the
/// store knows them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue13_storm_kill_9_during_a_burst_of_writes_loses_nothing_answered() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "");
    let (mut child, base) = start(dir.path(), &config);

    let answered = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (base, answered) = (base.clone(), answered.clone());
        workers.spawn(async move {
            let http = http_client();
            // Until the server dies (bounded: it dies within seconds).
            for _ in 0..10_000 {
                match token(&http, &base).await {
                    Ok(t) => answered.lock().unwrap().push(t),
                    Err(_) => return,
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "the burst did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL, mid-burst
    child.wait().unwrap();
    while workers.join_next().await.is_some() {}
    let answered = answered.lock().unwrap().clone();

    let (child, base) = start(dir.path(), &config);
    let http = http_client();
    let mut lost = 0;
    for t in &answered {
        let r = http
            .post(format!("{base}/introspect"))
            .basic_auth("svc", Some(SVC_SECRET))
            .form(&[("token", t.as_str())])
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        if body["active"] != true {
            lost += 1;
        }
    }
    println!(
        "kill -9: {} tokens answered before the kill, {lost} lost",
        answered.len()
    );
    assert!(answered.len() >= 300);
    assert_eq!(lost, 0, "a token the server answered was lost");
    stop(child);
}
