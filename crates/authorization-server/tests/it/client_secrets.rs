//! Client secrets as real clients send them (issue 12 item 2): RFC 6749
//! §2.3.1 form-encodes Basic credentials, but Authlib, requests-oauthlib and
//! `curl -u` send the secret as is, so a secret with `+` or `%` is accepted
//! both ways; and a failed client authentication leaves a log line and a
//! security event, never the secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::harness::*;

/// The shape of `openssl rand -base64 32` plus a `%`: every character that
/// form-encoding changes or that clients encode.
const ODD_SECRET: &str = "q+Vz/8k=Hn%41p+0Tq4mW7xYb2Jr+Lc9dE5fG/h1=";

/// A client-credentials client whose secret needs encoding.
async fn register_odd(app: &TestApp, id: &str) {
    let mut spec = client(id, Some(ODD_SECRET), &[], &["a"]);
    spec.grant_types = vec!["client_credentials".into()];
    app.register(spec).await;
}

/// `Authorization: Basic base64(id ":" secret)` with nothing encoded.
fn raw_basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

async fn client_credentials_with_header(app: &TestApp, header: &str) -> reqwest::Response {
    app.http()
        .post(app.url(&format!("{}/token", app.base_path())))
        .header("authorization", header)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request")
}

#[tokio::test]
async fn issue12_item2_a_secret_with_plus_is_accepted_encoded_unencoded_and_posted() {
    let app = TestApp::spawn().await;
    register_odd(&app, "odd").await;
    // As RFC 6749 §2.3.1 says.
    let body = expect_token_response(
        app.token_with(
            &[("grant_type", "client_credentials")],
            ClientAuth::Basic("odd", ODD_SECRET),
        )
        .await,
    )
    .await;
    assert_eq!(body["scope"], "a", "{body}");
    // As Authlib, requests-oauthlib and curl -u send it.
    let r = client_credentials_with_header(&app, &raw_basic("odd", ODD_SECRET)).await;
    expect_token_response(r).await;
    // In the body (form-encoded by the form itself).
    expect_token_response(
        app.token_with(
            &[("grant_type", "client_credentials")],
            ClientAuth::Post("odd", ODD_SECRET),
        )
        .await,
    )
    .await;
}

/// Accepting both readings admits nothing else: the value with `+` read
/// as spaces, or a near miss, is still refused either way.
#[tokio::test]
async fn issue12_item2_only_the_secret_itself_is_accepted() {
    let app = TestApp::spawn().await;
    register_odd(&app, "odd").await;
    let spaces = ODD_SECRET.replace('+', " ");
    let percent_decoded = ODD_SECRET.replace("%41", "A");
    let near_miss = format!("{ODD_SECRET}x");
    for wrong in [&spaces, &percent_decoded, &near_miss] {
        for header in [raw_basic("odd", wrong), basic_header("odd", wrong)] {
            let r = client_credentials_with_header(&app, &header).await;
            expect_oauth_error(r, 401, "invalid_client", &[ODD_SECRET, wrong]).await;
        }
    }
}

/// A failed client authentication says who and why in the log (never the
/// secret) and leaves a security event, for each reason; a made-up client
/// id is a log line only (an event per made-up id would let anyone write
/// rows without limit).
#[tokio::test]
async fn issue12_item2_failed_client_authentication_is_logged_and_recorded() {
    let app = TestApp::spawn().await;
    register_odd(&app, "odd-logged").await;
    let wrong = "wrong-secret-for-odd-logged-0123456789";
    let cases = [
        (
            ClientAuth::Basic("odd-logged", wrong),
            "odd-logged",
            "the client secret does not match",
            1,
        ),
        (
            ClientAuth::Post("nobody-by-this-name", wrong),
            "nobody-by-this-name",
            "no client has this client_id",
            0,
        ),
        (
            ClientAuth::Public("odd-logged"),
            "odd-logged",
            "no secret was sent for a confidential client",
            1,
        ),
        (
            ClientAuth::Basic("p1", wrong),
            "p1",
            "a secret was sent for a public client, which has none",
            1,
        ),
    ];
    for (auth, client_id, reason, recorded) in cases {
        let before = app.security_events().await.len();
        let r = app
            .token_with(&[("grant_type", "client_credentials")], auth)
            .await;
        expect_oauth_error(r, 401, "invalid_client", &[wrong]).await;
        let logs = captured_logs();
        assert!(
            logs.lines()
                .any(|l| l.contains("client authentication failed")
                    && l.contains(&format!("client_id={client_id}"))
                    && l.contains(reason)),
            "no log line for {client_id}: {reason}"
        );
        let events = app.security_events().await;
        assert_eq!(events.len(), before + recorded, "{events:?}");
        if recorded == 1 {
            assert_eq!(events[0], "client_authentication_failed");
        }
    }
    assert!(
        !captured_logs().contains(wrong),
        "a secret reached the logs"
    );
}
