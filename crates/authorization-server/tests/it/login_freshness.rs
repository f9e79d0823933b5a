//! The one `max_age` / `prompt=login` rule
//! (`AuthorizationRequest::accepts_login`) at its edges, over HTTP: the same
//! answer at `/authorize`, the consent page and the consent form.

use crate::harness::*;

/// OIDC Core errata: `max_age=0` is `prompt=login`. The login the browser
/// already had, even from the same second, does not count at any step; the
/// login made for the request does, even in that same second.
#[tokio::test]
async fn oidc_prompt_login_and_max_age_0_same_second_login_neither_skipped_nor_looping() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let first = browser
        .authorize_through_consent(&AuthRequest::new("c1"), ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(first.starts_with(C1_REDIRECT));

    // The clock does not move: every step below happens in the second of
    // the first login.
    for (name, value) in [("prompt", "login"), ("max_age", "0")] {
        let r = browser
            .authorize(&AuthRequest::new("c1").set(name, value))
            .await;
        let login = location(&r);
        assert!(login.starts_with("/login?request="), "{name}: {login}");
        let consent_url = login.replacen("/login", "/consent", 1);

        // The consent page and form send the browser back to the login.
        let r = browser.get(&consent_url).await;
        assert_eq!(location(&r), login, "{name}: consent page");
        let mut form = browser.form_at(&login).await;
        form.remove("username").remove("password");
        form.action = "/consent".into();
        form.fields.push(("scope".into(), "a".into()));
        let r = browser.submit(&form, Some(("decision", "approve"))).await;
        assert_eq!(location(&r), login, "{name}: consent form");

        // Signing in on that page, in the same second, completes it
        // (consent for c1's default scope is remembered).
        let r = browser.login(&login, ALICE, ALICE_PASSWORD).await;
        let next = location(&r);
        assert!(next.starts_with(C1_REDIRECT), "{name}: {next}");
    }
}

/// OIDC Core §3.1.2.1: re-authenticate only when the last login is *more*
/// than `max_age` seconds old; a login exactly `max_age` old counts, at
/// `/authorize` and with `prompt=none` alike.
#[tokio::test]
async fn oidc_max_age_a_login_exactly_max_age_old_counts_everywhere() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let first = browser
        .authorize_through_consent(&AuthRequest::new("c1"), ALICE, ALICE_PASSWORD, None)
        .await;
    assert!(first.starts_with(C1_REDIRECT));
    app.clock.advance(30);
    for extra in [None, Some("none")] {
        let mut at_edge = AuthRequest::new("c1").set("max_age", "30");
        let mut past_edge = AuthRequest::new("c1").set("max_age", "29");
        if let Some(prompt) = extra {
            at_edge = at_edge.set("prompt", prompt);
            past_edge = past_edge.set("prompt", prompt);
        }
        let r = browser.authorize(&at_edge).await;
        assert!(
            location(&r).starts_with(C1_REDIRECT),
            "{extra:?}: {}",
            location(&r)
        );
        assert!(param(&location(&r), "code").is_some(), "{extra:?}");
        let r = browser.authorize(&past_edge).await;
        match extra {
            None => assert!(location(&r).starts_with("/login?"), "{}", location(&r)),
            Some(_) => assert_eq!(
                param(&location(&r), "error").as_deref(),
                Some("login_required")
            ),
        }
    }
}
