//! Choosing and preparing the database: SQLite or PostgreSQL by the URL,
//! `tessera migrate`, `serve --no-migrate`, and clear refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Deadlines and unique names in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::process::Output;

use common::{drop_schema, fresh_schema, postgres_url, run, start_command, stop, tessera};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_no_migrate_refuses_an_unmigrated_database_until_tessera_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = tessera(dir.path());
    serve
        .args(["serve", "--no-migrate"])
        .env("TESSERA_LISTEN", "127.0.0.1:0");
    let out = run(serve, None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("older than this binary") && stderr(&out).contains("tessera migrate"),
        "{}",
        stderr(&out)
    );

    let mut migrate = tessera(dir.path());
    migrate.arg("migrate");
    let out = run(migrate, None);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut serve = tessera(dir.path());
    serve
        .args(["serve", "--no-migrate"])
        .env("TESSERA_LISTEN", "127.0.0.1:0");
    let (child, port) = start_command(serve);
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    stop(child);
}

#[test]
fn an_unreachable_postgres_database_is_refused_after_the_configured_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut serve = tessera(dir.path());
    serve
        .arg("serve")
        .env(
            "TESSERA_DATABASE",
            format!("postgres://tessera:hunter2-db-password@127.0.0.1:{port}/tessera"),
        )
        .env("TESSERA_DATABASE_CONNECT_ATTEMPTS", "2")
        .env("TESSERA_DATABASE_CONNECT_RETRY_SECS", "0")
        .env("TESSERA_LISTEN", "127.0.0.1:0");
    let out = run(serve, None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("could not be reached after 2 attempt"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the password stays out: {err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_is_chosen_by_the_url_and_migrated_by_tessera_migrate() {
    let Some(url) = postgres_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema = fresh_schema("cli_migrate");
    let with_pg = |mut c: std::process::Command| {
        c.env("TESSERA_DATABASE", &url)
            .env("TESSERA_DATABASE_SCHEMA", &schema)
            .env("TESSERA_LISTEN", "127.0.0.1:0");
        c
    };
    let mut serve = with_pg(tessera(dir.path()));
    serve.args(["serve", "--no-migrate"]);
    let out = run(serve, None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("tessera migrate"), "{}", stderr(&out));

    let mut migrate = with_pg(tessera(dir.path()));
    migrate.arg("migrate");
    let out = run(migrate, None);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut add = with_pg(tessera(dir.path()));
    add.args(["user", "add", "carol", "--password-stdin"]);
    assert!(run(add, Some("carol-password-1\n")).status.success());

    let mut serve = with_pg(tessera(dir.path()));
    serve.args(["serve", "--no-migrate"]);
    let (child, port) = start_command(serve);
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    stop(child);
    assert!(
        !dir.path().join("t.db").exists(),
        "no SQLite file when the database is PostgreSQL"
    );

    let mut list = with_pg(tessera(dir.path()));
    list.args(["user", "list"]);
    let out = run(list, None);
    assert!(common::stdout(&out).contains("carol"));
    drop_schema(&url, &schema).await;
}
