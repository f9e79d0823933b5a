//! What a person sees at the authorization server (issue 12): the page at
//! the issuer's own address (item 9), and the consent page, which says in
//! words what each scope allows, whose page it is and where the browser goes
//! next (item 10), and which does not offer `openid` as a choice (item 3).

use scraper::{Html, Selector};

use crate::harness::*;

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

fn text(e: &scraper::ElementRef<'_>) -> String {
    e.text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Issue 12 item 9: the issuer's address was a "Not found" page. It is a
/// page about the server, with links that work.
#[tokio::test]
async fn issue12_item9_the_issuer_address_says_what_the_server_is() {
    let app = TestApp::spawn().await;
    let r = app.http().get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.contains_key("content-security-policy"));
    let body = r.text().await.unwrap();
    let doc = Html::parse_document(&body);
    let port = app.addr.port();
    assert_eq!(
        text(&select(&doc, "h1")[0]),
        format!("Tessera at 127.0.0.1:{port}"),
        "the default display name"
    );
    assert_eq!(text(&select(&doc, "dl.facts code")[0]), app.issuer());
    assert!(!body.contains("Not found"));
    let links: Vec<String> = select(&doc, "dl.facts a")
        .iter()
        .map(|a| a.value().attr("href").unwrap().to_owned())
        .collect();
    assert_eq!(
        links,
        [
            app.url("/.well-known/openid-configuration"),
            app.url("/.well-known/oauth-authorization-server"),
            app.url("/jwks.json"),
        ]
    );
    for link in &links {
        let r = app.http().get(link).send().await.unwrap();
        assert_eq!(r.status(), 200, "{link}");
        r.json::<serde_json::Value>().await.expect(link);
    }
    insta::assert_snapshot!("home_page", body.replace(&port.to_string(), "[port]"));
}

/// With an issuer that has a path, the page lives at that path and its
/// metadata link is the path-inserted well-known URI (RFC 8414 §3.1).
#[tokio::test]
async fn issue12_item9_the_home_page_of_an_issuer_with_a_path() {
    let app = TestApp::builder().path("/tenant").spawn().await;
    let r = app.http().get(app.url("/tenant")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc = Html::parse_document(&r.text().await.unwrap());
    let href = |css: &str| {
        select(&doc, css)[0]
            .value()
            .attr("href")
            .unwrap()
            .to_owned()
    };
    assert_eq!(href("link[rel=stylesheet]"), "/tenant/static/tessera.css");
    let metadata = app.url("/.well-known/oauth-authorization-server/tenant");
    assert_eq!(href("dl.facts dd:nth-of-type(3) a"), metadata);
    let r = app.http().get(&metadata).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .http()
        .get(app.url("/tenant/static/tessera.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The consent page of `request` as alice.
async fn consent_page(browser: &Browser, request: &AuthRequest) -> String {
    let r = browser.authorize(request).await;
    let r = browser.login(&location(&r), ALICE, ALICE_PASSWORD).await;
    assert_eq!(r.status(), 303);
    let consent = location(&r);
    assert!(consent.starts_with("/consent?"), "{consent}");
    let r = browser.get(&consent).await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn oidc_request() -> AuthRequest {
    AuthRequest::new("c1")
        .scope("openid profile a b")
        .set("nonce", "n-0S6_WzA2Mj")
}

/// Issue 12 item 10: scopes are described in words (configured ones, and
/// built-in words for the OpenID Connect scopes), and the page says it is
/// the authorization server's (its display name), which client asks, and
/// which host the browser goes back to. Item 3: `openid` is a fixed line,
/// never a checkbox.
#[tokio::test]
async fn issue12_item10_consent_describes_each_scope_and_names_both_sides() {
    let app = TestApp::builder()
        .configure(|c| {
            let p = &mut c.presentation;
            p.set_display_name("Example Accounts").unwrap();
            p.describe("a", "Read your albums").unwrap();
        })
        .spawn()
        .await;
    let browser = app.browser();
    let body = consent_page(&browser, &oidc_request()).await;
    let doc = Html::parse_document(&body);

    assert_eq!(text(&select(&doc, "header.site")[0]), "Example Accounts");
    assert!(text(&select(&doc, "title")[0]).ends_with("· Example Accounts"));
    let lead = text(&select(&doc, "p.lead")[0]);
    assert!(
        lead.contains("Client c1") && lead.contains("Example Accounts"),
        "{lead}"
    );
    let back = select(&doc, "form p.note")
        .iter()
        .map(text)
        .find(|t| t.contains("sent back"))
        .unwrap();
    assert_eq!(back, "Either way, you will be sent back to client.example.");

    // openid: a fixed, explained line; no checkbox.
    assert!(select(&doc, "input[value=openid]").is_empty(), "{body}");
    let fixed: Vec<String> = select(&doc, "#fixed-scopes li").iter().map(text).collect();
    assert_eq!(
        fixed,
        [
            "Sign you in with your account here, and learn an identifier for you that stays the same openid"
        ]
    );
    assert!(text(&select(&doc, "#fixed-scopes")[0]).contains("to refuse it, press Deny"));

    // The choices: each checkbox inside its label, with its words.
    let labels: Vec<String> = select(&doc, "fieldset label.scope")
        .iter()
        .map(text)
        .collect();
    assert_eq!(
        labels,
        [
            "Read your albums a",
            "b",
            "See your name and basic profile profile",
        ]
    );
    for label in select(&doc, "fieldset label.scope") {
        let boxes: Vec<_> = label
            .select(&Selector::parse("input[type=checkbox][name=scope]").unwrap())
            .collect();
        assert_eq!(boxes.len(), 1, "one checkbox per label");
    }
    let form = Form::parse(&body);
    insta::assert_snapshot!(
        "consent_page",
        body.replace(form.get("csrf_token").unwrap(), "[csrf_token]")
            .replace(form.get("request").unwrap(), "[request_id]")
    );
}

/// Issue 12 item 3: a form that leaves `openid` out (the page never offers
/// it) while granting other scopes still grants it, so the client gets its
/// ID token; approving with every choice unchecked is signing in only.
#[tokio::test]
async fn issue12_item3_openid_stays_granted_whatever_the_form_leaves_out() {
    let app = TestApp::spawn().await;
    for (kept, expected) in [(&["a"][..], "a openid"), (&[][..], "openid")] {
        let browser = app.browser();
        let request = oidc_request();
        let body = consent_page(&browser, &request).await;
        let mut form = Form::parse(&body);
        // Also as a crafted form would send it: no `scope=openid` at all.
        form.fields
            .retain(|(k, v)| k != "scope" || (kept.contains(&v.as_str()) && v != "openid"));
        let r = browser.submit(&form, Some(("decision", "approve"))).await;
        assert_eq!(r.status(), 303);
        let flow = request.into_flow(&location(&r));
        let tokens = expect_token_response(app.redeem(&flow).await).await;
        assert_eq!(tokens["scope"], expected, "{kept:?}");
        assert!(tokens["id_token"].is_string(), "{kept:?}: {tokens}");
    }
}
