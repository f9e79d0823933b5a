//! The photo printer over real HTTP, against the real AS and photo API on
//! loopback: the whole dance, each refused callback (with no token request
//! reaching the AS, counted on the AS side), the token buttons, and the
//! dance view. Tests are named after docs/conformance.md §1L where they mirror it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use scraper::{Html, Selector};
use tessera_client::Secret;
use tessera_photo_printer::{Printer, PrinterConfig};
use tessera_test_support::{Browser, CLIENT_ID, CLIENT_SECRET, Servers, location, with_param};

struct App {
    servers: Servers,
    base: String,
    /// Seconds the printer's clock runs ahead of the wall clock.
    ahead: Arc<AtomicU64>,
}

async fn app() -> App {
    app_with(|_| {}).await
}

/// The printer, with `adjust` applied to its configuration.
async fn app_with(adjust: impl FnOnce(&mut PrinterConfig)) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let redirect_uri = format!("{base}/callback");
    let servers = Servers::builder().redirect_uri(&redirect_uri).start().await;
    let mut config = PrinterConfig {
        listen: String::new(),
        issuer: servers.issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
        redirect_uri,
        photo_api: servers.photos.clone(),
        scopes: vec!["photos:read".into(), "photos:write".into()],
        log: "info".into(),
        header_read_timeout_secs: None,
        request_body_timeout_secs: None,
        max_connections: None,
        tls_certificate_file: None,
        tls_key_file: None,
        tls_reload_interval_secs: None,
    };
    adjust(&mut config);
    let ahead = Arc::new(AtomicU64::new(0));
    let skew = ahead.clone();
    let printer = Printer::with_clock(
        config,
        Arc::new(move || {
            tessera_runtime::system_time() + Duration::from_secs(skew.load(Ordering::SeqCst))
        }),
    )
    .unwrap();
    tokio::spawn(tessera_photo_printer::serve(
        listener,
        printer,
        std::future::pending(),
    ));
    App {
        servers,
        base,
        ahead,
    }
}

impl App {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The start page, then `POST /start` with its CSRF token: the
    /// authorization URL the printer sends the browser to.
    async fn start(&self, browser: &Browser) -> url::Url {
        let home = self.page(browser, "/").await;
        let r = self
            .post_button(browser, "/start", Some(&csrf_of(&home)))
            .await;
        assert_eq!(r.status(), 303, "start redirects to the AS");
        url::Url::parse(&location(&r)).unwrap()
    }

    /// Start, log in and consent (keeping `granted`), and come back: the
    /// callback query.
    async fn authorize(&self, browser: &Browser, granted: Option<&[&str]>) -> String {
        let url = self.start(browser).await;
        browser
            .authorize_as_alice_granting(&url, "approve", granted)
            .await
    }

    async fn callback(&self, browser: &Browser, query: &str) -> reqwest::Response {
        browser
            .http
            .get(self.url(&format!("/callback?{query}")))
            .send()
            .await
            .unwrap()
    }

    /// A callback that the printer refuses or reports: it redirects away
    /// (the code leaves the address bar) to the page that says why.
    async fn callback_outcome(&self, browser: &Browser, query: &str) -> (u16, String) {
        let r = self.callback(browser, query).await;
        assert_eq!(r.status(), 303, "every callback outcome redirects away");
        assert_eq!(location(&r), "/result");
        let page = browser.http.get(self.url("/result")).send().await.unwrap();
        let status = page.status().as_u16();
        (status, page.text().await.unwrap())
    }

    /// The whole dance up to the photo page.
    async fn signed_in(&self, browser: &Browser, granted: Option<&[&str]>) -> String {
        let query = self.authorize(browser, granted).await;
        let r = self.callback(browser, &query).await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/photos");
        self.page(browser, "/photos").await
    }

    async fn page(&self, browser: &Browser, path: &str) -> String {
        let r = browser.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.text().await.unwrap()
    }

    async fn post_button(
        &self,
        browser: &Browser,
        path: &str,
        csrf: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        browser
            .http
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// The dance as (from, to, channel, label) rows.
    async fn steps(&self, browser: &Browser) -> Vec<(String, String, String, String)> {
        let html = self.page(browser, "/dance/steps").await;
        let doc = Html::parse_fragment(&html);
        let li = Selector::parse("li.step").unwrap();
        let strong = Selector::parse(".label strong").unwrap();
        doc.select(&li)
            .map(|e| {
                let v = e.value();
                (
                    v.attr("data-from").unwrap().to_owned(),
                    v.attr("data-to").unwrap().to_owned(),
                    v.attr("data-channel").unwrap().to_owned(),
                    e.select(&strong).next().unwrap().text().collect(),
                )
            })
            .collect()
    }
}

fn text_of(html: &str, selector: &str) -> String {
    let doc = Html::parse_document(html);
    doc.select(&Selector::parse(selector).unwrap())
        .next()
        .map(|e| e.text().collect::<String>())
        .unwrap_or_default()
}

/// No credential in the dance: not the client secret, not the callback's
/// `state`, and every credential-named parameter at most a 6-character
/// prefix and an ellipsis.
fn assert_secrets_redacted(dance: &str, callback_query: &str) {
    assert!(!dance.contains(CLIENT_SECRET));
    let state = url::form_urlencoded::parse(callback_query.as_bytes())
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert!(!dance.contains(&state), "the full state");
    let doc = Html::parse_document(dance);
    let spans = Selector::parse(".params span").unwrap();
    let mut checked = 0;
    for span in doc.select(&spans) {
        let text: String = span.text().collect();
        let Some((name, value)) = text.split_once('=') else {
            continue;
        };
        if [
            "code",
            "state",
            "code_verifier",
            "code_challenge",
            "access_token",
            "refresh_token",
            "token",
            "nonce",
            "id_token",
        ]
        .contains(&name)
        {
            assert!(
                value.chars().count() <= 7 && value.ends_with('…'),
                "{name}={value}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 6,
        "credential parameters are shown (redacted): {checked}"
    );
}

fn csrf_of(html: &str) -> String {
    let doc = Html::parse_document(html);
    doc.select(&Selector::parse("input[name=csrf]").unwrap())
        .next()
        .expect("a csrf field")
        .value()
        .attr("value")
        .unwrap()
        .to_owned()
}

/// No JWT of ours in a page beyond its 6-character prefix (JWTs start with
/// `eyJ`), and not the code.
fn assert_no_token(html: &str, code: &str) {
    for (i, _) in html.match_indices("eyJ") {
        let run = html[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .count();
        assert!(
            run <= 6,
            "a JWT in the page: {}",
            &html[i..(i + 40).min(html.len())]
        );
    }
    assert!(!html.contains(code), "the authorization code in the page");
}

#[tokio::test]
async fn the_whole_dance_shows_the_photos_and_every_step() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let query = app.authorize(&browser, None).await;
    let code = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let before = app.servers.token_requests();
    let r = app.callback(&browser, &query).await;
    // docs/conformance.md item 93: after processing, the callback redirects
    // away so the code leaves the address bar, with no Referer leak.
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/photos");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert_eq!(app.servers.token_requests(), before + 1);
    assert_eq!(
        app.servers.basic_token_requests(),
        before + 1,
        "HTTP Basic at /token"
    );

    let photos = app.page(&browser, "/photos").await;
    let doc = Html::parse_document(&photos);
    let images: Vec<String> = doc
        .select(&Selector::parse("#photo-grid img").unwrap())
        .map(|e| e.value().attr("src").unwrap().to_owned())
        .collect();
    assert!(!images.is_empty(), "the seeded photos are listed");
    let image = browser.http.get(app.url(&images[0])).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert!(
        image.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/")
    );
    assert!(text_of(&photos, "#granted-scopes").contains("photos:read"));
    assert_no_token(&photos, &code);

    let steps = app.steps(&browser).await;
    let issuer = &app.servers.issuer;
    let redirect = &app.servers.redirect_uri;
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
        .map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), d.clone()))
        .collect();
    assert_eq!(got, expected);

    // The parameters that matter are shown, credentials only as a prefix.
    let dance = app.page(&browser, "/dance").await;
    assert_no_token(&dance, &code);
    assert_secrets_redacted(&dance, &query);
    assert!(
        dance.contains(&format!("{}…", &code[..6])),
        "the code's prefix"
    );
    assert!(dance.contains("grant_type</b>=authorization_code"));
    assert!(dance.contains("code_challenge_method</b>=S256"));
    assert!(dance.contains("Basic (client_id:client_secret)"));
    assert!(dance.contains("expires_in</b>="));
    assert!(
        dance.contains("Bearer eyJ") || dance.contains("Bearer "),
        "the bearer header, by prefix"
    );
}

#[tokio::test]
async fn one_scope_unchecked_at_consent_shows_as_not_granted() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let photos = app.signed_in(&browser, Some(&["photos:read"])).await;
    assert_eq!(text_of(&photos, "#granted-scopes").trim(), "photos:read");
    assert!(text_of(&photos, "#refused-scopes").contains("photos:write"));
}

#[tokio::test]
async fn client_state_is_bound_to_the_browser_session() {
    // docs/conformance.md item 86: a callback in a browser without the
    // session that started the request is refused, and no token request is
    // made.
    let app = app().await;
    let alice = Browser::new(&app.servers);
    let query = app.authorize(&alice, None).await;
    let stranger = Browser::new(&app.servers);
    let before = app.servers.token_requests();
    let r = app.callback(&stranger, &query).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("No token was requested"));
    assert_eq!(app.servers.token_requests(), before);
    // The right browser can still complete it.
    assert_eq!(app.callback(&alice, &query).await.status(), 303);
}

#[tokio::test]
async fn client_rejects_foreign_state() {
    // Bob's callback delivered to Alice's browser (which has a request of
    // its own in flight): the state is not hers.
    let app = app().await;
    let alice = Browser::new(&app.servers);
    let _alice_url = app.start(&alice).await;
    let bob = Browser::new(&app.servers);
    let bobs_query = app.authorize(&bob, None).await;
    let before = app.servers.token_requests();
    let (status, page) = app.callback_outcome(&alice, &bobs_query).await;
    assert_eq!(status, 400);
    assert!(page.contains("No token was requested"), "{page}");
    assert_eq!(app.servers.token_requests(), before);
}

#[tokio::test]
async fn client_rejects_missing_or_wrong_state_and_iss() {
    let app = app().await;
    for (name, value) in [
        ("state", None),
        ("state", Some("not-the-state")),
        ("iss", None),
        ("iss", Some("http://127.0.0.1:1")),
    ] {
        let browser = Browser::new(&app.servers);
        let query = app.authorize(&browser, None).await;
        let before = app.servers.token_requests();
        let (status, _) = app
            .callback_outcome(&browser, &with_param(&query, name, value))
            .await;
        assert_eq!(status, 400, "{name}={value:?}");
        assert_eq!(
            app.servers.token_requests(),
            before,
            "{name}={value:?}: no token request"
        );
        // The request was used up: even the genuine callback now fails.
        assert_eq!(app.callback_outcome(&browser, &query).await.0, 400);
        assert_eq!(app.servers.token_requests(), before);
    }
}

#[tokio::test]
async fn client_state_is_single_use() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let query = app.authorize(&browser, None).await;
    assert_eq!(app.callback(&browser, &query).await.status(), 303);
    let before = app.servers.token_requests();
    assert_eq!(app.callback_outcome(&browser, &query).await.0, 400);
    assert_eq!(app.servers.token_requests(), before);
    let steps = app.steps(&browser).await;
    assert_eq!(steps.last().unwrap().3, "callback refused");
}

#[tokio::test]
async fn access_denied_gives_a_friendly_page() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let url = app.start(&browser).await;
    let query = browser.authorize_as_alice(&url, "deny").await;
    let before = app.servers.token_requests();
    let (status, page) = app.callback_outcome(&browser, &query).await;
    assert_eq!(status, 200);
    assert!(page.contains("No photos shared"), "{page}");
    assert!(page.contains("id=\"authorize-again\""));
    assert_eq!(app.servers.token_requests(), before);
    // The denied request is used up too.
    assert_eq!(app.callback_outcome(&browser, &query).await.0, 400);
    assert_eq!(app.servers.token_requests(), before);
}

#[tokio::test]
async fn forgetting_the_access_token_refreshes_before_the_next_call() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let photos = app.signed_in(&browser, None).await;
    let csrf = csrf_of(&photos);
    let r = app
        .post_button(&browser, "/tokens/forget", Some(&csrf))
        .await;
    assert_eq!(r.status(), 303);
    let home = app.page(&browser, "/").await;
    assert!(text_of(&home, "#access-token-state").contains("forgotten"));
    let before = app.servers.token_requests();
    let photos = app.page(&browser, "/photos").await;
    assert!(photos.contains("photo-grid"));
    assert_eq!(app.servers.token_requests(), before + 1, "one refresh");
    let dance = app.page(&browser, "/dance").await;
    assert!(dance.contains("grant_type</b>=refresh_token"));
}

#[tokio::test]
async fn refresh_now_replaces_the_tokens() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let photos = app.signed_in(&browser, None).await;
    let before = app.servers.token_requests();
    let r = app
        .post_button(&browser, "/tokens/refresh", Some(&csrf_of(&photos)))
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.servers.token_requests(), before + 1);
    assert!(app.page(&browser, "/photos").await.contains("photo-grid"));
}

#[tokio::test]
async fn after_revocation_the_user_is_sent_through_authorization_again() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let photos = app.signed_in(&browser, None).await;
    let r = app
        .post_button(&browser, "/tokens/revoke", Some(&csrf_of(&photos)))
        .await;
    assert_eq!(r.status(), 303);
    // The next call needs a refresh; the AS refuses it (invalid_grant).
    let page = app.page(&browser, "/photos").await;
    assert!(
        page.contains("Please authorize the printer again"),
        "{page}"
    );
    assert!(page.contains("no longer accepts"), "the page says why");
    assert!(page.contains("id=\"authorize-again\""));
    // The tokens are gone: the start page offers the flow again.
    assert!(
        app.page(&browser, "/")
            .await
            .contains("id=\"print-my-photos\"")
    );
    let steps = app.steps(&browser).await;
    assert!(steps.iter().any(|s| s.3 == "authorization has ended"));
    // And the flow works again.
    let again = app.signed_in(&browser, None).await;
    assert!(again.contains("photo-grid"));
}

#[tokio::test]
async fn buttons_that_change_something_need_the_csrf_token() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    app.signed_in(&browser, None).await;
    for path in [
        "/tokens/revoke",
        "/tokens/forget",
        "/tokens/refresh",
        "/dance/clear",
    ] {
        let r = app.post_button(&browser, path, None).await;
        assert_eq!(r.status(), 403, "{path} without csrf");
        let r = app.post_button(&browser, path, Some("forged")).await;
        assert_eq!(r.status(), 403, "{path} with a wrong csrf");
    }
    // Nothing was revoked or forgotten.
    let before = app.servers.token_requests();
    assert!(app.page(&browser, "/photos").await.contains("photo-grid"));
    assert_eq!(app.servers.token_requests(), before);
}

#[tokio::test]
async fn the_dance_view_streams_a_step_event_when_something_happens() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    app.signed_in(&browser, None).await;
    let mut events = browser
        .http
        .get(app.url("/dance/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    app.page(&browser, "/photos").await;
    let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains("event: step"), "{text}");
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_load_nothing_from_elsewhere() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    for path in ["/", "/dance"] {
        let r = browser.http.get(app.url(path)).send().await.unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        let html = r.text().await.unwrap();
        assert!(
            !html.contains("src=\"http"),
            "{path}: nothing from the network"
        );
        assert!(
            !html.contains("href=\"http"),
            "{path}: nothing from the network"
        );
    }
    let js = browser
        .http
        .get(app.url("/static/dance.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.text().await.unwrap().contains("EventSource"));
}

#[tokio::test]
async fn photo_ids_that_are_not_ids_never_reach_the_photo_api() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let photos = app.signed_in(&browser, None).await;
    let first = Html::parse_document(&photos)
        .select(&Selector::parse("#photo-grid img").unwrap())
        .next()
        .unwrap()
        .value()
        .attr("src")
        .unwrap()
        .to_owned();
    let id = first
        .trim_start_matches("/photos/")
        .trim_end_matches("/image");
    let good = browser.http.get(app.url(&first)).send().await.unwrap();
    assert_eq!(good.status(), 200);
    // Each would fetch that same photo (200) if it reached the API as is.
    for bad in [
        format!("{id}%3Fx"),
        format!("{id}%2F..%2F{id}"),
        format!("{id}%23"),
    ] {
        let r = browser
            .http
            .get(app.url(&format!("/photos/{bad}/image")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
}

#[tokio::test]
async fn client_rejects_metadata_for_another_issuer() {
    // §1L / RFC 8414 §3.3: the metadata served at the configured issuer's
    // well-known URL names the issuer without the trailing slash: not
    // identical, so the printer refuses to use that server at all.
    let app = app_with(|c| c.issuer.push('/')).await;
    let browser = Browser::new(&app.servers);
    let home = app.page(&browser, "/").await;
    let r = app
        .post_button(&browser, "/start", Some(&csrf_of(&home)))
        .await;
    assert_eq!(r.status(), 502);
    let page = r.text().await.unwrap();
    assert!(page.contains("metadata names issuer"), "{page}");
    assert_eq!(app.servers.token_requests(), 0);
}

#[tokio::test]
async fn the_session_gets_a_new_id_at_login_and_the_old_one_stops_working() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let home = browser.http.get(app.url("/")).send().await.unwrap();
    let first = home.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(first.contains("HttpOnly"), "{first}");
    assert!(first.contains("SameSite=Lax"), "{first}");
    assert!(first.contains("Path=/"), "{first}");
    let old = first.split(';').next().unwrap().to_owned();
    let csrf = csrf_of(&home.text().await.unwrap());
    let r = app.post_button(&browser, "/start", Some(&csrf)).await;
    let url = url::Url::parse(&location(&r)).unwrap();
    let query = browser.authorize_as_alice(&url, "approve").await;
    let r = app.callback(&browser, &query).await;
    assert_eq!(r.status(), 303);
    let second = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let new = second.split(';').next().unwrap().to_owned();
    assert_ne!(old, new, "a new session id after login");
    // The new id holds the tokens; the planted (old) one holds nothing.
    assert!(app.page(&browser, "/photos").await.contains("photo-grid"));
    let fixated = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/photos"))
        .header("cookie", &old)
        .send()
        .await
        .unwrap();
    assert_eq!(fixated.status(), 303);
    assert_eq!(location(&fixated), "/");
}

#[tokio::test]
async fn starting_needs_the_session_and_its_csrf_token() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    // No session: sent to the start page, which makes one.
    let r = browser.http.post(app.url("/start")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/");
    app.page(&browser, "/").await;
    let r = app.post_button(&browser, "/start", Some("forged")).await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn an_authorization_request_older_than_ten_minutes_is_refused() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let query = app.authorize(&browser, None).await;
    app.ahead.store(11 * 60, Ordering::SeqCst);
    let before = app.servers.token_requests();
    let (status, page) = app.callback_outcome(&browser, &query).await;
    assert_eq!(status, 400);
    assert!(page.contains("expired"), "{page}");
    assert_eq!(app.servers.token_requests(), before);
}

#[tokio::test]
async fn the_printer_moves_the_browser_to_the_redirect_uris_host() {
    // Opened as localhost, the printer is registered as 127.0.0.1: the
    // cookie must be set where the callback will arrive.
    let app = app().await;
    let port = url::Url::parse(&app.base).unwrap().port().unwrap();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://localhost:{port}/dance"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{}/dance", app.base));
}

#[tokio::test]
async fn with_openid_the_printer_checks_the_id_token_and_shows_who_logged_in() {
    let app = app_with(|c| {
        c.scopes = ["openid", "profile", "photos:read"]
            .map(String::from)
            .to_vec();
    })
    .await;
    let browser = Browser::new(&app.servers);
    let url = app.start(&browser).await;
    let nonce = url
        .query_pairs()
        .find(|(k, _)| k == "nonce")
        .expect("a nonce with openid")
        .1
        .into_owned();
    assert!(nonce.len() >= 43, "256 bits");
    let query = browser.authorize_as_alice(&url, "approve").await;
    assert_eq!(app.callback(&browser, &query).await.status(), 303);
    let photos = app.page(&browser, "/photos").await;
    assert!(!text_of(&photos, "#signed-in-as").trim().is_empty());
    let labels: Vec<String> = app.steps(&browser).await.into_iter().map(|s| s.3).collect();
    for step in [
        "GET /jwks.json",
        "GET /userinfo",
        "ID token and UserInfo checked",
    ] {
        assert!(labels.iter().any(|l| l == step), "{step} in {labels:?}");
    }
    let dance = app.page(&browser, "/dance").await;
    assert!(!dance.contains(&nonce), "the nonce is redacted");
    assert!(dance.contains("id_token</b>="), "the ID token, by prefix");
}

#[tokio::test]
async fn a_401_from_the_photo_api_refreshes_once_and_a_refused_refresh_asks_again() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    app.signed_in(&browser, None).await;
    // The grant ends at the AS behind the printer's back: the access token
    // is now refused by the photo API (it introspects every token).
    app.servers.end_alices_grants().await;
    let before = app.servers.token_requests();
    let page = app.page(&browser, "/photos").await;
    assert!(
        page.contains("Please authorize the printer again"),
        "{page}"
    );
    assert_eq!(
        app.servers.token_requests(),
        before + 1,
        "exactly one refresh"
    );
    let steps = app.steps(&browser).await;
    let tail: Vec<(&str, &str, &str)> = steps[steps.len() - 6..]
        .iter()
        .map(|(a, b, _, l)| (a.as_str(), b.as_str(), l.as_str()))
        .collect();
    assert_eq!(
        tail,
        [
            ("browser", "client", "GET /photos"),
            ("client", "resource", "GET /photos"),
            ("resource", "client", "401 Unauthorized"),
            ("client", "authorization_server", "POST /token"),
            ("authorization_server", "client", "400 Bad Request"),
            ("client", "client", "authorization has ended"),
        ]
    );
    let dance = app.page(&browser, "/dance").await;
    assert!(dance.contains("invalid_token"), "the challenge is shown");
    assert!(dance.contains("grant_type</b>=refresh_token"));
    assert!(dance.contains("error</b>=invalid_grant"));
}

/// The flows of the dance view, as (kind, title, open, step count).
async fn flows(app: &App, browser: &Browser) -> Vec<(String, String, bool, usize)> {
    let html = app.page(browser, "/dance/steps").await;
    let doc = Html::parse_fragment(&html);
    let details = Selector::parse("#steps > details.flow").unwrap();
    let title = Selector::parse("summary .flow-title").unwrap();
    let step = Selector::parse("li.step").unwrap();
    doc.select(&details)
        .map(|d| {
            (
                d.value().attr("data-kind").unwrap().to_owned(),
                d.select(&title).next().unwrap().text().collect(),
                d.value().attr("open").is_some(),
                d.select(&step).count(),
            )
        })
        .collect()
}

/// A printer that asks for `openid profile` too (the demo's scopes).
async fn openid_app() -> App {
    app_with(|c| {
        c.scopes = ["openid", "profile", "photos:read"]
            .map(String::from)
            .to_vec();
    })
    .await
}

/// Issue 12 item 5: after "Refresh now" and after "Forget the access
/// token" (which refreshes before the next call), the photo page still
/// greets alice by her name, not by her `sub`.
#[tokio::test]
async fn issue12_item5_the_name_survives_refresh_now_and_forgetting_the_access_token() {
    let app = openid_app().await;
    let browser = Browser::new(&app.servers);
    let photos = app.signed_in(&browser, None).await;
    let greeting = format!("{}, your photos", tessera_test_support::ALICE_NAME);
    assert_eq!(text_of(&photos, "h1"), greeting);

    let r = app
        .post_button(&browser, "/tokens/refresh", Some(&csrf_of(&photos)))
        .await;
    assert_eq!(location(&r), "/photos");
    let photos = app.page(&browser, "/photos").await;
    assert_eq!(text_of(&photos, "h1"), greeting, "after Refresh now");
    assert!(text_of(&photos, "#signed-in-as").contains(tessera_test_support::ALICE_NAME));

    app.post_button(&browser, "/tokens/forget", Some(&csrf_of(&photos)))
        .await;
    let before = app.servers.token_requests();
    let photos = app.page(&browser, "/photos").await;
    assert_eq!(app.servers.token_requests(), before + 1, "it refreshed");
    assert_eq!(text_of(&photos, "h1"), greeting, "after forgetting");
}

/// Issue 12 item 7: after Revoke the token panel says the refresh token is
/// revoked, not held.
#[tokio::test]
async fn issue12_item7_after_revoke_the_panel_says_revoked() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let photos = app.signed_in(&browser, None).await;
    assert_eq!(text_of(&photos, "#refresh-token-state"), "held");
    app.post_button(&browser, "/tokens/revoke", Some(&csrf_of(&photos)))
        .await;
    let home = app.page(&browser, "/").await;
    let refresh = text_of(&home, "#refresh-token-state");
    assert!(refresh.contains("revoked"), "{refresh}");
    assert!(!refresh.contains("held"), "{refresh}");
    assert!(text_of(&home, "#access-token-state").contains("revoked"));
}

/// Issue 12 item 7: "Authorize again" is logged as that button, in a flow
/// of its own, not as "Print my photos".
#[tokio::test]
async fn issue12_item7_authorize_again_is_logged_as_what_the_user_pressed() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let photos = app.signed_in(&browser, None).await;
    app.post_button(&browser, "/tokens/revoke", Some(&csrf_of(&photos)))
        .await;
    let page = app.page(&browser, "/photos").await;
    assert!(page.contains("id=\"authorize-again\""), "{page}");
    // The page's form, sent as a browser sends it when the button is pressed.
    let form = tessera_test_support::Form::parse(&page);
    let r = browser
        .http
        .post(app.url(&form.action))
        .form(&[
            ("csrf", form.get("csrf").unwrap()),
            ("button", "Authorize again"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let dance = app.page(&browser, "/dance/steps").await;
    let doc = Html::parse_fragment(&dance);
    let last = doc
        .select(&Selector::parse("details.flow").unwrap())
        .next_back()
        .unwrap();
    assert_eq!(last.value().attr("data-kind"), Some("authorize_again"));
    let note: String = last
        .select(&Selector::parse(".step-note").unwrap())
        .next()
        .unwrap()
        .text()
        .collect();
    assert_eq!(note, "the user presses “Authorize again”");
    assert!(!dance.contains("the user presses “Print my photos”"));
}

/// Issue 12 item 7: the print page captions each chosen photo with its
/// name from the photo API, never its internal id.
#[tokio::test]
async fn issue12_item7_the_print_page_captions_photos_with_their_names() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let photos = app.signed_in(&browser, None).await;
    let doc = Html::parse_document(&photos);
    let grid: Vec<(String, String)> = doc
        .select(&Selector::parse("#photo-grid li.photo").unwrap())
        .map(|li| {
            let id = li
                .select(&Selector::parse("input[name=photo]").unwrap())
                .next()
                .unwrap()
                .value()
                .attr("value")
                .unwrap()
                .to_owned();
            let name: String = li
                .select(&Selector::parse("span").unwrap())
                .next()
                .unwrap()
                .text()
                .collect();
            (id, name)
        })
        .collect();
    assert!(grid.len() >= 2);
    // The last two, in that order, and one id the API does not have.
    let chosen = [&grid[grid.len() - 1], &grid[grid.len() - 2]];
    let query = format!(
        "/print?photo={}&photo={}&photo=no-such-photo",
        chosen[0].0, chosen[1].0
    );
    let print = app.page(&browser, &query).await;
    let doc = Html::parse_document(&print);
    let captions: Vec<String> = doc
        .select(&Selector::parse("figure.print-sheet figcaption").unwrap())
        .map(|c| c.text().collect())
        .collect();
    assert_eq!(captions, [chosen[0].1.clone(), chosen[1].1.clone()]);
    for (id, _) in &grid {
        assert!(!captions.iter().any(|c| c.contains(id.as_str())), "{id}");
    }
    assert!(text_of(&print, "p.notice").contains("1 of the chosen photos is no longer"));
    let alts: Vec<&str> = doc
        .select(&Selector::parse("figure.print-sheet img").unwrap())
        .map(|i| i.value().attr("alt").unwrap())
        .collect();
    assert_eq!(alts, [chosen[0].1.as_str(), chosen[1].1.as_str()]);
}

/// Issue 12 item 8: a long session is a handful of flows, each a
/// collapsible group: the sign-in (with the photo list it leads to), each
/// refresh, the reloads, the revocation, the refused refresh and the new
/// authorization; only the newest is open.
#[tokio::test]
async fn issue12_item8_the_dance_is_grouped_by_flow() {
    let app = app().await;
    let browser = Browser::new(&app.servers);
    let photos = app.signed_in(&browser, None).await;
    let csrf = csrf_of(&photos);
    app.post_button(&browser, "/tokens/refresh", Some(&csrf))
        .await;
    // The photo list the refresh leads to, then two reloads.
    for _ in 0..3 {
        app.page(&browser, "/photos").await;
    }
    app.post_button(&browser, "/tokens/forget", Some(&csrf))
        .await;
    app.page(&browser, "/photos").await;
    app.post_button(&browser, "/tokens/revoke", Some(&csrf))
        .await;
    app.page(&browser, "/photos").await;
    let r = browser
        .http
        .post(app.url("/start"))
        .form(&[("csrf", csrf.as_str()), ("button", "Authorize again")])
        .send()
        .await
        .unwrap();
    let url = url::Url::parse(&location(&r)).unwrap();
    let query = browser.authorize_as_alice(&url, "approve").await;
    assert_eq!(location(&app.callback(&browser, &query).await), "/photos");
    app.page(&browser, "/photos").await;

    let flows = flows(&app, &browser).await;
    let kinds: Vec<&str> = flows.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "sign_in",
            "refresh",
            "photos",
            "forget",
            "refresh",
            "revoke",
            "ended",
            "authorize_again",
        ]
    );
    let titles: Vec<&str> = flows.iter().map(|f| f.1.as_str()).collect();
    assert_eq!(titles[1], "Refresh (“Refresh now”)");
    assert_eq!(titles[4], "Refresh (the access token was forgotten)");
    assert_eq!(titles[6], "Refresh refused: the authorization has ended");
    let open: Vec<bool> = flows.iter().map(|f| f.2).collect();
    assert_eq!(
        open,
        [false, false, false, false, false, false, false, true]
    );
    // The sign-in holds its photo list, reloads share one flow; every step
    // is in exactly one flow.
    assert_eq!(flows[0].3, 14);
    assert_eq!(flows[2].3, 8, "two reloads of four steps");
    let total: usize = flows.iter().map(|f| f.3).sum();
    assert_eq!(total, app.steps(&browser).await.len());
}

/// Issue 12 item 3: when the token response cannot be used (here the ID
/// token is already expired by the printer's clock, a day ahead of the
/// AS's), the printer does not claim the code exchange failed: it says
/// tokens were issued and that it revoked them, and the grant no longer
/// stands at the AS.
#[tokio::test]
async fn tokens_the_printer_cannot_use_are_revoked_and_reported_as_such() {
    let app = app_with(|c| {
        c.scopes = ["openid", "photos:read"].map(String::from).to_vec();
    })
    .await;
    app.ahead.store(24 * 3600, Ordering::SeqCst);
    let browser = Browser::new(&app.servers);
    let query = app.authorize(&browser, None).await;
    let (status, page) = app.callback_outcome(&browser, &query).await;
    assert_eq!(status, 502);
    let message = text_of(&page, "#message");
    assert!(!message.contains("could not trade"), "{message}");
    assert!(message.contains("issued tokens"), "{message}");
    assert!(message.contains("expired"), "{message}");
    assert!(message.contains("revoked them"), "{message}");
    let grants = app.servers.grants().await;
    assert_eq!(grants.len(), 1);
    assert!(grants[0].revoked_at.is_some(), "nothing stays granted");
    let labels: Vec<String> = app.steps(&browser).await.into_iter().map(|s| s.3).collect();
    assert!(
        labels.iter().any(|l| l == "POST /revoke"),
        "the dance shows the revocation: {labels:?}"
    );
}

/// Issue 12 item 9: an unknown address is a page in the printer's style,
/// not an empty body.
#[tokio::test]
async fn an_unknown_address_is_a_styled_not_found_page() {
    let app = app().await;
    let r = reqwest::get(app.url("/no-such-page")).await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.headers().contains_key("content-security-policy"));
    let page = r.text().await.unwrap();
    assert_eq!(text_of(&page, "h1"), "Page not found");
    assert!(page.contains(r#"href="/static/printer.css""#), "{page}");
    assert!(
        page.contains(r#"<a href="/">Back to the start</a>"#),
        "{page}"
    );
}

/// Issue 13, "no connection timeouts": the printer takes connections
/// through tessera-serve with its configured header-read timeout, so a
/// slow-header client is cut off (and others are still served).
#[tokio::test]
async fn issue13_the_printer_cuts_off_slow_headers() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = app_with(|c| c.header_read_timeout_secs = Some(1)).await;
    let mut slow = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed: {read:?}");
    assert_eq!(reqwest::get(app.url("/")).await.unwrap().status(), 200);
}
