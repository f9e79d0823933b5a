//! Issue 13 item 4: every security-relevant event is written to the
//! append-only audit table with its time, subject (user, client, grant),
//! source address and outcome, never a secret; retention is enforced by
//! housekeeping.

use tessera_authorization_server::housekeeping;
use tessera_authorization_server::trusted_proxies::TrustedProxies;
use tessera_runtime::Clock as _;
use tessera_store::{EventQuery, SecurityEvent};

use crate::harness::*;

async fn events(app: &TestApp) -> Vec<SecurityEvent> {
    let mut all = app
        .store
        .search_security_events(&EventQuery {
            limit: 1000,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    all.reverse();
    all
}

fn find<'a>(events: &'a [SecurityEvent], kind: &str) -> Vec<&'a SecurityEvent> {
    events.iter().filter(|e| e.kind == kind).collect()
}

#[tokio::test]
async fn issue13_item4_a_code_flow_leaves_its_trail() {
    let app = TestApp::spawn().await;
    let alice = app.store.user_by_username(ALICE).await.unwrap().unwrap();

    // A wrong password, then the flow: login, consent, code, tokens,
    // revocation.
    let browser = app.browser();
    let r = browser.authorize(&AuthRequest::new("c1")).await;
    let login = location(&r);
    assert_eq!(
        browser
            .login(&login, ALICE, "not-her-password")
            .await
            .status(),
        401
    );
    let request = AuthRequest::new("c1");
    let back = browser
        .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
        .await;
    let flow = request.into_flow(&back);
    let tokens = expect_tokens(app.redeem(&flow).await).await;
    let rt = refresh_token(&tokens);
    assert_eq!(app.revoke(&rt, None, auth_of("c1")).await.status(), 200);
    // A denial.
    let denied = browser
        .through_login_and_consent(
            &format!("/authorize?{}", AuthRequest::new("c2").query()),
            ALICE,
            ALICE_PASSWORD,
            "deny",
            None,
        )
        .await;
    assert!(denied.contains("error=access_denied"), "{denied}");

    let all = events(&app).await;
    let expect = [
        ("login_failed", "failure"),
        ("login_succeeded", "success"),
        ("consent_given", "success"),
        ("code_issued", "success"),
        ("code_redeemed", "success"),
        ("token_revoked", "success"),
        ("consent_refused", "failure"),
    ];
    let flow_events: Vec<(&str, &str)> = all
        .iter()
        .filter(|e| expect.iter().any(|(k, _)| *k == e.kind))
        .map(|e| (e.kind.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(flow_events, expect, "in order, with their outcomes");
    let grant = &find(&all, "code_issued")[0].grant_id;
    for (kind, _) in expect {
        for e in find(&all, kind) {
            assert_eq!(e.source.as_deref(), Some("127.0.0.1"), "{kind}");
            assert_eq!(e.user_id.as_deref(), Some(alice.user_id.as_str()), "{kind}");
            assert!(e.at >= T0, "{kind}");
            for secret in [
                ALICE_PASSWORD,
                "not-her-password",
                rt.as_str(),
                flow.code.as_str(),
                C1_SECRET,
            ] {
                assert!(
                    !e.detail.contains(secret),
                    "{kind}: a secret in {}",
                    e.detail
                );
            }
        }
    }
    assert_eq!(
        find(&all, "consent_refused")[0].client_id.as_deref(),
        Some("c2")
    );
    assert_eq!(&find(&all, "code_redeemed")[0].grant_id, grant);
    assert_eq!(&find(&all, "token_revoked")[0].grant_id, grant);
    // Management changes (the fixture's registrations) are there too.
    let registered = find(&all, "client_registered");
    assert!(
        registered
            .iter()
            .any(|e| e.client_id.as_deref() == Some("c1"))
    );
    assert!(
        registered
            .iter()
            .all(|e| e.source.as_deref() == Some("command line"))
    );
}

#[tokio::test]
async fn issue13_item4_behind_a_trusted_proxy_the_trail_names_the_client() {
    let app = TestApp::builder()
        .configure(|c| c.trusted_proxies = TrustedProxies::parse(&["127.0.0.0/8"]).unwrap())
        .spawn()
        .await;
    let r = app
        .http()
        .post(app.url("/token"))
        .header(
            "authorization",
            basic_header("svc", "wrong-secret-0123456789-0123456789"),
        )
        .header("x-forwarded-for", "203.0.113.77")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let all = events(&app).await;
    let failed = find(&all, "client_authentication_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].source.as_deref(), Some("203.0.113.77"));
    assert_eq!(failed[0].outcome, "failure");
}

#[tokio::test]
async fn issue13_item4_housekeeping_enforces_the_retention() {
    let app = TestApp::builder()
        .configure(|c| c.audit_retention_secs = Some(1000))
        .spawn()
        .await;
    let before = events(&app).await.len();
    assert!(before > 0, "the fixture's registrations");
    app.clock.advance(500);
    assert_eq!(
        app.revoke("unknown", None, auth_of("c1")).await.status(),
        200
    );
    let r = app.client_credentials("svc", &[]).await;
    assert_eq!(r.status(), 200);
    app.browser().authorize(&AuthRequest::new("c1")).await;
    let r = app
        .token_with(
            &[("grant_type", "refresh_token"), ("refresh_token", "bogus")],
            auth_of("c1"),
        )
        .await;
    assert_eq!(r.status(), 400);
    // A fresh event at T0 + 500, through a management change.
    app.admin
        .remove_client("c2", app.clock.now())
        .await
        .unwrap();
    housekeeping::run_once(&app.state).await;
    assert_eq!(events(&app).await.len(), before + 1, "nothing is old yet");

    app.clock.advance(600); // the fixture's events are 1100 s old now
    housekeeping::run_once(&app.state).await;
    let left = events(&app).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].kind, "client_removed");
}
