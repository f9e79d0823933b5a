//! What the `tessera` binary says to an operator: its errors (one clear
//! line each, naming the setting to change), its warnings and its help
//! (issue 12 items 11, 12 and 13).
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Deadlines in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{free_port, postgres_url, run, stdout, stop, tessera};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `command`, which must fail, and returns its error: exactly one line
/// on standard error, `error: ` and a message in which no part separated by
/// `: ` comes twice.
fn one_error_line(command: Command) -> String {
    let out = run(command, None);
    assert!(!out.status.success(), "should fail: {}", stdout(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    let message = lines[0]
        .strip_prefix("error: ")
        .expect("starts with error:");
    let parts: Vec<&str> = message.split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(!parts[..i].contains(part), "`{part}` repeated in: {err}");
    }
    message.to_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Issue 12 item 11: an error whose source is part of its own message (the
/// anyhow chain repeated it: a SQLite error three times, a configured
/// client secret twice) is printed once, on one line.
#[test]
fn issue12_item11_an_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.db"), "this is not a database").unwrap();
    let mut list = tessera(dir.path());
    list.args(["client", "list"]);
    let message = one_error_line(list);
    assert!(message.contains("file is not a database"), "{message}");
    assert_eq!(message.matches("not a database").count(), 1, "{message}");

    let fresh = tempfile::tempdir().unwrap();
    let config = write(
        fresh.path(),
        "tessera.toml",
        r#"
listen = "127.0.0.1:0"
[[clients]]
client_id = "a"
client_secret = "short"
redirect_uris = ["http://localhost:9000/cb"]
"#,
    );
    let mut serve = tessera(fresh.path());
    serve.args(["serve", "--config"]).arg(&config);
    let message = one_error_line(serve);
    assert!(message.contains("secret"), "{message}");
}

/// Issue 12 item 11: a PostgreSQL error is printed without ` at line N`, the
/// line of the PostgreSQL server's own source that sqlx appends.
#[test]
fn issue12_item11_postgres_errors_carry_no_server_source_line() {
    let Some(url) = postgres_url() else { return };
    let mut missing = reqwest::Url::parse(&url).unwrap();
    missing.set_path("/tessera_no_such_database");
    let dir = tempfile::tempdir().unwrap();
    let mut list = tessera(dir.path());
    list.args(["client", "list"])
        .env("TESSERA_DATABASE", missing.as_str())
        .env("TESSERA_DATABASE_CONNECT_ATTEMPTS", "1");
    let message = one_error_line(list);
    assert!(
        message.contains("\"tessera_no_such_database\" does not exist"),
        "{message}"
    );
    assert!(!message.contains(" at line "), "{message}");
}

/// Issue 12 item 12: a SQLite database in a directory that does not exist
/// says so (SQLite only said "unable to open database file"), for the
/// authorization server's database and the photo API's.
#[test]
fn issue12_item12_missing_sqlite_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing/dir");
    let mut list = tessera(dir.path());
    list.args(["client", "list"]).env(
        "TESSERA_DATABASE",
        format!("sqlite://{}", missing.join("x.db").display()),
    );
    let message = one_error_line(list);
    assert!(
        message.contains(&format!(
            "the directory {} does not exist",
            missing.display()
        )),
        "{message}"
    );

    let mut api = tessera(dir.path());
    api.arg("photo-api")
        .env("TESSERA_RESOURCE_LISTEN", "127.0.0.1:0")
        .env(
            "TESSERA_RESOURCE_DATABASE",
            format!("sqlite://{}", missing.join("photos.db").display()),
        );
    let out = run(api, None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "the directory {} does not exist",
            missing.display()
        )),
        "{}",
        stderr(&out)
    );
}

/// Issue 12 item 12: a taken port names the setting that chose it, for each
/// serving command (the demo's port flags: `a_taken_port_is_a_clear_error`
/// in tests/demo.rs).
#[test]
fn issue12_item12_taken_port_names_listen() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    for (command, prefix) in [
        ("serve", "TESSERA_"),
        ("photo-api", "TESSERA_RESOURCE_"),
        ("photo-printer", "TESSERA_CLIENT_APP_"),
    ] {
        let mut c = tessera(dir.path());
        c.arg(command)
            .env(format!("{prefix}LISTEN"), &address)
            .env(
                "TESSERA_RESOURCE_DATABASE",
                format!("sqlite://{}", dir.path().join("photos.db").display()),
            )
            .env("TESSERA_CLIENT_APP_CLIENT_SECRET", "printer-secret");
        let message = one_error_line(c);
        assert!(message.contains("already in use"), "{command}: {message}");
        assert!(
            message.contains("`listen`") && message.contains(&format!("{prefix}LISTEN")),
            "{command}: {message}"
        );
    }
}

/// The authorization server's log up to the line saying where it listens.
fn log_until_listening(mut command: Command) -> Vec<String> {
    command.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = Vec::new();
    // Stops at the line itself: the log says nothing more until a request.
    while !log
        .last()
        .is_some_and(|l: &String| l.contains("listening on http://"))
    {
        match lines.next() {
            Some(line) => log.push(line.unwrap()),
            None => break,
        }
    }
    let listening = log
        .last()
        .is_some_and(|l| l.contains("listening on http://"));
    if !listening {
        let _ = child.wait();
        panic!("the server exited: {log:?}");
    }
    stop(child);
    log
}

/// Issue 12 item 12: listening on another port than a loopback issuer names
/// warns (discovery would advertise the issuer's port); the same port does
/// not.
#[test]
fn issue12_item12_listen_on_another_port_than_the_issuer_warns() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut other = tessera(dir.path());
    other
        .arg("serve")
        .env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
        .env("TESSERA_ISSUER", "http://localhost:9001");
    let log = log_until_listening(other);
    let warning = log
        .iter()
        .find(|l| l.contains("WARN") && l.contains("issuer"))
        .unwrap_or_else(|| panic!("a warning in {log:?}"));
    assert!(
        warning.contains(&format!("listening on port {port}"))
            && warning.contains("names port 9001")
            && warning.contains("TESSERA_LISTEN"),
        "{warning}"
    );

    let port = free_port();
    let mut same = tessera(dir.path());
    same.arg("serve")
        .env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
        .env("TESSERA_ISSUER", format!("http://localhost:{port}"));
    let log = log_until_listening(same);
    assert!(
        !log.iter().any(|l| l.contains("names port")),
        "no warning: {log:?}"
    );
}

/// Issue 12 item 12: an unknown key in any of the three configuration
/// files suggests the closest known one, named as in the file (no
/// `default.` profile prefix); a bad value from the environment names the
/// variable.
#[test]
fn issue12_item12_unknown_key_suggests_closest() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "client",
            "databse = \"sqlite://x.db\"\n",
            "`databse`",
            "`database`",
        ),
        (
            "client",
            "[[users]]\nusername = \"bob\"\npasword = \"bob-password\"\n",
            "`pasword` in `users[0]`",
            "`password`",
        ),
        (
            "photo-api",
            "identifer = \"x\"\n",
            "`identifer`",
            "`identifier`",
        ),
        (
            "photo-printer",
            "clientsecret = \"x\"\n",
            "`clientsecret`",
            "`client_secret`",
        ),
    ];
    for (i, (command, text, unknown, suggestion)) in cases.into_iter().enumerate() {
        let file = write(dir.path(), &format!("{i}.toml"), text);
        let mut c = tessera(dir.path());
        c.arg(command).arg("--config").arg(&file);
        if command == "client" {
            c.arg("list");
        }
        let message = one_error_line(c);
        assert!(
            message.contains(&format!("{}: unknown key {unknown}", file.display()))
                && message.contains(&format!("did you mean {suggestion}?")),
            "{message}"
        );
        assert!(!message.contains("default."), "{message}");
    }

    let mut env = tessera(dir.path());
    env.args(["client", "list"])
        .env("TESSERA_DATABASE_MAX_CONNECTIONS", "many");
    let message = one_error_line(env);
    assert!(
        message.contains("TESSERA_DATABASE_MAX_CONNECTIONS: invalid type"),
        "{message}"
    );
}

/// Issue 12 item 12: a configured user whose password is too short is named
/// with the file, before anything is written (the database is not even
/// created).
#[test]
fn issue12_item12_short_user_password_names_user_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "tessera.toml",
        r#"
listen = "127.0.0.1:0"
[[clients]]
client_id = "printer"
redirect_uris = ["http://localhost:9000/callback"]
[[users]]
username = "alice"
password = "alice-password"
[[users]]
username = "bob"
password = "short"
"#,
    );
    let mut serve = tessera(dir.path());
    serve.args(["serve", "--config"]).arg(&config);
    let message = one_error_line(serve);
    assert!(
        message.contains(&format!("`bob` in {}", config.display()))
            && message.contains("at least 8 characters"),
        "{message}"
    );
    assert!(!dir.path().join("t.db").exists(), "nothing was written");
}

/// Issue 12 item 13: the demo makes its own settings, so its help does not
/// offer `--config`, `--config` is refused (on either side of `demo`), and
/// TESSERA_CONFIG is ignored with a note.
#[test]
fn issue12_item13_demo_refuses_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut help = tessera(dir.path());
    help.args(["demo", "--help"]);
    let text = stdout(&run(help, None));
    assert!(text.contains("--as-port"), "{text}");
    assert!(!text.contains("--config <"), "{text}");
    assert!(text.contains("`--config` is refused"), "{text}");

    let file = write(dir.path(), "tessera.toml", "");
    for args in [["demo", "--config"], ["--config", "demo"]] {
        let mut demo = tessera(dir.path());
        if args[0] == "demo" {
            demo.args(args).arg(&file);
        } else {
            demo.arg("--config").arg(&file).arg("demo");
        }
        let message = one_error_line(demo);
        assert!(message.contains("takes no --config"), "{message}");
    }

    // With TESSERA_CONFIG set, the demo goes on (here to a taken port).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut demo = tessera(dir.path());
    demo.args(["demo", "--as-port"])
        .arg(taken.local_addr().unwrap().port().to_string())
        .env("TESSERA_CONFIG", &file);
    let out = run(demo, None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("the demo ignores TESSERA_CONFIG"), "{err}");
    assert!(err.contains("already in use"), "{err}");
}

/// Issue 12 item 13: each serving command's help names the environment
/// prefix it reads, under its new name and its old one, and that prefix is
/// the one it really reads.
#[test]
fn issue12_item13_serving_commands_name_their_environment_prefix() {
    let dir = tempfile::tempdir().unwrap();
    for (names, prefix) in [
        (["photo-api", "resource"], "TESSERA_RESOURCE_"),
        (["photo-printer", "client-app"], "TESSERA_CLIENT_APP_"),
        (["serve", "serve"], "TESSERA_"),
    ] {
        for name in names {
            let mut help = tessera(dir.path());
            help.args([name, "--help"]);
            let text = stdout(&run(help, None));
            let named: Vec<&str> = text
                .split("TESSERA_")
                .skip(1)
                .filter_map(|rest| rest.split("<KEY>").next())
                .filter(|between| between.len() < 12)
                .collect();
            let expected = prefix.trim_start_matches("TESSERA_");
            assert!(
                !named.is_empty() && named.iter().all(|n| *n == expected),
                "{name} names {named:?}: {text}"
            );

            let mut c = tessera(dir.path());
            c.arg(name)
                .env(format!("{prefix}LISTEN"), "not-an-address")
                .env(format!("{prefix}CLIENT_SECRET"), "printer-secret");
            let message = one_error_line(c);
            assert!(
                message.contains("cannot listen on not-an-address"),
                "{name}: {message}"
            );
        }
    }
}

/// The options and arguments in `help` (clap's output) that have no
/// description.
fn undocumented(help: &str) -> Vec<String> {
    let lines: Vec<&str> = help.lines().collect();
    let mut missing = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let item = line.trim_start();
        let indent = line.len() - item.len();
        if indent == 0 || indent > 6 || !(item.starts_with('-') || item.starts_with('<')) {
            continue;
        }
        let same_line = item
            .split_once("  ")
            .is_some_and(|(_, d)| !d.trim().is_empty());
        let next_line = lines.get(i + 1).is_some_and(|next| {
            next.len() - next.trim_start().len() > 6 && !next.trim().is_empty()
        });
        if !same_line && !next_line {
            missing.push(item.to_owned());
        }
    }
    missing
}

/// Issue 12 item 13: every option and argument of `user add`, `user set`
/// and `user passwd` is described in their help.
#[test]
fn issue12_item13_user_options_are_documented() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["add", "set", "passwd", "remove"] {
        for flag in ["-h", "--help"] {
            let mut help = tessera(dir.path());
            help.args(["user", command, flag]);
            let text = stdout(&run(help, None));
            assert!(text.contains("Options:"), "{text}");
            let missing = undocumented(&text);
            assert!(
                missing.is_empty(),
                "user {command} {flag}: {missing:?}\n{text}"
            );
        }
    }
}

/// Issue 12 item 13: `keys` says it manages the ID-token keys as well as
/// the access-token key, and it does: both kinds are rotated and listed.
#[test]
fn issue12_item13_keys_help_names_both_kinds_of_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut help = tessera(dir.path());
    help.args(["keys", "--help"]);
    let text = stdout(&run(help, None));
    let about = text.lines().next().unwrap();
    assert!(
        about.contains("access tokens") && about.contains("ID tokens"),
        "{about}"
    );

    for args in [&["keys", "rotate"][..], &["keys", "rotate", "--id-token"]] {
        let mut rotate = tessera(dir.path());
        rotate.args(args);
        let out = run(rotate, None);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let mut list = tessera(dir.path());
    list.args(["keys", "list"]);
    let listed = stdout(&run(list, None));
    assert!(
        listed.lines().any(|l| l.contains("signs ID tokens"))
            && listed.lines().any(|l| !l.contains("signs ID tokens")),
        "{listed}"
    );
}

/// Issue 12 item 13: `client list` starts with a header row naming its
/// tab-separated columns, and every row has a value in each.
#[test]
fn issue12_item13_client_list_has_a_header() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &[
            "client",
            "add",
            "machine",
            "--grant-type",
            "client_credentials",
        ][..],
        &[
            "client",
            "add",
            "mobile",
            "--public",
            "--name",
            "Mobile App",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--scope",
            "photos:read",
        ],
    ] {
        let mut add = tessera(dir.path());
        add.args(args);
        assert!(run(add, None).status.success());
    }
    let mut list = tessera(dir.path());
    list.args(["client", "list"]);
    let listed = stdout(&run(list, None));
    let mut lines = listed.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(
        header,
        [
            "client_id",
            "name",
            "type",
            "scopes",
            "grant_types",
            "redirect_uris"
        ]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{listed}");
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        assert!(row.iter().all(|v| !v.is_empty()), "{row:?}");
    }
    let mobile = rows.iter().find(|r| r[0] == "mobile").unwrap();
    assert_eq!(
        mobile[1..],
        [
            "Mobile App",
            "public",
            "photos:read",
            "authorization_code,refresh_token",
            "http://127.0.0.1/callback"
        ]
    );
    let machine = rows.iter().find(|r| r[0] == "machine").unwrap();
    assert_eq!(machine[2], "confidential");
    assert_eq!(machine[5], "-", "no redirect URI");
}
