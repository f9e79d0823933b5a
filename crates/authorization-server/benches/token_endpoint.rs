//! Throughput of the token endpoint over real HTTP on loopback, against a
//! real SQLite file (`synchronous = FULL`) or, with
//! `TESSERA_BENCH_BACKEND=postgres`, the PostgreSQL database of
//! `TESSERA_TEST_POSTGRES_URL`: refresh-token rotation, the path a busy
//! client hits most, and the code exchange.
//!
//! Run: `cargo bench -p tessera-authorization-server --bench token_endpoint`.
//! Bounded: a fixed number of requests, loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]
// A benchmark times itself with the real clock.
#![allow(clippy::disallowed_methods)]

// The bench uses only a part of the harness.
#[allow(unused_imports)]
#[path = "../tests/it/harness/mod.rs"]
mod harness;

use std::time::Instant;

use harness::*;

const CHAINS: usize = 16;
const REFRESHES_PER_CHAIN: usize = 200;

#[tokio::main]
async fn main() {
    // No log capture while measuring.
    let _ = tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default());
    let backend = match std::env::var("TESSERA_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    // TESSERA_BENCH_RETRY_WINDOW_SECS=0 measures rotation without the
    // retry window's sealed copy.
    let window = std::env::var("TESSERA_BENCH_RETRY_WINDOW_SECS")
        .ok()
        .and_then(|v| v.parse().ok());
    let app = TestApp::builder()
        .backend(backend)
        .configure(|c| {
            if let Some(w) = window {
                c.refresh_retry_window_secs = w;
            }
        })
        .try_spawn()
        .await
        .expect("TESSERA_BENCH_BACKEND=postgres needs TESSERA_TEST_POSTGRES_URL");
    let app = std::sync::Arc::new(app);
    println!(
        "backend: {backend:?}, refresh retry window: {} s",
        app.state.config.refresh_retry_window_secs
    );

    // Codes for every chain (the browser part is not what is measured).
    let mut flows = Vec::new();
    for _ in 0..CHAINS {
        flows.push(app.code_for("c1", "a b").await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for flow in flows {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let r = app.redeem(&flow).await;
            assert_eq!(r.status(), 200);
            let body: serde_json::Value = r.json().await.unwrap();
            body["refresh_token"].as_str().unwrap().to_owned()
        }));
    }
    let mut refresh_tokens = Vec::new();
    for t in tasks {
        refresh_tokens.push(t.await.unwrap());
    }
    let exchange = started.elapsed();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut rt in refresh_tokens {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..REFRESHES_PER_CHAIN {
                let r = app
                    .token(
                        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                        Some(("c1", C1_SECRET)),
                    )
                    .await;
                assert_eq!(r.status(), 200);
                let body: serde_json::Value = r.json().await.unwrap();
                rt = body["refresh_token"].as_str().unwrap().to_owned();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let total = CHAINS * REFRESHES_PER_CHAIN;
    println!(
        "code exchange: {CHAINS} concurrent in {:.1} ms",
        exchange.as_secs_f64() * 1000.0
    );
    println!(
        "refresh rotation: {total} requests ({CHAINS} concurrent chains) in {:.2} s = {:.0} requests/s, mean latency {:.2} ms",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 * CHAINS as f64 / total as f64
    );
}
