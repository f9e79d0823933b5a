//! Issue 13, the front door under attack: "a login flood exhausts memory"
//! (Argon2 verification bounded by the hashing slots, a short queue, then a
//! fast 503 with `Retry-After`) and "unlimited password guessing" (failed
//! logins throttled per account and per source address with growing
//! delays, a lockout a correct password does not bypass, the same answers
//! for known and unknown usernames). Time is the harness's manual clock:
//! the tests move it past each delay instead of waiting. Argon2 work is
//! counted by the server's own gauge (`PasswordSlots::stats`), not timed.

use std::net::IpAddr;
use std::sync::Arc;

use scraper::{Html, Selector};
use tessera_authorization_server::password_slots::HashingPolicy;
use tokio::sync::Barrier;

use crate::harness::*;

/// What one login attempt got back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Attempt {
    status: u16,
    retry_after: Option<i64>,
    /// The page's error line.
    message: Option<String>,
    /// Argon2 verifications the attempt cost.
    hashes: u64,
}

/// The login page of a fresh authorization request from `c1`.
async fn login_page(browser: &Browser) -> String {
    let r = browser.authorize(&AuthRequest::new("c1")).await;
    let url = location(&r);
    assert!(url.starts_with("/login?request="), "{url}");
    url
}

fn error_line(html: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse("p.error").unwrap();
    doc.select(&sel)
        .next()
        .map(|p| p.text().collect::<String>().trim().to_owned())
}

fn retry_after(r: &reqwest::Response) -> Option<i64> {
    r.headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

fn hashes(app: &TestApp) -> u64 {
    app.state.password_slots.stats().verifications
}

/// Signs in on the login page at `url` as `username` with `password`; the
/// answer, and the page for a refused attempt (which must still be the
/// login form, so the user can try again).
async fn attempt_page(
    app: &TestApp,
    browser: &Browser,
    url: &str,
    username: &str,
    password: &str,
) -> (Attempt, String) {
    let before = hashes(app);
    let r = browser.login(url, username, password).await;
    let status = r.status().as_u16();
    let retry_after = retry_after(&r);
    let body = r.text().await.unwrap();
    if status != 303 {
        assert!(
            body.contains("<form") && body.contains("name=\"password\""),
            "{status}: the login form again"
        );
        assert!(
            !body.contains(password),
            "{status}: the password is not echoed"
        );
    }
    let attempt = Attempt {
        status,
        retry_after,
        message: error_line(&body),
        hashes: hashes(app) - before,
    };
    (attempt, body)
}

async fn attempt(
    app: &TestApp,
    browser: &Browser,
    url: &str,
    username: &str,
    password: &str,
) -> Attempt {
    attempt_page(app, browser, url, username, password).await.0
}

fn throttled(secs: i64) -> Attempt {
    Attempt {
        status: 429,
        retry_after: Some(secs),
        message: Some(format!(
            "Too many failed sign-in attempts. Try again in {secs} s."
        )),
        hashes: 0,
    }
}

fn failed() -> Attempt {
    Attempt {
        status: 401,
        retry_after: None,
        message: Some("Incorrect username or password.".into()),
        hashes: 1,
    }
}

/// Wrong passwords for `username` until the account is locked, moving the
/// clock past each delay so that every guess is checked (ten by default).
async fn guess_until_locked(app: &TestApp, browser: &Browser, url: &str, username: &str) {
    for i in 0.. {
        let a = attempt(app, browser, url, username, &format!("guess-{i}")).await;
        match a.retry_after {
            Some(900) => return,
            Some(secs) => app.clock.advance(secs),
            None => assert_eq!(a, failed()),
        }
        assert!(i < 20, "locked after ten failures");
    }
}

/// Sends every form at once (a barrier releases them together); the
/// answers in the forms' order.
async fn flood(forms: &[(Browser, Form)]) -> Vec<(u16, Option<i64>, String)> {
    let barrier = Arc::new(Barrier::new(forms.len()));
    let mut tasks = Vec::new();
    for (browser, form) in forms {
        let (http, url, fields) = (
            browser.http.clone(),
            format!("{}{}", browser.base, form.action),
            form.fields.clone(),
        );
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let r = http.post(url).form(&fields).send().await.unwrap();
            let retry = retry_after(&r);
            (r.status().as_u16(), retry, r.text().await.unwrap())
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

/// Issue 13, "a login flood exhausts memory": with one hashing slot and a
/// queue of two, at most three logins are admitted; the overflow gets a fast
/// 503 with `Retry-After` and a readable "busy" page, costs no Argon2 work
/// and counts as no failed login; no more than one Argon2 computation ever
/// runs at once; the reused memory is given back once the flood is over;
/// and the server then answers a correct login normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue13_login_flood_is_bounded_by_the_hashing_slots() {
    const FLOOD: usize = 64;
    let app = TestApp::builder()
        .configure(|c| {
            c.password_hashing = HashingPolicy {
                slots: 1,
                queue: 2,
                busy_retry_after_secs: 2,
            };
            // Every flood login tries another (unknown) username from the
            // same address: the per-address throttle has its own test.
            c.login_throttle.address_free_failures = 1000;
            // Likewise the flood's sign-in starts: the anonymous budget has
            // its own test (budgets.rs).
            c.budgets.anonymous_authorizations_per_address = None;
        })
        .spawn()
        .await;
    let mut forms = Vec::new();
    for i in 0..FLOOD {
        let browser = app.browser();
        let url = login_page(&browser).await;
        let mut form = browser.form_at(&url).await;
        form.set("username", &format!("flood-{i}"))
            .set("password", "wrong-password-1");
        forms.push((browser, form));
    }

    // Every slot and queue place taken (held by the test): the whole flood
    // is refused at once, without any password work.
    let slots = &app.state.password_slots;
    let held: Vec<_> = (0..3).map(|_| slots.admit().unwrap()).collect();
    assert!(slots.admit().is_err(), "one slot and two queue places");
    for (status, retry, body) in flood(&forms).await {
        assert_eq!((status, retry), (503, Some(2)));
        assert_eq!(
            error_line(&body).as_deref(),
            Some("The server is busy. Try again in 2 s.")
        );
        assert!(body.contains("<form"), "the login form, to try again");
    }
    assert_eq!(slots.stats().verifications, 0);
    assert!(!app.security_events().await.contains(&"login_failed".into()));
    drop(held);

    // The same flood against free slots: never more than one Argon2
    // computation at once, one per 401, the rest refused as busy.
    let answers = flood(&forms).await;
    let stats = slots.stats();
    let refused: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    let checked = answers.iter().filter(|a| a.0 == 401).count();
    assert_eq!(refused.len() + checked, FLOOD, "{answers:?}");
    assert!(refused.iter().all(|a| a.1 == Some(2)));
    assert_eq!(stats.peak_running, 1, "{stats:?}");
    assert_eq!(stats.verifications, checked as u64);
    println!(
        "flood of {FLOOD}: {checked} checked, {} refused as busy",
        refused.len()
    );
    assert_eq!(
        (stats.running, stats.admitted, stats.kept_buffers),
        (0, 0, 0),
        "idle again, the Argon2 memory given back"
    );

    let browser = app.browser();
    let url = login_page(&browser).await;
    let r = browser.login(&url, ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303, "a correct login after the flood");
}

/// Issue 13, "unlimited password guessing" (40 wrong passwords in about a
/// second, all 401, then the right one signed in): per account, five
/// failures are free, then each failure blocks the account for a delay that
/// doubles (1, 2, 4, 8 s), and the tenth locks it for 15 minutes. A blocked
/// attempt is a 429 with `Retry-After` and costs no Argon2 work. Failed
/// logins, delays and the lockout are security events, never with the
/// password; another account from the same address is not held up.
#[tokio::test]
async fn issue13_password_guessing_is_throttled_per_account() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let url = login_page(&browser).await;

    // The finding: 40 guesses in a row, the clock standing still.
    let mut answers = Vec::new();
    for i in 0..40 {
        answers.push(attempt(&app, &browser, &url, ALICE, &format!("guess-{i}")).await);
    }
    assert!(answers[..6].iter().all(|a| *a == failed()), "{answers:?}");
    assert!(
        answers[6..].iter().all(|a| *a == throttled(1)),
        "{answers:?}"
    );
    let right = attempt(&app, &browser, &url, ALICE, ALICE_PASSWORD).await;
    assert_eq!(right, throttled(1), "not signed in");

    // Each further failure doubles the wait; the tenth locks the account.
    for (wait, next) in [(1, 2), (2, 4), (4, 8), (8, 900)] {
        app.clock.advance(wait);
        let a = attempt(&app, &browser, &url, ALICE, "another-guess").await;
        assert_eq!(a, failed());
        let a = attempt(&app, &browser, &url, ALICE, "another-guess").await;
        assert_eq!(a, throttled(next));
    }

    // Bob, from the same address, signs in as usual.
    let bob = app.browser();
    let bob_url = login_page(&bob).await;
    let r = bob.login(&bob_url, BOB, BOB_PASSWORD).await;
    assert_eq!(r.status(), 303);

    let events = app.store.security_events(100).await.unwrap();
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count("login_failed"), 10);
    assert_eq!(count("login_throttled"), 4, "after failures 6 to 9");
    assert_eq!(count("account_locked"), 1);
    let alice = app.store.user_by_username(ALICE).await.unwrap().unwrap();
    for e in &events {
        assert!(!e.detail.contains("guess"), "no password: {}", e.detail);
        if e.kind == "login_failed" {
            assert_eq!(e.user_id.as_deref(), Some(alice.user_id.as_str()));
            assert_eq!(e.client_id.as_deref(), Some("c1"));
            assert!(e.detail.contains("127.0.0.1"), "{}", e.detail);
        }
    }
}

/// Issue 13, "unlimited password guessing", per source address (password
/// spraying: one guess at each of many accounts): twenty failures from one
/// address are free, then each blocks the address for a doubling delay,
/// whatever account it tries next, even with the right password; another
/// address is not held up. A successful login does not clear the address's
/// count (it clears only the account's).
#[tokio::test]
async fn issue13_password_guessing_is_throttled_per_source_address() {
    let app = TestApp::spawn().await;
    let here: IpAddr = [127, 0, 0, 1].into();
    let elsewhere: IpAddr = [127, 0, 0, 2].into();
    let browser = app.browser_from(here);
    let url = login_page(&browser).await;
    for i in 0..21 {
        let a = attempt(&app, &browser, &url, &format!("user-{i}"), "Summer2026!").await;
        assert_eq!(a, failed(), "guess {i}");
    }
    let a = attempt(&app, &browser, &url, "user-21", "Summer2026!").await;
    assert_eq!(a, throttled(1));
    let a = attempt(&app, &browser, &url, ALICE, ALICE_PASSWORD).await;
    assert_eq!(a, throttled(1), "the right password too, from this address");

    let other = app.browser_from(elsewhere);
    let other_url = login_page(&other).await;
    let r = other.login(&other_url, ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303, "another address is not held up");

    app.clock.advance(1);
    let r = browser.login(&url, ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303, "the delay has passed");
    let again = app.browser_from(here);
    let url = login_page(&again).await;
    let a = attempt(&app, &again, &url, "user-22", "Summer2026!").await;
    assert_eq!(a, failed());
    let a = attempt(&app, &again, &url, "user-23", "Summer2026!").await;
    assert_eq!(a, throttled(2), "the address's count went on growing");
}

/// Issue 13: a lockout that a correct password does not bypass until it
/// passes. While the account is locked the right password is refused like
/// any other, without being checked; one more wrong guess after the lockout
/// locks it again; once a lockout has passed the right password signs in
/// and clears the count.
#[tokio::test]
async fn issue13_a_correct_password_does_not_bypass_the_lockout() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let url = login_page(&browser).await;
    guess_until_locked(&app, &browser, &url, ALICE).await;

    assert_eq!(
        attempt(&app, &browser, &url, ALICE, ALICE_PASSWORD).await,
        throttled(900),
        "the right password is not even checked"
    );
    // (Each step after a long wait starts from a fresh login page: a
    // parked authorization request lasts ten minutes.)
    app.clock.advance(899);
    let url = login_page(&browser).await;
    assert_eq!(
        attempt(&app, &browser, &url, ALICE, ALICE_PASSWORD).await,
        throttled(1)
    );
    app.clock.advance(1);
    assert_eq!(
        attempt(&app, &browser, &url, ALICE, "one-more-guess").await,
        failed()
    );
    assert_eq!(
        attempt(&app, &browser, &url, ALICE, ALICE_PASSWORD).await,
        throttled(900),
        "a guess after the lockout locks the account again"
    );
    let locks = app.security_events().await;
    assert_eq!(locks.iter().filter(|k| *k == "account_locked").count(), 2);

    app.clock.advance(900);
    let url = login_page(&browser).await;
    let r = browser.login(&url, ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303, "signed in once the lockout has passed");
    let fresh = app.browser();
    let url = login_page(&fresh).await;
    assert_eq!(
        attempt(&app, &fresh, &url, ALICE, "a-typo").await,
        failed(),
        "the count starts again after a successful login"
    );
}

/// Issue 13: no user enumeration through the throttle. An unknown username
/// is counted, delayed and locked exactly as a known one: attempt by
/// attempt the same status, `Retry-After`, page and Argon2 work (one
/// verification against a dummy hash, or none while blocked).
#[tokio::test]
async fn issue13_unknown_and_known_users_are_throttled_alike() {
    // Both accounts are tried from one address: only the account rule here.
    let app = TestApp::builder()
        .configure(|c| c.login_throttle.address_free_failures = 1000)
        .spawn()
        .await;
    let users = [ALICE, "nobody-by-this-name"];
    let browsers = [app.browser(), app.browser()];
    let mut urls = Vec::new();
    for b in &browsers {
        urls.push(login_page(b).await);
    }
    let mut seen: [Vec<(Attempt, String)>; 2] = Default::default();
    for _ in 0..16 {
        for i in 0..2 {
            let (a, body) =
                attempt_page(&app, &browsers[i], &urls[i], users[i], "wrong-password-1").await;
            // The page, but for what differs by design: the username typed
            // and the browser's own CSRF token and request id.
            let form = Form::parse(&body);
            let mut page = body.replace(users[i], "[user]");
            for field in ["csrf_token", "request"] {
                page = page.replace(form.get(field).unwrap(), &format!("[{field}]"));
            }
            seen[i].push((a, page));
        }
        if let Some(secs) = seen[0].last().unwrap().0.retry_after {
            app.clock.advance(secs.min(450));
        }
    }
    assert_eq!(seen[0], seen[1]);
    let statuses: Vec<_> = seen[0]
        .iter()
        .map(|(a, _)| (a.status, a.retry_after))
        .collect();
    assert!(statuses.contains(&(401, None)), "{statuses:?}");
    assert!(statuses.contains(&(429, Some(4))), "{statuses:?}");
    assert!(statuses.contains(&(429, Some(900))), "{statuses:?}");
}
