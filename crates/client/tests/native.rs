//! The native-app front channel (`tessera_client::native`, issue 17's
//! rules, RFC 8252) against the real AS: the loopback redirect URI, the one
//! callback the listener takes, and the checks that still run after it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::{ALICE, ALICE_PASSWORD, Browser, Servers, client_spec};
use tessera_client::native::LoopbackListener;
use tessera_client::{CallbackError, OAuthClient};

const CLI: &str = "photo-cli";

async fn servers() -> Servers {
    let mut cli = client_spec(
        CLI,
        "unused",
        &["http://127.0.0.1/callback"],
        &["photos:read"],
        &["authorization_code", "refresh_token"],
    );
    cli.client_secret = None;
    Servers::builder().client(cli).start().await
}

/// RFC 8252 §8.3 and §7.3: an IP literal, never `localhost`; an ephemeral
/// port; bound to loopback only.
#[tokio::test]
async fn issue17_the_redirect_uri_is_a_loopback_ip_literal_on_a_fresh_port() {
    let a = LoopbackListener::bind().await.unwrap();
    let b = LoopbackListener::bind().await.unwrap();
    for l in [&a, &b] {
        let uri = url::Url::parse(&l.redirect_uri()).unwrap();
        assert_eq!(uri.scheme(), "http");
        assert!(
            matches!(uri.host_str(), Some("127.0.0.1") | Some("[::1]")),
            "{uri}"
        );
        assert_eq!(uri.path(), "/callback");
        assert!(uri.port().is_some_and(|p| p != 0));
    }
    assert_ne!(a.redirect_uri(), b.redirect_uri(), "a port per sign-in");
    // Loopback only: the port is not open on any other address of this host.
    let port = url::Url::parse(&a.redirect_uri()).unwrap().port().unwrap();
    let elsewhere = local_non_loopback_address();
    if let Some(ip) = elsewhere {
        assert!(std::net::TcpStream::connect((ip, port)).is_err());
    }
}

/// This host's address on its default route, if it has one.
fn local_non_loopback_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// The listener answers `GET /callback` of this sign-in once: other paths
/// are 404, a callback with another `state` is refused (and the listener
/// keeps waiting), and after the valid one the port is closed. PKCE S256
/// and a 256-bit `state` are in the request; the code exchange needs no
/// secret.
#[tokio::test]
async fn issue17_the_listener_takes_one_callback_of_its_own_sign_in() {
    let s = servers().await;
    let listener = LoopbackListener::bind().await.unwrap();
    let redirect = listener.redirect_uri();
    let base = redirect.trim_end_matches("/callback").to_owned();
    let client = OAuthClient::discover(&s.issuer, CLI, None, &redirect)
        .await
        .unwrap();
    let (url, pending) = client.begin(&["photos:read"]);
    let param = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("redirect_uri").as_deref(), Some(redirect.as_str()));
    assert!(param("state").unwrap().len() >= 43, "256 bits of state");

    let waiting = tokio::spawn(async move {
        let query = listener
            .wait(&pending, Duration::from_secs(30))
            .await
            .unwrap();
        (query, pending)
    });
    let other = reqwest::get(format!("{base}/favicon.ico")).await.unwrap();
    assert_eq!(other.status(), 404);
    let foreign = reqwest::get(format!("{base}/callback?code=x&state=someone-else"))
        .await
        .unwrap();
    assert_eq!(foreign.status(), 400);
    assert!(!waiting.is_finished(), "a foreign callback is not taken");

    let browser = Browser::at(&s.issuer);
    let callback = browser
        .through_login_and_consent(url.as_str(), ALICE, ALICE_PASSWORD, "approve", None)
        .await;
    assert!(callback.starts_with(&redirect), "{callback}");
    let tab = reqwest::get(&callback).await.unwrap();
    assert_eq!(tab.status(), 200);
    let (query, pending) = waiting.await.unwrap();
    assert!(
        reqwest::get(&callback).await.is_err(),
        "the port is closed after the first valid callback"
    );
    let before = s.token_requests();
    let tokens = client.complete(pending, &query).await.unwrap();
    assert_eq!(s.token_requests(), before + 1);
    assert_eq!(
        s.basic_token_requests(),
        0,
        "a public client sends no secret"
    );
    assert!(tokens.refresh_token.is_some());
}

/// RFC 9207: the listener only matches `state`; `iss` is still checked
/// before any token request, and the tab does not claim a sign-in.
#[tokio::test]
async fn issue17_a_callback_from_another_issuer_is_refused_before_any_token_request() {
    let s = servers().await;
    let listener = LoopbackListener::bind().await.unwrap();
    let redirect = listener.redirect_uri();
    let client = OAuthClient::discover(&s.issuer, CLI, None, &redirect)
        .await
        .unwrap();
    let (url, pending) = client.begin(&["photos:read"]);
    let state = url
        .query_pairs()
        .find(|(n, _)| n == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let waiting = tokio::spawn(async move {
        let query = listener
            .wait(&pending, Duration::from_secs(30))
            .await
            .unwrap();
        (query, pending)
    });
    let forged = format!("{redirect}?code=stolen&state={state}&iss=https%3A%2F%2Fevil.example");
    let tab = reqwest::get(&forged).await.unwrap().text().await.unwrap();
    assert!(!tab.contains("Signed in"), "{tab}");
    let (query, pending) = waiting.await.unwrap();
    let before = s.token_requests();
    let refused = client.complete(pending, &query).await;
    assert!(
        matches!(refused, Err(CallbackError::IssuerMismatch)),
        "{refused:?}"
    );
    assert_eq!(s.token_requests(), before, "no token request");
}

/// No callback in time: a clear error, and the port closes.
#[tokio::test]
async fn issue17_the_listener_gives_up_after_its_timeout() {
    let s = servers().await;
    let listener = LoopbackListener::bind().await.unwrap();
    let redirect = listener.redirect_uri();
    let client = OAuthClient::discover(&s.issuer, CLI, None, &redirect)
        .await
        .unwrap();
    let (_, pending) = client.begin(&["photos:read"]);
    let err = listener
        .wait(&pending, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no sign-in callback arrived"),
        "{err}"
    );
    assert!(reqwest::get(&redirect).await.is_err(), "the port is closed");
}
