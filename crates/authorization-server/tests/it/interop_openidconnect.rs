//! Interoperability with an independent relying party: the Rust
//! `openidconnect` crate drives discovery, the code flow with PKCE, ID-token
//! validation (signature against the discovered JWKS, `iss`, `aud`, `exp`,
//! nonce, `at_hash`) and UserInfo against the real server.

use std::future::Future;
use std::pin::Pin;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    HttpRequest, HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse,
};
use tessera_authorization_server::clock::Clock as _;

use crate::harness::*;
use crate::oidc_basic_op::oidc_app;

/// openidconnect's `AsyncHttpClient` over the workspace's reqwest (its own
/// reqwest feature targets another major version), redirects off.
struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(std::io::Error::other)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers().clone();
            }
            let bytes = response.bytes().await.map_err(std::io::Error::other)?;
            builder.body(bytes.to_vec()).map_err(std::io::Error::other)
        })
    }
}

/// Follows the browser part from the authorization URL to the redirect back.
async fn through_the_browser(app: &TestApp, url: &str) -> String {
    let browser = app.browser();
    let r = browser.get(url).await;
    let mut loc = location(&r);
    if loc.starts_with("/login") {
        loc = location(&browser.login(&loc, ALICE, ALICE_PASSWORD).await);
    }
    if loc.starts_with("/consent") {
        let form = browser.form_at(&loc).await;
        loc = location(&browser.submit(&form, Some(("decision", "approve"))).await);
    }
    loc
}

#[tokio::test]
async fn the_openidconnect_crate_completes_discovery_code_flow_id_token_and_userinfo() {
    let app = oidc_app().await;
    let http = Http(app.http());
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer().into()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("c1".into()),
        Some(ClientSecret::new(C1_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(C1_REDIRECT.into()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = through_the_browser(&app, url.as_str()).await;
    assert_eq!(
        param(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(param(&back, "iss").as_deref(), Some(app.issuer()));
    let code = param(&back, "code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    // The test server's clock runs ahead of the wall clock.
    let now = app.clock.now();
    let id_verifier = client
        .id_token_verifier()
        .set_time_fn(move || chrono::DateTime::from_timestamp(now, 0).unwrap());
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("ID token valid");
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    assert_eq!(claims.auth_time().map(|t| t.timestamp()), Some(T0));

    // A nonce other than the one sent is refused by the relying party.
    let wrong = Nonce::new("another".into());
    assert!(id_token.claims(&id_verifier, &wrong).is_err());

    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .expect("UserInfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.email_verified(), Some(true));
    assert_eq!(
        info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Alice Liddell")
    );

    // Refresh: a new ID token for the same subject, still valid for the RP
    // (no nonce to check on refresh).
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    let again = refreshed
        .id_token()
        .expect("an ID token on refresh")
        .claims(&id_verifier, |_: Option<&Nonce>| Ok(()))
        .expect("refreshed ID token valid");
    assert_eq!(again.subject(), claims.subject());
}
