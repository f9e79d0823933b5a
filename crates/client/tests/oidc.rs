//! OpenID Connect against the real AS: who logged in survives refreshes
//! (issue 12 item 5), and the AS's key set is fetched only when the cache
//! rules say so (issue 12 item 6), counted on the AS side.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use support::{ALICE_NAME, Browser, Servers, start};
use tessera_client::{CallbackError, Error, OAuthClient, Tokens};

const SCOPES: &[&str] = &["openid", "profile", "photos:read"];

/// The printer's client with a clock `ahead` seconds past the wall clock
/// (the AS's clock is the wall clock; ID tokens live 600 s, so a few
/// minutes ahead still accepts them).
async fn client_with_clock(s: &Servers) -> (OAuthClient, Arc<AtomicU64>) {
    let ahead = Arc::new(AtomicU64::new(0));
    let skew = ahead.clone();
    let client = s.client().await.with_clock(Arc::new(move || {
        tessera_runtime::system_time() + Duration::from_secs(skew.load(Ordering::SeqCst))
    }));
    (client, ahead)
}

/// A sign-in through the AS in a new browser: the callback's result.
async fn sign_in(s: &Servers, client: &OAuthClient) -> Result<Tokens, CallbackError> {
    let (url, pending) = client.begin(SCOPES);
    let callback = Browser::new(s).authorize_as_alice(&url, "approve").await;
    client.complete(pending, &callback).await
}

/// Issue 12 item 5: the refreshed ID token carries no `name` (that came
/// from UserInfo); the identity keeps it, with the same `iss` and `sub`.
#[tokio::test]
async fn issue12_item5_who_logged_in_survives_refreshes() {
    let s = start().await;
    let client = s.client().await;
    let tokens = sign_in(&s, &client).await.unwrap();
    let first = tokens.identity.clone().expect("an identity with openid");
    assert_eq!(first.display_name(), ALICE_NAME);
    assert_eq!(first.issuer, s.issuer);

    let mut tokens = tokens;
    for _ in 0..2 {
        tokens = client.refresh(&tokens).await.unwrap();
        let now = tokens.identity.clone().expect("still an identity");
        assert_eq!(now.display_name(), ALICE_NAME, "{now:?}");
        assert_eq!(now, first, "nothing about alice changed at the AS");
    }
}

/// Issue 12 item 6: one JWKS fetch for the first ID token; refreshes use
/// the cached keys while the AS's `max-age=300` lasts; after it, one
/// fetch; a `kid` the cache does not know (the AS rotated its ID-token
/// key) refetches once; another unknown `kid` within 30 s of that fetch is
/// refused without a fetch, however many tokens name it; after 30 s one
/// fetch is allowed again.
#[tokio::test]
async fn issue12_item6_the_key_set_is_cached_and_refetched_once_for_a_new_kid() {
    let s = start().await;
    let (client, ahead) = client_with_clock(&s).await;
    let mut tokens = sign_in(&s, &client).await.unwrap();
    assert_eq!(s.jwks_requests(), 1, "fetched for the first ID token");
    for _ in 0..3 {
        tokens = client.refresh(&tokens).await.unwrap();
    }
    assert_eq!(
        s.jwks_requests(),
        1,
        "the refreshed ID tokens used the cache"
    );

    ahead.store(301, Ordering::SeqCst);
    tokens = client.refresh(&tokens).await.unwrap();
    assert_eq!(
        s.jwks_requests(),
        2,
        "max-age=300 has passed: fetched again"
    );
    tokens = client.refresh(&tokens).await.unwrap();
    assert_eq!(s.jwks_requests(), 2);

    // A new ID-token key at the AS, 31 s after the last fetch.
    ahead.store(301 + 31, Ordering::SeqCst);
    s.rotate_id_token_key_now().await;
    tokens = client.refresh(&tokens).await.unwrap();
    assert_eq!(s.jwks_requests(), 3, "an unknown kid: one refetch");
    tokens = client.refresh(&tokens).await.unwrap();
    assert_eq!(s.jwks_requests(), 3, "and the new key is cached");
    assert!(tokens.identity.is_some());

    // Another new key right away: tokens naming it are refused, and the
    // AS is not asked again, however many there are.
    s.rotate_id_token_key_now().await;
    for _ in 0..3 {
        let r = sign_in(&s, &client).await;
        assert!(
            matches!(
                r,
                Err(CallbackError::UnusableTokens { reason: Error::InvalidIdToken(why), revoked: true })
                    if why.contains("does not publish")
            ),
            "{r:?}"
        );
    }
    assert_eq!(s.jwks_requests(), 3, "rate-limited: no fetch");

    ahead.store(301 + 31 + 31, Ordering::SeqCst);
    let again = sign_in(&s, &client).await.unwrap();
    assert_eq!(s.jwks_requests(), 4, "30 s later, one refetch");
    assert_eq!(again.identity.unwrap().display_name(), ALICE_NAME);
}
