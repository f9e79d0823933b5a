//! The whole dance against the real AS and photo API: authorize, exchange,
//! read photos, refresh on 401, and reauthorization once the refresh token
//! is revoked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{Browser, start};
use tessera_client::{Error, TokenKind};

#[tokio::test]
async fn the_code_is_exchanged_and_photos_are_read() {
    let s = start().await;
    let client = s.client().await;
    let (url, pending) = client.begin(&["photos:read"]);
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    assert!(
        get("state").unwrap().len() >= 22,
        "state has at least 128 bits"
    );

    let callback = Browser::new(&s).authorize_as_alice(&url, "approve").await;
    assert_eq!(s.token_requests(), 0);
    let mut tokens = client.complete(pending, &callback).await.unwrap();
    assert_eq!(s.token_requests(), 1);
    assert_eq!(
        s.basic_token_requests(),
        1,
        "the client authenticated with Basic"
    );
    assert_eq!(tokens.token_type, "bearer");
    assert_eq!(tokens.scopes, ["photos:read"]);
    assert!(tokens.refresh_token.is_some());
    assert!(tokens.expires_at.is_some());
    let debug = format!("{tokens:?}");
    assert!(!debug.contains(tokens.access_token.expose()), "{debug}");

    let r = client
        .call_with_retry(
            &mut tokens,
            reqwest::Client::new().get(format!("{}/photos", s.photos)),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["photos"].as_array().unwrap().len(), 3);
    assert_eq!(s.token_requests(), 1, "a working token needs no refresh");
}

#[tokio::test]
async fn credentials_already_on_the_request_are_refused() {
    let s = start().await;
    let client = s.client().await;
    let (url, pending) = client.begin(&["photos:read"]);
    let callback = Browser::new(&s).authorize_as_alice(&url, "approve").await;
    let mut tokens = client.complete(pending, &callback).await.unwrap();
    let http = reqwest::Client::new();
    let in_query = http.get(format!("{}/photos?access_token=x", s.photos));
    assert!(matches!(
        client.call_with_retry(&mut tokens, in_query).await,
        Err(Error::Request(_))
    ));
    let two_methods = http.get(format!("{}/photos", s.photos)).bearer_auth("x");
    assert!(matches!(
        client.call_with_retry(&mut tokens, two_methods).await,
        Err(Error::Request(_))
    ));
}

#[tokio::test]
async fn a_401_invalid_token_refreshes_once_and_retries() {
    let s = start().await;
    let client = s.client().await;
    let (url, pending) = client.begin(&["photos:read"]);
    let callback = Browser::new(&s).authorize_as_alice(&url, "approve").await;
    let mut tokens = client.complete(pending, &callback).await.unwrap();
    let old_access = tokens.access_token.clone();
    let old_refresh = tokens.refresh_token.clone().unwrap();

    // The AS forgets the access token; the guard introspects every call.
    s.revoke(old_access.expose()).await;
    let r = client
        .call_with_retry(
            &mut tokens,
            reqwest::Client::new().get(format!("{}/photos", s.photos)),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the retry with the new token passed");
    assert_eq!(s.token_requests(), 2, "exactly one refresh");
    assert_ne!(tokens.access_token, old_access);
    let new_refresh = tokens.refresh_token.clone().unwrap();
    assert_ne!(
        new_refresh, old_refresh,
        "the rotated refresh token replaced the old one"
    );

    // Refreshing again works with the replacement (the old one is spent).
    let again = client.refresh(&tokens).await.unwrap();
    assert_ne!(again.access_token, tokens.access_token);
}

#[tokio::test]
async fn a_revoked_refresh_token_means_authorizing_again() {
    let s = start().await;
    let client = s.client().await;
    let (url, pending) = client.begin(&["photos:read"]);
    let callback = Browser::new(&s).authorize_as_alice(&url, "approve").await;
    let mut tokens = client.complete(pending, &callback).await.unwrap();

    // Revoking the refresh token ends the whole grant, access token included.
    client
        .revoke(tokens.refresh_token.as_ref().unwrap(), TokenKind::Refresh)
        .await
        .unwrap();
    let r = client
        .call_with_retry(
            &mut tokens,
            reqwest::Client::new().get(format!("{}/photos", s.photos)),
        )
        .await;
    assert!(
        matches!(r, Err(Error::ReauthorizationRequired)),
        "{:?}",
        r.map(|r| r.status())
    );
    assert!(matches!(
        client.refresh(&tokens).await,
        Err(Error::ReauthorizationRequired)
    ));

    // And authorizing again works.
    let (url, pending) = client.begin(&["photos:read"]);
    let callback = Browser::new(&s).authorize_as_alice(&url, "approve").await;
    let mut tokens = client.complete(pending, &callback).await.unwrap();
    let r = client
        .call_with_retry(
            &mut tokens,
            reqwest::Client::new().get(format!("{}/photos", s.photos)),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
