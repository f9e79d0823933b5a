//! The `tessera` binary as an operator uses it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Deadlines and unique names in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;
use std::process::{Child, Command};

use common::{free_port, printer_csrf, run, start_command, stdout, stop, tessera};

#[test]
fn client_and_user_management() {
    let dir = tempfile::tempdir().unwrap();
    let mut add = tessera(dir.path());
    add.args([
        "client",
        "add",
        "printer",
        "--name",
        "Printer",
        "--redirect-uri",
        "https://printer.example/cb",
        "--scope",
        "photos:read",
    ]);
    let out = run(add, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .expect("secret printed once");
    assert_eq!(secret.len(), 43, "256-bit generated secret");

    let mut list = tessera(dir.path());
    list.args(["client", "list"]);
    let listed = stdout(&run(list, None));
    assert!(listed.contains("printer") && listed.contains("confidential"));
    assert!(!listed.contains(secret), "the secret is never shown again");

    let mut bad = tessera(dir.path());
    bad.args([
        "client",
        "add",
        "evil",
        "--redirect-uri",
        "javascript:alert(1)",
        "--scope",
        "a",
    ]);
    let out = run(bad, None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("scheme"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut user = tessera(dir.path());
    user.args(["user", "add", "carol", "--password-stdin"]);
    assert!(run(user, Some("carol-password\n")).status.success());
    let mut again = tessera(dir.path());
    again.args(["user", "add", "carol", "--password-stdin"]);
    assert!(
        !run(again, Some("another-password\n")).status.success(),
        "usernames are unique"
    );
    let mut weak = tessera(dir.path());
    weak.args(["user", "add", "dave", "--password-stdin"]);
    assert!(!run(weak, Some("short\n")).status.success());

    let mut users = tessera(dir.path());
    users.args(["user", "list"]);
    assert!(stdout(&run(users, None)).contains("carol"));

    let mut remove = tessera(dir.path());
    remove.args(["client", "remove", "printer"]);
    assert!(run(remove, None).status.success());
    let mut remove = tessera(dir.path());
    remove.args(["client", "remove", "printer"]);
    assert!(
        !run(remove, None).status.success(),
        "removing twice says there is no such client"
    );
}

#[test]
fn refuses_a_plain_http_production_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = tessera(dir.path());
    serve
        .args(["serve"])
        .env("TESSERA_ISSUER", "http://as.example.com");
    let out = run(serve, None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("plain http"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start(dir: &Path, config: &Path) -> (Child, u16) {
    let mut serve = tessera(dir);
    serve.args(["serve", "--config"]).arg(config);
    start_command(serve)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_seeds_from_config_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tessera.toml");
    std::fs::write(
        &config,
        r#"
issuer = "http://localhost:9001"
listen = "127.0.0.1:0"

[[clients]]
client_id = "photo-printer"
name = "Photo Printer"
client_secret = "photo-printer-secret-0123456789-0123456789"
redirect_uris = ["http://localhost:9000/callback"]
scopes = ["photos:read"]

[[users]]
username = "alice"
password = "alice-password"
"#,
    )
    .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Twice: seeding is idempotent.
    for _ in 0..2 {
        let (child, port) = start(dir.path(), &config);
        let base = format!("http://127.0.0.1:{port}");
        assert_eq!(
            http.get(format!("{base}/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let r = http
            .get(format!(
                "{base}/authorize?response_type=code&client_id=photo-printer&scope=photos:read&state=s\
                 &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/login?request=")
        );
        stop(child);
    }
}

/// The repository's own `tessera.toml`, `photos.toml` and `printer.toml`
/// serve the dance together: what a newcomer runs first must work.
#[tokio::test(flavor = "multi_thread")]
async fn the_committed_configs_work_together() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The AS's issuer must name its own port, so pick one first.
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let with_as_env = |mut c: Command| {
        c.env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
            .env("TESSERA_ISSUER", &issuer);
        c
    };

    let mut add = with_as_env(tessera(dir.path()));
    add.args(["--config"]).arg(root.join("tessera.toml"));
    add.args([
        "client",
        "add",
        "smoke",
        "--grant-type",
        "client_credentials",
        "--scope",
        "photos:read",
    ]);
    let out = run(add, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();

    let mut serve = with_as_env(tessera(dir.path()));
    serve
        .args(["serve", "--config"])
        .arg(root.join("tessera.toml"));
    let (authorization_server, _) = start_command(serve);

    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{issuer}/token"))
        .basic_auth("smoke", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();

    for validation in ["jwt", "introspection"] {
        let mut resource = tessera(dir.path());
        resource
            .args(["photo-api", "--config"])
            .arg(root.join("photos.toml"))
            .env("TESSERA_RESOURCE_LISTEN", "127.0.0.1:0")
            .env("TESSERA_RESOURCE_ISSUER", &issuer)
            .env(
                "TESSERA_RESOURCE_DATABASE",
                format!("sqlite://{}", dir.path().join("photos.db").display()),
            )
            .env("TESSERA_RESOURCE_VALIDATION", validation);
        let (photos, photos_port) = start_command(resource);
        let r = http
            .get(format!("http://127.0.0.1:{photos_port}/photos"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{validation} mode");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            body["photos"].as_array().unwrap().len(),
            3,
            "{validation} mode"
        );
        stop(photos);
    }

    // The committed printer.toml: the printer discovers the AS and sends the
    // browser there with the redirect URI tessera.toml registered, which the
    // AS accepts (it asks alice to log in).
    let mut printer = tessera(dir.path());
    printer
        .args(["photo-printer", "--config"])
        .arg(root.join("printer.toml"))
        .env("TESSERA_CLIENT_APP_LISTEN", "127.0.0.1:0")
        .env("TESSERA_CLIENT_APP_ISSUER", &issuer);
    let (printer, printer_port) = start_command(printer);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let printer_url = format!("http://127.0.0.1:{printer_port}");
    // Reached under another name than its redirect URI's, the printer
    // sends the browser there first (the cookie must come back to it).
    let elsewhere = no_redirects
        .get(format!("{printer_url}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 303);
    assert_eq!(elsewhere.headers()["location"], "http://localhost:9000/");
    // As if it were on localhost:9000.
    let home = no_redirects
        .get(format!("{printer_url}/"))
        .header("host", "localhost:9000")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = printer_csrf(&home);
    let start = no_redirects
        .post(format!("{printer_url}/start"))
        .header("host", "localhost:9000")
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let to = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with(&format!("{issuer}/authorize?")), "{to}");
    assert!(to.contains("redirect_uri=http%3A%2F%2Flocalhost%3A9000%2Fcallback"));
    let authorize = no_redirects.get(&to).send().await.unwrap();
    assert!(authorize.status().is_redirection());
    let login = authorize.headers()["location"].to_str().unwrap();
    assert!(login.starts_with("/login?request="), "{login}");
    stop(printer);
    stop(authorization_server);
}

/// The serving subcommands were renamed (`resource` → `photo-api`,
/// `client-app` → `photo-printer`, too close to `resources` and `client`):
/// the new names are listed, the old ones are hidden but still start the
/// same servers, for one release.
#[tokio::test]
async fn the_old_names_of_the_serving_subcommands_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");

    let mut help = tessera(dir.path());
    help.arg("--help");
    let listed = stdout(&run(help, None));
    // The first word of each line of the command list.
    let commands: Vec<&str> = listed
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for new in ["photo-api", "photo-printer", "resources", "client"] {
        assert!(commands.contains(&new), "{new} listed: {commands:?}");
    }
    for old in ["resource", "client-app"] {
        assert!(!commands.contains(&old), "{old} hidden: {commands:?}");
    }
    for (old, new) in [("resource", "photo-api"), ("client-app", "photo-printer")] {
        let mut help = tessera(dir.path());
        help.args([old, "--help"]);
        let out = run(help, None);
        assert!(out.status.success(), "{old}");
        assert!(
            stdout(&out).contains(&format!("Usage: tessera {new}")),
            "{old} is {new}: {}",
            stdout(&out)
        );
    }

    // Each old name starts its server (the AS need not be up yet).
    let mut api = tessera(dir.path());
    api.args(["resource", "--config"])
        .arg(root.join("photos.toml"))
        .env("TESSERA_RESOURCE_LISTEN", "127.0.0.1:0")
        .env(
            "TESSERA_RESOURCE_DATABASE",
            format!("sqlite://{}", dir.path().join("photos.db").display()),
        );
    let (api, api_port) = start_command(api);
    let health = reqwest::get(format!("http://127.0.0.1:{api_port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    stop(api);

    let mut printer = tessera(dir.path());
    printer
        .args(["client-app", "--config"])
        .arg(root.join("printer.toml"))
        .env("TESSERA_CLIENT_APP_LISTEN", "127.0.0.1:0");
    let (printer, printer_port) = start_command(printer);
    let home = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{printer_port}/"))
        .header("host", "localhost:9000")
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    stop(printer);
}

/// The OpenID Connect settings an operator sets from the command line: a
/// client's ID-token algorithm and logout URIs, a user's standard claims.
#[test]
fn openid_connect_settings_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut add = tessera(dir.path());
    add.args([
        "client",
        "add",
        "rp",
        "--redirect-uri",
        "https://rp.example/cb",
        "--id-token-signed-response-alg",
        "EdDSA",
        "--post-logout-redirect-uri",
        "https://rp.example/bye",
    ]);
    let out = run(add, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for refused in [
        vec!["--id-token-signed-response-alg", "none"],
        vec!["--post-logout-redirect-uri", "javascript:alert(1)"],
    ] {
        let mut bad = tessera(dir.path());
        bad.args([
            "client",
            "add",
            "rp2",
            "--redirect-uri",
            "https://rp.example/cb",
        ])
        .args(&refused);
        assert!(!run(bad, None).status.success(), "{refused:?}");
    }

    let mut user = tessera(dir.path());
    user.args([
        "user",
        "add",
        "erin",
        "--password-stdin",
        "--name",
        "Erin Example",
        "--email",
        "erin@example.com",
    ]);
    assert!(run(user, Some("erin-password\n")).status.success());
    let mut set = tessera(dir.path());
    set.args([
        "user",
        "set",
        "erin",
        "--email-verified",
        "true",
        "--phone-number",
        "+1 555 0100",
    ]);
    let out = run(set, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    for expected in [
        "\"name\":\"Erin Example\"",
        "\"email\":\"erin@example.com\"",
        "\"email_verified\":true",
        "\"phone_number\":\"+1 555 0100\"",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let mut nobody = tessera(dir.path());
    nobody.args(["user", "set", "nobody", "--name", "X"]);
    assert!(!run(nobody, None).status.success());
}

/// A supervisor may send SIGTERM the moment the server logs that it
/// listens: the handler is already installed, so the stop is graceful.
#[test]
fn sigterm_right_after_listening_is_a_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        let mut serve = tessera(dir.path());
        serve.arg("serve").env("TESSERA_LISTEN", "127.0.0.1:0");
        let (child, _) = start_command(serve);
        stop(child);
    }
}

/// The value of the hidden field `name` in an AS page.
fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Issue 12 item 10: `display_name` and `[scope_descriptions]` in the
/// configuration file reach the server's pages (its home page and the
/// consent page); a description the page could not show is refused at
/// start, naming the key and the scope.
#[tokio::test(flavor = "multi_thread")]
async fn issue12_item10_the_pages_speak_as_the_configuration_says() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tessera.toml");
    let file = |descriptions: &str| {
        format!(
            r#"
issuer = "http://localhost:9001"
listen = "127.0.0.1:0"
display_name = "Example Photos Login"

[scope_descriptions]
{descriptions}

[[clients]]
client_id = "photo-printer"
name = "Photo Printer"
client_secret = "photo-printer-secret-0123456789-0123456789"
redirect_uris = ["http://localhost:9000/callback"]
scopes = ["photos:read"]

[[users]]
username = "alice"
password = "alice-password"
"#
        )
    };
    std::fs::write(&config, file(r#""photos:read" = "See your photos""#)).unwrap();
    let (child, port) = start(dir.path(), &config);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let home = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(
        home.text()
            .await
            .unwrap()
            .contains("<h1>Example Photos Login</h1>")
    );

    let r = http
        .get(format!(
            "{base}/authorize?response_type=code&client_id=photo-printer&scope=openid%20photos:read&state=s\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        ))
        .send()
        .await
        .unwrap();
    let login = r.headers()["location"].to_str().unwrap().to_owned();
    let page = http
        .get(format!("{base}{login}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = http
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", hidden_field(&page, "csrf_token")),
            ("request", hidden_field(&page, "request")),
            ("username", "alice".into()),
            ("password", "alice-password".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let consent = r.headers()["location"].to_str().unwrap().to_owned();
    let page = http
        .get(format!("{base}{consent}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<span class="description">See your photos</span>"#),
        "{page}"
    );
    assert!(page.contains("Example Photos Login"), "{page}");
    assert!(
        !page.contains(r#"value="openid""#),
        "openid is no choice: {page}"
    );
    stop(child);

    std::fs::write(&config, file(r#""two words" = "Anything""#)).unwrap();
    let mut serve = tessera(dir.path());
    serve.args(["serve", "--config"]).arg(&config);
    let out = run(serve, None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scope_descriptions") && err.contains("`two words` is not a scope"),
        "{err}"
    );
}
