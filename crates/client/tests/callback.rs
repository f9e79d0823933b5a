//! Refused callbacks: each is refused before any request reaches the AS's
//! token endpoint, which the tests check on the AS side.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{Browser, Servers, start, with_param};
use tessera_client::{CallbackError, OAuthClient, PendingAuthorization};

/// A real callback from the AS (alice approved) and the pending record that
/// matches it.
async fn approved(s: &Servers, client: &OAuthClient) -> (PendingAuthorization, String) {
    let (url, pending) = client.begin(&["photos:read"]);
    let callback = Browser::new(s).authorize_as_alice(&url, "approve").await;
    (pending, callback)
}

#[tokio::test]
async fn missing_or_wrong_state_is_refused_without_a_token_request() {
    let s = start().await;
    let client = s.client().await;
    let (pending, callback) = approved(&s, &client).await;

    let r = client
        .complete(pending.clone(), &with_param(&callback, "state", None))
        .await;
    assert!(matches!(r, Err(CallbackError::MissingState)), "{r:?}");
    let r = client
        .complete(
            pending.clone(),
            &with_param(&callback, "state", Some("forged")),
        )
        .await;
    assert!(matches!(r, Err(CallbackError::StateMismatch)), "{r:?}");
    // A state from another browser session: that session's own pending
    // record does not match it.
    let (_, other_pending) = client.begin(&["photos:read"]);
    let r = client.complete(other_pending, &callback).await;
    assert!(matches!(r, Err(CallbackError::StateMismatch)), "{r:?}");
    assert_eq!(s.token_requests(), 0, "no token request reached the AS");

    // The untouched callback still works: the refusals were about the rules.
    client.complete(pending, &callback).await.unwrap();
    assert_eq!(s.token_requests(), 1);
}

#[tokio::test]
async fn a_reused_state_is_refused_without_a_token_request() {
    let s = start().await;
    let client = s.client().await;
    let (pending, callback) = approved(&s, &client).await;
    // The session keeps at most one pending record and takes it out before
    // completing, as the library's documentation asks.
    let mut session: Option<PendingAuthorization> = Some(pending);
    client
        .complete(session.take().unwrap(), &callback)
        .await
        .unwrap();
    assert_eq!(s.token_requests(), 1);

    // The replay finds nothing in the session; and if the user has started
    // another authorization since, its record does not match the old state.
    assert!(session.take().is_none());
    let (_, newer) = client.begin(&["photos:read"]);
    session = Some(newer);
    let r = client.complete(session.take().unwrap(), &callback).await;
    assert!(matches!(r, Err(CallbackError::StateMismatch)), "{r:?}");
    assert_eq!(s.token_requests(), 1, "the replay made no token request");
}

#[tokio::test]
async fn a_missing_or_foreign_iss_is_refused_without_a_token_request() {
    let s = start().await;
    let client = s.client().await;
    assert!(
        client
            .metadata()
            .authorization_response_iss_parameter_supported
    );
    let (pending, callback) = approved(&s, &client).await;
    assert!(callback.contains("iss="), "the AS sends iss");

    let r = client
        .complete(pending.clone(), &with_param(&callback, "iss", None))
        .await;
    assert!(matches!(r, Err(CallbackError::MissingIssuer)), "{r:?}");
    let r = client
        .complete(
            pending.clone(),
            &with_param(&callback, "iss", Some("https://attacker.example")),
        )
        .await;
    assert!(matches!(r, Err(CallbackError::IssuerMismatch)), "{r:?}");
    // A simple string comparison: a trailing slash is another issuer.
    let slash = format!("{}/", s.issuer);
    let r = client
        .complete(pending.clone(), &with_param(&callback, "iss", Some(&slash)))
        .await;
    assert!(matches!(r, Err(CallbackError::IssuerMismatch)), "{r:?}");
    assert_eq!(s.token_requests(), 0, "no token request reached the AS");

    client.complete(pending, &callback).await.unwrap();
    assert_eq!(s.token_requests(), 1);
}

#[tokio::test]
async fn access_denied_is_its_own_error_without_a_token_request() {
    let s = start().await;
    let client = s.client().await;
    let (url, pending) = client.begin(&["photos:read"]);
    let callback = Browser::new(&s).authorize_as_alice(&url, "deny").await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let r = client.complete(pending, &callback).await;
    assert!(matches!(r, Err(CallbackError::AccessDenied)), "{r:?}");
    assert_eq!(s.token_requests(), 0, "no token request reached the AS");
}

#[tokio::test]
async fn a_callback_without_code_is_refused() {
    let s = start().await;
    let client = s.client().await;
    let (pending, callback) = approved(&s, &client).await;
    let r = client
        .complete(pending, &with_param(&callback, "code", None))
        .await;
    assert!(matches!(r, Err(CallbackError::MissingCode)), "{r:?}");
    assert_eq!(s.token_requests(), 0);
}

/// Issue 12 item 3: tokens that were issued but fail the client's checks
/// (here an ID token already expired by the client's clock, a day ahead of
/// the server's) are not a failed exchange: the answer says tokens were
/// issued, and the client revoked them, so no grant stays live at the AS.
#[tokio::test]
async fn issued_tokens_the_client_cannot_use_are_revoked() {
    let s = start().await;
    let client = s.client().await.with_clock(std::sync::Arc::new(|| {
        tessera_runtime::system_time() + std::time::Duration::from_secs(24 * 3600)
    }));
    let (url, pending) = client.begin(&["openid", "photos:read"]);
    let callback = Browser::new(&s).authorize_as_alice(&url, "approve").await;
    let r = client.complete(pending, &callback).await;
    let Err(CallbackError::UnusableTokens { reason, revoked }) = &r else {
        panic!("{r:?}");
    };
    assert!(
        matches!(reason, tessera_client::Error::InvalidIdToken("expired")),
        "{reason:?}"
    );
    assert!(revoked);
    let text = r.as_ref().err().unwrap().to_string();
    assert!(text.contains("tokens were issued"), "{text}");
    assert_eq!(s.token_requests(), 1);
    let grants = s.grants().await;
    assert_eq!(grants.len(), 1);
    assert!(
        grants[0].revoked_at.is_some(),
        "the grant no longer stands at the AS"
    );
}
