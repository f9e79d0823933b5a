//! `tessera demo` as a newcomer runs it: a taken port is a clear error, a
//! reused data directory works, Ctrl-C stops all three servers, and a real
//! Chromium (through chromedriver) clicks through the whole dance.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Deadlines and unique names in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

mod common;

use common::free_port;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Ports {
    printer: u16,
    authorization_server: u16,
    api: u16,
}

impl Ports {
    /// The demo's own ports (its `--printer-port`, `--as-port` and
    /// `--api-port` defaults), which must be free.
    fn defaults() -> Self {
        let ports = Self {
            printer: 9000,
            authorization_server: 9001,
            api: 9002,
        };
        for port in [ports.printer, ports.authorization_server, ports.api] {
            assert!(
                std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
                "{DOCS_SCREENSHOT} is set, so the demo must run on its default ports 9000-9002, and {port} is taken"
            );
        }
        ports
    }

    fn free() -> Self {
        Self {
            printer: free_port(),
            authorization_server: free_port(),
            api: free_port(),
        }
    }
}

fn demo_command(ports: &Ports, data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.env_remove("TESSERA_CONFIG")
        .env_remove("RUST_LOG")
        .arg("demo")
        .args(["--printer-port", &ports.printer.to_string()])
        .args(["--as-port", &ports.authorization_server.to_string()])
        .args(["--api-port", &ports.api.to_string()])
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A running demo; killed if the test fails before stopping it.
struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
    banner: Vec<String>,
}

impl Demo {
    /// Starts the demo and waits for its banner (up to the credentials).
    fn start(ports: &Ports, data_dir: &Path) -> Self {
        let mut child = demo_command(ports, data_dir).spawn().unwrap();
        let lines = read_lines(child.stdout.take().unwrap());
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(left).unwrap_or_else(|_| {
                let _ = child.kill();
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("the demo printed no banner; stderr: {err}")
            });
            let done = line.contains("log in as");
            banner.push(line);
            if done {
                break;
            }
        }
        Self {
            child,
            lines,
            banner,
        }
    }

    /// The demo user's name and password, as printed.
    fn credentials(&self) -> (String, String) {
        let line = self
            .banner
            .iter()
            .find(|l| l.contains("log in as"))
            .unwrap();
        let after = line.split("log in as").nth(1).unwrap().trim();
        let (user, password) = after.split_once(" / ").unwrap();
        (user.trim().to_owned(), password.trim().to_owned())
    }

    /// Ctrl-C, then the exit status and the rest of standard output.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let exit = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the demo did not stop within 20 s of Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let rest: Vec<String> = self.lines.try_iter().collect();
        (exit, rest.join("\n"))
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut ports = Ports::free();
    ports.authorization_server = taken.local_addr().unwrap().port();
    let out = demo_command(&ports, dir.path()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "port {} (the authorization server) is already in use",
            ports.authorization_server
        )),
        "{err}"
    );
    assert!(err.contains("--as-port"), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "nothing started, no banner"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_all_three_parts_and_stops_on_ctrl_c_and_its_data_dir_can_be_reused() {
    let dir = tempfile::tempdir().unwrap();
    for run in 0..2 {
        let ports = Ports::free();
        let demo = Demo::start(&ports, dir.path());
        let banner = demo.banner.join("\n");
        let printer = format!("http://localhost:{}", ports.printer);
        let issuer = format!("http://localhost:{}", ports.authorization_server);
        assert!(banner.contains(&format!("{printer}/")), "{banner}");
        assert!(banner.contains(&format!("{printer}/dance")), "{banner}");
        assert_eq!(demo.credentials().0, "alice");
        // Issue 17: the one command that points the native client here.
        assert!(
            banner.contains(&format!(
                "tessera photos login --issuer {issuer} --api http://localhost:{}",
                ports.api
            )),
            "{banner}"
        );

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        // The AS is up, with its metadata.
        let metadata: serde_json::Value = http
            .get(format!("{issuer}/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(metadata["issuer"], issuer.as_str());
        // The photo API refuses a request without a token.
        let photos = http
            .get(format!("http://localhost:{}/photos", ports.api))
            .send()
            .await
            .unwrap();
        assert_eq!(photos.status(), 401, "run {run}");
        // The printer sends the browser to the AS, for the registered
        // redirect URI.
        let home = http
            .get(format!("{printer}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = common::printer_csrf(&home);
        let start = http
            .post(format!("{printer}/start"))
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 303, "run {run}");
        let to = start.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with(&format!("{issuer}/authorize?")), "{to}");
        let authorize = http.get(&to).send().await.unwrap();
        assert!(
            authorize.status().is_redirection(),
            "the AS accepts the request: {to}"
        );
        let login = authorize.headers()["location"].to_str().unwrap();
        assert!(
            login.contains("/login"),
            "and asks alice to log in: {login}"
        );

        // An open live view must not hold the shutdown up.
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let dance = browser
            .get(format!("{printer}/dance"))
            .send()
            .await
            .unwrap();
        assert_eq!(dance.status(), 200);
        let events = browser
            .get(format!("{printer}/dance/events"))
            .send()
            .await
            .unwrap();
        assert_eq!(events.headers()["content-type"], "text/event-stream");

        let (status, rest) = demo.interrupt();
        drop(events);
        assert!(status.success(), "run {run}: {status}");
        assert!(rest.contains("demo stopped"), "{rest}");
    }
    assert!(dir.path().join("tessera.db").exists());
    assert!(dir.path().join("photos.db").exists());
}

// --- the browser ----------------------------------------------------------

/// What the browser test leaves checked at consent: all but photos:write.
const GRANTED: &[&str] = &["openid", "profile", "photos:read"];

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Where the screenshots go (kept after the run as test artifacts).
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// chromedriver on a free port; killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn chromedriver() -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{}/status", driver.url))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver
}

async fn browser(driver: &Driver, profile: &Path) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "chrome".into());
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000", format!("--user-data-dir={}", profile.display())],
        }),
    );
    fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a chromium session")
}

async fn screenshot(c: &fantoccini::Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
}

/// Whether the browser test can run; in CI (`TESSERA_REQUIRE_BROWSER`, set
/// by `.ci/run`) a missing browser is a failure, elsewhere a notice.
fn browser_available() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var_os("TESSERA_REQUIRE_BROWSER").is_none(),
            "TESSERA_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing"
        );
        eprintln!(
            "browser test not run: install Debian's chromium and chromium-driver (.ci/run does)"
        );
    }
    present
}

use fantoccini::Locator::Css;

/// Set (to anything) to take docs/dance.png: the browser test then runs the
/// demo on its default ports 9000-9002, as a reader of the README would,
/// and writes the picture with a PNG text chunk that says so:
/// `TESSERA_DOCS_SCREENSHOT=1 cargo test -p tessera --test demo a_browser`.
const DOCS_SCREENSHOT: &str = "TESSERA_DOCS_SCREENSHOT";

/// The keyword of the PNG text chunk that says where docs/dance.png is from.
const PNG_SOURCE_KEY: &str = "Source";

fn docs_source(ports: &Ports) -> String {
    format!(
        "tessera demo on its default ports: printer {}, authorization server {}, photo API {} (crates/tessera/tests/demo.rs)",
        ports.printer, ports.authorization_server, ports.api
    )
}

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `png` with a `tEXt` chunk (`key`, `text`) right after its header chunk.
fn with_text_chunk(png: &[u8], key: &str, text: &str) -> Vec<u8> {
    const AFTER_IHDR: usize = 8 + 4 + 4 + 13 + 4;
    assert_eq!(&png[12..16], b"IHDR", "a PNG");
    let data = [key.as_bytes(), &[0], text.as_bytes()].concat();
    let typed = [b"tEXt".as_slice(), &data].concat();
    let mut out = png[..AFTER_IHDR].to_vec();
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&typed);
    out.extend_from_slice(&crc32(&typed).to_be_bytes());
    out.extend_from_slice(&png[AFTER_IHDR..]);
    out
}

/// The `tEXt` chunks of a PNG, as (keyword, text), each CRC checked.
fn text_chunks(png: &[u8]) -> Vec<(String, String)> {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let mut chunks = Vec::new();
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let typed = &png[at + 4..at + 8 + len];
        let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
        if &typed[..4] == b"tEXt" {
            assert_eq!(crc, crc32(typed), "the text chunk's CRC");
            let (key, text) = typed[4..].split_at(typed[4..].iter().position(|&b| b == 0).unwrap());
            chunks.push((
                String::from_utf8_lossy(key).into_owned(),
                String::from_utf8_lossy(&text[1..]).into_owned(),
            ));
        }
        at += 12 + len;
    }
    chunks
}

/// Issue 12 item 7: docs/dance.png shows the demo as a reader runs it, on
/// 9000-9002, not a test's random ports. The browser test writes it only
/// from a demo on those ports (`DOCS_SCREENSHOT`), and says so in the
/// picture's text chunk, which this reads.
#[test]
fn issue12_item7_the_readme_picture_is_from_the_demo_on_its_default_ports() {
    let png =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/dance.png")).unwrap();
    let chunks = text_chunks(&png);
    let source = chunks
        .iter()
        .find(|(k, _)| k == PNG_SOURCE_KEY)
        .map(|(_, v)| v.as_str());
    assert_eq!(
        source,
        Some(
            docs_source(&Ports {
                printer: 9000,
                authorization_server: 9001,
                api: 9002
            })
            .as_str()
        ),
        "regenerate it with {DOCS_SCREENSHOT}=1 (see DOCS_SCREENSHOT)"
    );
    let round_trip = text_chunks(&with_text_chunk(&png[..], "k", "v"));
    assert!(round_trip.contains(&("k".to_owned(), "v".to_owned())));
}

/// What is wrong with the dance view's layout at the window's width, every
/// flow opened: text outside its arrow (it would run across lanes) or cut
/// off, a word (not a URL or token) broken across lines, a page that
/// scrolls sideways; under 700 px, the lanes not stacked into a list.
const LAYOUT_PROBLEMS: &str = r#"
const problems = [];
document.querySelectorAll('#steps details.flow').forEach(d => d.open = true);
const narrow = window.innerWidth < 700;
function brokenWords(el) {
  const out = [];
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const words = /\S+/g;
    let m;
    while ((m = words.exec(node.data))) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (tops.size > 1) { out.push(m[0]); }
    }
  }
  return out;
}
for (const arrow of document.querySelectorAll('#steps .arrow')) {
  const step = arrow.closest('li').id;
  const a = arrow.getBoundingClientRect();
  for (const el of arrow.querySelectorAll('.label, .params, .step-note')) {
    const r = el.getBoundingClientRect();
    if (r.left < a.left - 1 || r.right > a.right + 1) { problems.push(step + ': ' + el.className + ' outside its arrow'); }
    if (el.scrollWidth > el.clientWidth + 1) { problems.push(step + ': ' + el.className + ' cut off'); }
  }
  for (const el of arrow.querySelectorAll('.label strong, .step-note')) {
    for (const w of brokenWords(el)) { problems.push(step + ': "' + w + '" broken mid-word'); }
  }
  if (narrow) {
    const list = document.getElementById('steps').getBoundingClientRect();
    if (a.width < list.width * 0.9) { problems.push(step + ': not stacked (' + Math.round(a.width) + ' of ' + Math.round(list.width) + ' px)'); }
    const route = arrow.querySelector('.route');
    if (!route || route.getBoundingClientRect().width < 20) { problems.push(step + ': who-to-whom not shown'); }
  }
}
for (const summary of document.querySelectorAll('#steps summary')) {
  for (const w of brokenWords(summary)) { problems.push('flow title: "' + w + '" broken mid-word'); }
}
if (narrow && getComputedStyle(document.querySelector('.lanes')).display !== 'none') { problems.push('the lanes header is shown'); }
if (document.documentElement.scrollWidth > window.innerWidth) { problems.push('the page scrolls sideways'); }
return problems.slice(0, 20);
"#;

/// Logs in and consents at the AS if it asks, keeping only `granted`.
async fn through_the_authorization_server(
    c: &fantoccini::Client,
    (user, password): &(String, String),
    granted: &[&str],
    shots: &str,
) {
    let wait = || c.wait().at_most(Duration::from_secs(20));
    // Either the AS asks (login or consent) or it sends the browser straight
    // back to the printer.
    let first = wait()
        .for_element(Css("#username, input[name=scope], #photo-grid"))
        .await
        .unwrap();
    if first.attr("id").await.unwrap().as_deref() == Some("photo-grid") {
        return;
    }
    if first.attr("id").await.unwrap().as_deref() == Some("username") {
        first.send_keys(user).await.unwrap();
        c.find(Css("#password"))
            .await
            .unwrap()
            .send_keys(password)
            .await
            .unwrap();
        screenshot(c, &format!("{shots}-login")).await;
        c.find(Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    let next = wait()
        .for_element(Css("input[name=scope], #photo-grid"))
        .await
        .unwrap();
    if next.attr("id").await.unwrap().as_deref() == Some("photo-grid") {
        return;
    }
    for scope in c.find_all(Css("input[name=scope]")).await.unwrap() {
        let value = scope.attr("value").await.unwrap().unwrap();
        if !granted.contains(&value.as_str()) && scope.is_selected().await.unwrap() {
            scope.click().await.unwrap();
        }
    }
    screenshot(c, &format!("{shots}-consent")).await;
    c.find(Css("button[value=approve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The diagram's rows: (from, to, channel, label). Read in one script (the
/// live view may replace the list between two WebDriver calls) and as the
/// DOM's text, so the steps of collapsed flows count too.
async fn dance_steps(c: &fantoccini::Client) -> Vec<(String, String, String, String)> {
    let rows = c
        .execute(
            "return Array.from(document.querySelectorAll('#steps li.step'), li => \
             [li.dataset.from, li.dataset.to, li.dataset.channel, li.querySelector('.label strong').textContent]);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(rows).unwrap()
}

/// Clicks `css` on the dance page, again if the live view replaced the
/// element between finding and clicking it.
async fn click_in_dance(c: &fantoccini::Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let clicked = match c.find(Css(css)).await {
            Ok(e) => e.click().await.is_ok(),
            Err(_) => false,
        };
        if clicked {
            return;
        }
        assert!(Instant::now() < deadline, "could not click {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_clicks_through_the_demo_and_sees_every_step_of_the_dance() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    // docs/dance.png is taken from a demo on its own ports (see
    // `DOCS_SCREENSHOT`); every other run takes free ones.
    let for_docs = std::env::var_os(DOCS_SCREENSHOT).is_some();
    let ports = if for_docs {
        Ports::defaults()
    } else {
        Ports::free()
    };
    let demo = Demo::start(&ports, dir.path());
    let credentials = demo.credentials();
    let printer = format!("http://localhost:{}", ports.printer);
    let issuer = format!("http://localhost:{}", ports.authorization_server);
    let driver = chromedriver().await;
    let c = browser(&driver, profile.path()).await;
    let wait = || c.wait().at_most(Duration::from_secs(20));

    // Start.
    c.goto(&format!("{printer}/")).await.unwrap();
    screenshot(&c, "01-start").await;
    c.find(Css("#print-my-photos"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Log in and uncheck photos:write at consent.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.current_url().await.unwrap().as_str().starts_with(&issuer) {
        assert!(
            Instant::now() < deadline,
            "the browser never reached the AS"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    through_the_authorization_server(&c, &credentials, GRANTED, "02").await;

    // Back at the printer, with the code out of the address bar.
    let grid = wait().for_element(Css("#photo-grid")).await.unwrap();
    assert_eq!(
        c.current_url().await.unwrap().as_str(),
        format!("{printer}/photos")
    );
    let images = grid.find_all(Css("img")).await.unwrap();
    assert!(!images.is_empty(), "the seeded photos are shown");
    let loaded = c
        .execute(
            "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(loaded, serde_json::Value::Bool(true), "every image loaded");
    let granted = c
        .find(Css("#granted-scopes"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(granted.contains("photos:read"), "{granted}");
    assert!(!granted.contains("photos:write"), "{granted}");
    // OpenID Connect: the printer knows who logged in.
    let who = c
        .find(Css("#signed-in-as"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(who.contains("Alice Liddell"), "{who}");
    let refused = c
        .find(Css("#refused-scopes"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(refused.contains("photos:write"));
    screenshot(&c, "03-photos").await;

    // The dance view lists every step.
    c.goto(&format!("{printer}/dance")).await.unwrap();
    wait().for_element(Css("#steps")).await.unwrap();
    let steps = dance_steps(&c).await;
    let redirect = format!("{printer}/callback");
    let expected: Vec<(&str, &str, &str, String)> = vec![
        ("browser", "client", "front", "POST /start".into()),
        (
            "client",
            "browser",
            "front",
            format!("303 See Other → {issuer}/authorize"),
        ),
        (
            "browser",
            "authorization_server",
            "front",
            "GET /authorize".into(),
        ),
        (
            "browser",
            "authorization_server",
            "browser_and_as_only",
            "log in and consent".into(),
        ),
        (
            "authorization_server",
            "browser",
            "front",
            format!("redirect → {redirect}"),
        ),
        ("browser", "client", "front", "GET /callback".into()),
        ("client", "client", "local", "state and iss checked".into()),
        (
            "client",
            "authorization_server",
            "back",
            "POST /token".into(),
        ),
        ("authorization_server", "client", "back", "200 OK".into()),
        (
            "client",
            "authorization_server",
            "back",
            "GET /jwks.json".into(),
        ),
        ("authorization_server", "client", "back", "200 OK".into()),
        (
            "client",
            "authorization_server",
            "back",
            "GET /userinfo".into(),
        ),
        ("authorization_server", "client", "back", "200 OK".into()),
        (
            "client",
            "client",
            "local",
            "ID token and UserInfo checked".into(),
        ),
        (
            "client",
            "browser",
            "front",
            "303 See Other → /photos".into(),
        ),
        ("browser", "client", "front", "GET /photos".into()),
        ("client", "resource", "back", "GET /photos".into()),
        ("resource", "client", "back", "200 OK".into()),
        ("client", "browser", "front", "200 OK".into()),
    ];
    let got: Vec<(&str, &str, &str, String)> = steps
        .iter()
        .map(|(a, b, ch, l)| (a.as_str(), b.as_str(), ch.as_str(), l.clone()))
        .collect();
    assert_eq!(got, expected);

    // Live: a step made elsewhere appears without reloading the page.
    wait()
        .for_element(Css("#live-status.on"))
        .await
        .expect("the event stream connects");
    let before = steps.len();
    c.execute(
        "fetch('/photos', {credentials: 'same-origin'}); return true;",
        vec![],
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Read in one script: the list is replaced as updates arrive.
        let count = c
            .execute(
                "const s = document.getElementById('steps'); return s ? Number(s.dataset.count) : 0;",
                vec![],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap() as usize;
        if count > before {
            break;
        }
        assert!(Instant::now() < deadline, "the diagram did not update live");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    screenshot(&c, "04-dance").await;

    // Print the chosen photos: each captioned with its name (issue 12
    // item 7), as the grid names it, never with its id.
    c.goto(&format!("{printer}/photos")).await.unwrap();
    let print = wait().for_element(Css("#print")).await.unwrap();
    let mut names = Vec::new();
    let mut ids = Vec::new();
    for photo in c.find_all(Css("#photo-grid li.photo")).await.unwrap() {
        names.push(photo.find(Css("span")).await.unwrap().text().await.unwrap());
        ids.push(
            photo
                .find(Css("input[name=photo]"))
                .await
                .unwrap()
                .attr("value")
                .await
                .unwrap()
                .unwrap(),
        );
    }
    print.click().await.unwrap();
    wait().for_element(Css("#print-now")).await.unwrap();
    let printed = c.find_all(Css("figure.print-sheet")).await.unwrap();
    assert_eq!(printed.len(), images.len(), "every photo was chosen");
    let mut captions = Vec::new();
    for caption in c
        .find_all(Css("figure.print-sheet figcaption"))
        .await
        .unwrap()
    {
        captions.push(caption.text().await.unwrap());
    }
    assert_eq!(captions, names, "captioned with the photos' names");
    for id in &ids {
        assert!(!captions.iter().any(|c| c.contains(id.as_str())), "{id}");
    }
    screenshot(&c, "05-print").await;

    // Refresh now: the printer still knows alice by name (issue 12 item 5).
    let greeting = "Alice Liddell, your photos";
    c.goto(&format!("{printer}/photos")).await.unwrap();
    wait()
        .for_element(Css("#refresh-now"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait().for_element(Css("p.notice")).await.unwrap();
    let heading = c.find(Css("h1")).await.unwrap().text().await.unwrap();
    assert_eq!(heading, greeting, "after Refresh now");

    // Forget the access token: the next page load refreshes first.
    c.goto(&format!("{printer}/")).await.unwrap();
    c.find(Css("#forget-access-token"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The notice exists only on the page the button leads to.
    wait().for_element(Css("p.notice")).await.unwrap();
    let state = c.find(Css("#access-token-state")).await.unwrap();
    assert!(state.text().await.unwrap().contains("forgotten"));
    c.goto(&format!("{printer}/photos")).await.unwrap();
    wait().for_element(Css("#photo-grid")).await.unwrap();
    let heading = c.find(Css("h1")).await.unwrap().text().await.unwrap();
    assert_eq!(heading, greeting, "after forgetting the access token");

    // Revoke: the refresh fails and the page says why, then authorizing again works.
    c.goto(&format!("{printer}/")).await.unwrap();
    c.find(Css("#revoke")).await.unwrap().click().await.unwrap();
    let notice = wait().for_element(Css("p.notice")).await.unwrap();
    assert!(notice.text().await.unwrap().contains("Revoked"));
    // The token panel says so (issue 12 item 7).
    let refresh = c
        .find(Css("#refresh-token-state"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(refresh.contains("revoked"), "{refresh}");
    assert!(!refresh.contains("held"), "{refresh}");
    c.goto(&format!("{printer}/photos")).await.unwrap();
    let again = wait().for_element(Css("#authorize-again")).await.unwrap();
    let why = c.find(Css("#message")).await.unwrap().text().await.unwrap();
    assert!(why.contains("no longer accepts"), "{why}");
    screenshot(&c, "06-authorize-again").await;
    again.click().await.unwrap();
    through_the_authorization_server(&c, &credentials, GRANTED, "07").await;
    wait().for_element(Css("#photo-grid")).await.unwrap();

    // The whole story is in the diagram.
    c.goto(&format!("{printer}/dance")).await.unwrap();
    wait().for_element(Css("#steps")).await.unwrap();
    let labels: Vec<String> = dance_steps(&c).await.into_iter().map(|s| s.3).collect();
    for needed in [
        "no access token",
        "access token forgotten",
        "POST /revoke",
        "authorization has ended",
    ] {
        assert!(labels.iter().any(|l| l == needed), "{needed} in {labels:?}");
    }
    // Grouped by flow, the newest open (issue 12 item 8); "Authorize again"
    // is logged as the button pressed (issue 12 item 7).
    let kinds = c
        .execute(
            "return Array.from(document.querySelectorAll('#steps > details.flow'), d => [d.dataset.kind, d.open]);",
            vec![],
        )
        .await
        .unwrap();
    let kinds: Vec<(String, bool)> = serde_json::from_value(kinds).unwrap();
    let expected_kinds = [
        "sign_in",
        "photos",
        "print",
        "photos",
        "refresh",
        "forget",
        "refresh",
        "revoke",
        "ended",
        "authorize_again",
    ];
    assert_eq!(
        kinds.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(),
        expected_kinds
    );
    assert_eq!(
        kinds.iter().filter(|k| k.1).count(),
        1,
        "only the newest is open: {kinds:?}"
    );
    let pressed = c
        .execute(
            "return document.querySelector('#steps > details.flow:last-of-type .step-note').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(pressed, "the user presses “Authorize again”");
    screenshot(&c, "08-dance-complete").await;

    // Readable at a desktop width and on a narrow screen (issue 12 item 8).
    for (width, shot) in [(1200, "09-dance-1200"), (600, "10-dance-600")] {
        c.set_window_size(width, 1000).await.unwrap();
        let problems = c.execute(LAYOUT_PROBLEMS, vec![]).await.unwrap();
        assert_eq!(problems, serde_json::json!([]), "layout at {width} px wide");
        screenshot(&c, shot).await;
    }
    // A flow the reader opens stays open when a new step arrives (the
    // server would draw it closed: only the newest is open).
    c.set_window_size(1400, 1000).await.unwrap();
    c.goto(&format!("{printer}/dance")).await.unwrap();
    wait()
        .for_element(Css("#live-status.on"))
        .await
        .expect("the event stream connects");
    click_in_dance(&c, "#steps > details.flow:first-of-type > summary").await;
    c.execute(
        "fetch('/photos', {credentials: 'same-origin'}); return true;",
        vec![],
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let flows = c
            .execute(
                "return Array.from(document.querySelectorAll('#steps > details.flow'), d => [d.dataset.kind, d.open]);",
                vec![],
            )
            .await
            .unwrap();
        let flows: Vec<(String, bool)> = serde_json::from_value(flows).unwrap();
        if flows.len() > expected_kinds.len() {
            assert_eq!(flows[0], ("sign_in".to_owned(), true), "{flows:?}");
            assert_eq!(
                flows[expected_kinds.len() - 1],
                ("authorize_again".to_owned(), false)
            );
            assert_eq!(flows.last().unwrap(), &("photos".to_owned(), true));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new flow did not arrive live"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The picture for the README: the sign-in open, every later flow by
    // its title (docs/dance.png when `DOCS_SCREENSHOT` is set).
    c.goto(&format!("{printer}/dance")).await.unwrap();
    wait().for_element(Css("#steps")).await.unwrap();
    wait()
        .for_element(Css("#live-status.on"))
        .await
        .expect("the event stream connects");
    click_in_dance(&c, "#steps > details.flow:first-of-type > summary").await;
    click_in_dance(&c, "#steps > details.flow:last-of-type > summary").await;
    let height = c
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap() as u32;
    c.set_window_size(1400, height + 120).await.unwrap();
    c.execute("window.scrollTo(0, 0); return true;", vec![])
        .await
        .unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts().join("11-dance-for-docs.png"), &png).unwrap();
    if for_docs {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/dance.png");
        std::fs::write(
            &docs,
            with_text_chunk(&png, PNG_SOURCE_KEY, &docs_source(&ports)),
        )
        .unwrap();
        eprintln!("wrote {}", docs.display());
    }
    eprintln!("screenshots in {}", artifacts().display());

    c.close().await.unwrap();
    let (status, _) = demo.interrupt();
    assert!(status.success());
}

/// The text of the first element matching `css`.
async fn text_at(c: &fantoccini::Client, css: &str) -> String {
    c.find(Css(css)).await.unwrap().text().await.unwrap()
}

/// Issue 12 items 3, 9 and 10 as a newcomer meets them in the demo: each
/// server's own address says what it is (the AS a page with its issuer and
/// links, the photo API a description, the printer a styled 404), and the
/// consent page is visibly the authorization server's, says in words what
/// each scope allows, where the browser goes back to, and shows `openid` as
/// a fixed line rather than a checkbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue12_each_server_says_what_it_is_and_consent_speaks_plainly() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let ports = Ports::free();
    let demo = Demo::start(&ports, dir.path());
    let (user, password) = demo.credentials();
    let printer = format!("http://localhost:{}", ports.printer);
    let issuer = format!("http://localhost:{}", ports.authorization_server);
    let as_name = format!("Tessera at localhost:{}", ports.authorization_server);
    let driver = chromedriver().await;
    let c = browser(&driver, profile.path()).await;
    let wait = || c.wait().at_most(Duration::from_secs(20));

    // Item 9: the AS's root (the banner links it).
    c.goto(&format!("{issuer}/")).await.unwrap();
    assert_eq!(text_at(&c, "h1").await, as_name);
    assert!(text_at(&c, "dl.facts").await.contains(&issuer));
    let mut links = Vec::new();
    for a in c.find_all(Css("dl.facts a")).await.unwrap() {
        links.push(a.attr("href").await.unwrap().unwrap());
    }
    assert!(
        links.contains(&format!("{issuer}/.well-known/openid-configuration")),
        "{links:?}"
    );
    assert!(links.contains(&format!("{issuer}/jwks.json")), "{links:?}");
    screenshot(&c, "issue12-as-home").await;

    // The photo API's root: a description, not an empty page.
    c.goto(&format!("http://localhost:{}/", ports.api))
        .await
        .unwrap();
    let shown = text_at(&c, "body").await;
    assert!(shown.contains("Tessera photo API"), "{shown}");
    assert!(shown.contains("photos:read"), "{shown}");

    // The printer's 404: its own page, with the way back.
    c.goto(&format!("{printer}/no-such-page")).await.unwrap();
    assert_eq!(text_at(&c, "h1").await, "Page not found");
    c.find(Css("a[href='/']")).await.unwrap();
    screenshot(&c, "issue12-printer-404").await;

    // Item 10 and 3: the consent page.
    c.goto(&format!("{printer}/")).await.unwrap();
    c.find(Css("#print-my-photos"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait()
        .for_element(Css("#username"))
        .await
        .unwrap()
        .send_keys(&user)
        .await
        .unwrap();
    c.find(Css("#password"))
        .await
        .unwrap()
        .send_keys(&password)
        .await
        .unwrap();
    assert_eq!(
        text_at(&c, "header.site").await,
        as_name,
        "the login page too"
    );
    c.find(Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait().for_element(Css("#fixed-scopes")).await.unwrap();
    assert_eq!(text_at(&c, "header.site").await, as_name);
    let lead = text_at(&c, "p.lead").await;
    assert!(
        lead.contains("Photo Printer") && lead.contains(&as_name),
        "{lead}"
    );
    assert!(
        c.find_all(Css("input[value=openid]"))
            .await
            .unwrap()
            .is_empty(),
        "openid is not a checkbox"
    );
    let fixed = text_at(&c, "#fixed-scopes").await;
    assert!(fixed.contains("Sign you in"), "{fixed}");
    assert!(fixed.contains("press Deny"), "{fixed}");
    let choices = text_at(&c, "fieldset").await;
    for words in [
        "See your name and basic profile",
        "See the photos in your photo storage",
        "Add photos to your photo storage and delete them",
    ] {
        assert!(choices.contains(words), "{words} in {choices}");
    }
    let body = text_at(&c, "main").await;
    assert!(
        body.contains("you will be sent back to localhost"),
        "{body}"
    );
    screenshot(&c, "issue12-consent").await;
    // Allowing (with openid fixed) signs alice in at the printer.
    c.find(Css("button[value=approve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait().for_element(Css("#photo-grid")).await.unwrap();
    let who = text_at(&c, "#signed-in-as").await;
    assert!(who.contains("Alice Liddell"), "{who}");

    c.close().await.unwrap();
    let (status, _) = demo.interrupt();
    assert!(status.success());
}
