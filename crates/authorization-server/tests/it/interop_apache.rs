//! Interoperability with Apache httpd's mod_auth_openidc (issue 12 item 4):
//! the real Apache, configured with the two blocks of
//! `docs/mod_auth_openidc.md` (URLs and secrets replaced by this test's),
//! against the real server. Signing in and out works; Deny shows the
//! provider's error thanks to the documented rewrite rule; without that rule
//! the error is still hidden (mod_auth_openidc's bug: when a release fixes
//! it, this test says so and the page is revisited); without
//! `OIDCPKCEMethod S256` sign-in is refused.
//!
//! Needs `apache2` and `libapache2-mod-auth-openidc` (Debian; CI installs
//! them and sets `TESSERA_REQUIRE_APACHE`, which turns a missing Apache into
//! a failure instead of a skip).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use serde::Deserialize;
use tessera_authorization_server::admin::ClientSpec;

use crate::harness::*;

const APACHE: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";
/// The placeholders of the documented configuration.
const DOC_ISSUER: &str = "https://login.example.com";
const DOC_APP: &str = "https://app.example.com";

fn doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/mod_auth_openidc.md");
    std::fs::read_to_string(path).expect("docs/mod_auth_openidc.md")
}

/// The fenced block that follows `<!-- tested: {name} -->` in the doc.
fn doc_block(name: &str) -> String {
    let doc = doc();
    let marker = format!("<!-- tested: {name} -->");
    let after = &doc[doc.find(&marker).expect("marker") + marker.len()..];
    let start = after.find("```").expect("fence");
    let body = &after[start..];
    let body = &body[body.find('\n').expect("fence line") + 1..];
    body[..body.find("```").expect("closing fence")].to_owned()
}

fn apache_available() -> bool {
    let present =
        Path::new(APACHE).exists() && Path::new(MODULES).join("mod_auth_openidc.so").exists();
    if !present {
        assert!(
            std::env::var_os("TESSERA_REQUIRE_APACHE").is_none(),
            "TESSERA_REQUIRE_APACHE is set but apache2 or mod_auth_openidc is missing"
        );
        eprintln!("SKIPPED: apache2 with mod_auth_openidc is not installed");
    }
    present
}

/// What to leave out of the documented configuration.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    AsDocumented,
    WithoutRewrite,
    WithoutPkce,
}

/// A running Apache; stopped (SIGTERM, then waited for) when dropped.
struct Apache {
    child: Child,
    base: String,
    _root: tempfile::TempDir,
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Apache {
    /// Registers the documented client at `app` and starts Apache with the
    /// documented configuration, minus what `variant` leaves out.
    async fn start(app: &TestApp, variant: Variant) -> Apache {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let base = format!("http://localhost:{port}");
        let localize = |s: &str| s.replace(DOC_ISSUER, app.issuer()).replace(DOC_APP, &base);

        #[derive(Deserialize)]
        struct Clients {
            clients: Vec<ClientSpec>,
        }
        let clients: Clients =
            toml::from_str(&localize(&doc_block("tessera-client"))).expect("the client block");
        for spec in clients.clients {
            app.register(spec).await;
        }

        let root = tempfile::tempdir().expect("server root");
        std::fs::create_dir_all(root.path().join("htdocs/protected")).expect("htdocs");
        std::fs::write(
            root.path().join("htdocs/protected/index.html"),
            "the protected page\n",
        )
        .expect("page");
        let documented = localize(&doc_block("apache-config"));
        let kept: Vec<&str> = documented
            .lines()
            .filter(|line| match variant {
                Variant::AsDocumented => true,
                Variant::WithoutRewrite => !line.starts_with("Rewrite"),
                Variant::WithoutPkce => !line.starts_with("OIDCPKCEMethod"),
            })
            .collect();
        let root_dir = root.path().display();
        let mut conf = format!(
            "ServerRoot \"{root_dir}\"\nServerName localhost\nListen 127.0.0.1:{port}\n\
             PidFile \"{root_dir}/httpd.pid\"\nErrorLog \"{root_dir}/error.log\"\nLogLevel warn\n\
             DocumentRoot \"{root_dir}/htdocs\"\nDirectoryIndex index.html\n\
             TypesConfig /etc/mime.types\n"
        );
        for module in [
            "mpm_event",
            "authn_core",
            "authz_core",
            "authz_user",
            "mime",
            "dir",
            "rewrite",
            "headers",
            "auth_openidc",
        ] {
            conf.push_str(&format!(
                "LoadModule {module}_module {MODULES}/mod_{module}.so\n"
            ));
        }
        conf.push_str(&kept.join("\n"));
        let conf_path = root.path().join("httpd.conf");
        std::fs::write(&conf_path, conf).expect("httpd.conf");

        let child = Command::new(APACHE)
            .args(["-f"])
            .arg(&conf_path)
            .arg("-DFOREGROUND")
            .spawn()
            .expect("apache2");
        let apache = Apache {
            child,
            base,
            _root: root,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return apache;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log =
            std::fs::read_to_string(apache._root.path().join("error.log")).unwrap_or_default();
        panic!("Apache did not start: {log}");
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// From the protected page, through Tessera (signing in as `username` and
/// pressing `decision`), to the response Apache gives the callback.
async fn visit_protected_page(
    apache: &Apache,
    browser: &Browser,
    username: &str,
    password: &str,
    decision: &str,
) -> reqwest::Response {
    let r = browser.get(&apache.url("/protected/")).await;
    assert_eq!(r.status(), 302, "Apache sends the browser to Tessera");
    let authorize = location(&r);
    assert!(authorize.starts_with(&browser.base), "{authorize}");
    let callback = browser
        .through_login_and_consent(&authorize, username, password, decision, None)
        .await;
    assert!(
        callback.starts_with(&apache.url("/protected/redirect_uri?")),
        "{callback}"
    );
    browser.get(&callback).await
}

#[tokio::test]
async fn mod_auth_openidc_signs_in_and_out_with_the_documented_configuration() {
    if !apache_available() {
        return;
    }
    // mod_auth_openidc checks ID-token times against the real clock.
    let app = TestApp::builder().wall_clock().spawn().await;
    let apache = Apache::start(&app, Variant::AsDocumented).await;
    let browser = app.browser();

    let r = visit_protected_page(&apache, &browser, ALICE, ALICE_PASSWORD, "approve").await;
    assert_eq!(r.status(), 302, "the code is traded, back to the page");
    assert_eq!(location(&r), apache.url("/protected/"));
    let r = browser.get(&apache.url("/protected/")).await;
    assert_eq!(r.status(), 200);
    let remote_user = r
        .headers()
        .get("x-remote-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        remote_user,
        Some(app.alice_id().await),
        "REMOTE_USER is sub"
    );
    assert_eq!(r.text().await.expect("body"), "the protected page\n");

    // RP-initiated logout goes through Tessera's end_session endpoint.
    let back = format!("{}/", apache.base);
    let r = browser
        .get(&apache.url(&format!(
            "/protected/redirect_uri?logout={}",
            form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        )))
        .await;
    assert_eq!(r.status(), 302);
    let end_session = location(&r);
    assert!(
        end_session.starts_with(&format!("{}/end_session?", app.issuer()))
            && end_session.contains("id_token_hint="),
        "{end_session}"
    );
    let r = browser.get(&end_session).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(location(&r), back, "back at the registered logout address");
}

/// RFC 9207 `iss` stays on every error response; the documented rewrite
/// lets mod_auth_openidc show the error instead of hiding it.
#[tokio::test]
async fn mod_auth_openidc_shows_a_denial_with_the_documented_rewrite() {
    if !apache_available() {
        return;
    }
    let app = TestApp::builder().wall_clock().spawn().await;
    let apache = Apache::start(&app, Variant::AsDocumented).await;
    let browser = app.browser();
    let r = visit_protected_page(&apache, &browser, BOB, BOB_PASSWORD, "deny").await;
    let page = r.text().await.expect("body");
    assert!(
        page.contains("access_denied") && page.contains("the user denied the request"),
        "{page}"
    );
}

/// The reason for the rewrite rule: mod_auth_openidc takes an error
/// callback with `iss` for a third-party login. When this fails, a
/// mod_auth_openidc release has fixed it: update docs/mod_auth_openidc.md.
#[tokio::test]
async fn mod_auth_openidc_without_the_rewrite_hides_the_denial() {
    if !apache_available() {
        return;
    }
    let app = TestApp::builder().wall_clock().spawn().await;
    let apache = Apache::start(&app, Variant::WithoutRewrite).await;
    let browser = app.browser();
    let r = visit_protected_page(&apache, &browser, BOB, BOB_PASSWORD, "deny").await;
    let page = r.text().await.expect("body");
    assert!(page.contains("target_link_uri"), "{page}");
    assert!(!page.contains("access_denied"), "{page}");
}

/// Tessera requires PKCE: without `OIDCPKCEMethod S256` the request is
/// refused, and (with the rewrite) Apache says why.
#[tokio::test]
async fn mod_auth_openidc_without_pkce_is_refused() {
    if !apache_available() {
        return;
    }
    let app = TestApp::builder().wall_clock().spawn().await;
    let apache = Apache::start(&app, Variant::WithoutPkce).await;
    let browser = app.browser();
    let r = browser.get(&apache.url("/protected/")).await;
    let authorize = location(&r);
    assert!(!authorize.contains("code_challenge"), "{authorize}");
    let r = browser.get(&authorize).await;
    let callback = location(&r);
    assert!(callback.contains("error=invalid_request"), "{callback}");
    let page = browser.get(&callback).await.text().await.expect("body");
    assert!(
        page.contains("invalid_request") && page.contains("code_challenge is required"),
        "{page}"
    );
}
