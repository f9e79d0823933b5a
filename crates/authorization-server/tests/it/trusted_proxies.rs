//! Issue 13 (medium): "anyone can lock out a confidential client behind a
//! proxy". The client-authentication lockout was keyed on client + source
//! address and then refused the correct secret too; behind a reverse proxy
//! every request has the proxy's address. Now the right secret is never
//! refused, and the source address is the real client's when the peer is a
//! configured trusted proxy (`Forwarded` / `X-Forwarded-For`), never when it
//! is not.

use crate::harness::*;
use tessera_authorization_server::trusted_proxies::TrustedProxies;

/// A client-credentials request for `svc` with `secret`, sent from the
/// local address `from`, claiming to forward for `forwarded_for` if given.
async fn attempt(
    app: &TestApp,
    from: [u8; 4],
    forwarded_for: Option<&str>,
    secret: &str,
) -> reqwest::Response {
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(from))
        .build()
        .unwrap();
    let mut request = http
        .post(app.url("/token"))
        .header("authorization", basic_header("svc", secret))
        .form(&[("grant_type", "client_credentials")]);
    if let Some(f) = forwarded_for {
        request = request.header("x-forwarded-for", f);
    }
    request.send().await.unwrap()
}

const PROXY: [u8; 4] = [127, 0, 0, 1];
const WRONG: &str = "wrong-secret-0123456789-0123456789";

async fn behind_a_proxy() -> TestApp {
    TestApp::builder()
        .configure(|c| {
            c.trusted_proxies = TrustedProxies::parse(&["127.0.0.1/32"]).unwrap();
        })
        .spawn()
        .await
}

#[tokio::test]
async fn issue13_behind_a_trusted_proxy_the_guesser_is_locked_out_not_the_owner() {
    let app = behind_a_proxy().await;
    let guesser = Some("203.0.113.9");
    for _ in 0..10 {
        assert_eq!(attempt(&app, PROXY, guesser, WRONG).await.status(), 401);
    }
    assert_eq!(
        attempt(&app, PROXY, guesser, WRONG).await.status(),
        429,
        "the guesser's address is locked out"
    );
    // The real client, through the same proxy, from its own address: a
    // wrong secret is an ordinary 401 (it is not locked out) ...
    let owner = Some("198.51.100.7, 127.0.0.1");
    assert_eq!(attempt(&app, PROXY, owner, WRONG).await.status(), 401);
    // ... and the right secret gets its token.
    assert_eq!(attempt(&app, PROXY, owner, SVC_SECRET).await.status(), 200);
}

#[tokio::test]
async fn issue13_the_right_secret_is_never_refused_even_from_a_locked_out_address() {
    // No trusted proxy configured: everyone behind the proxy has its
    // address, the way the finding was reproduced.
    let app = TestApp::spawn().await;
    for _ in 0..10 {
        assert_eq!(attempt(&app, PROXY, None, WRONG).await.status(), 401);
    }
    assert_eq!(attempt(&app, PROXY, None, WRONG).await.status(), 429);
    for _ in 0..3 {
        let r = attempt(&app, PROXY, None, SVC_SECRET).await;
        assert_eq!(r.status(), 200, "the owner's exchanges keep working");
        assert_eq!(
            attempt(&app, PROXY, None, WRONG).await.status(),
            429,
            "and its success gives the guesser no fresh allowance"
        );
    }
}

#[tokio::test]
async fn issue13_forwarding_headers_from_an_untrusted_peer_are_ignored() {
    // The proxy is 127.0.0.1; a request straight from 127.0.0.2 cannot
    // choose its address by rotating X-Forwarded-For.
    let app = behind_a_proxy().await;
    for i in 0..10 {
        let spoofed = format!("192.0.2.{i}");
        let r = attempt(&app, [127, 0, 0, 2], Some(&spoofed), WRONG).await;
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        attempt(&app, [127, 0, 0, 2], Some("192.0.2.200"), WRONG)
            .await
            .status(),
        429,
        "counted under its real address"
    );
}

#[tokio::test]
async fn issue13_a_forwarded_chain_is_read_from_the_right() {
    // A client behind the trusted proxy writes a fake first hop: the proxy
    // appends the address it saw, and that is the one counted.
    let app = behind_a_proxy().await;
    for i in 0..10 {
        let chain = format!("10.9.9.{i}, 203.0.113.50");
        assert_eq!(
            attempt(&app, PROXY, Some(&chain), WRONG).await.status(),
            401
        );
    }
    assert_eq!(
        attempt(&app, PROXY, Some("10.9.9.99, 203.0.113.50"), WRONG)
            .await
            .status(),
        429
    );
    // The RFC 7239 header is read too, and wins over X-Forwarded-For.
    let http = app.http();
    let r = http
        .post(app.url("/token"))
        .header("authorization", basic_header("svc", WRONG))
        .header("forwarded", "for=203.0.113.50;proto=https")
        .header("x-forwarded-for", "198.51.100.1")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "Forwarded names the locked-out address");
}
