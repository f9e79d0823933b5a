//! `OAuthClient`: one configured client of one authorization server.

use std::sync::Arc;
use std::time::SystemTime;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
};
use oauth2::{
    AuthUrl, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, RedirectUrl,
    RefreshToken, RevocationUrl, StandardRevocableToken, TokenUrl,
};

use crate::discovery::{self, Metadata};
use crate::error::{Error, from_token_error};
use crate::http::Http;
use crate::id_token::{self, Expected};
use crate::jwks::{self, JwksCache};
use crate::tokens::{Secret, TokenResponse, Tokens};

/// oauth2's basic client, with a token response that keeps `id_token`.
type Configured = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointSet,
>;

/// The clock, injectable so tests never sleep.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

pub struct OAuthClient {
    pub(crate) oauth: Configured,
    pub(crate) http: Http,
    pub(crate) metadata: Metadata,
    pub(crate) clock: Clock,
    /// Kept for the loopback revocation request oauth2 will not make.
    pub(crate) client_secret: Option<Secret>,
    /// The AS's keys, fetched when an ID token needs them and kept as long
    /// as the AS allows.
    pub(crate) jwks: JwksCache,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", self.oauth.client_id())
            .field("issuer", &self.metadata.issuer)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// Fetches `{issuer}/.well-known/oauth-authorization-server` and refuses
    /// a document whose `issuer` is not `issuer`, non-https endpoints (except
    /// loopback) and servers without PKCE S256. With a secret, the client
    /// authenticates with HTTP Basic (form-encoded, RFC 6749 §2.3.1).
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        client_secret: Option<&str>,
        redirect_uri: &str,
    ) -> Result<Self, Error> {
        let http = Http::new()?;
        let metadata = discovery::fetch(&http.0, issuer).await?;
        let bad = |u: &str| Error::InvalidUrl(u.to_owned());
        let mut oauth = oauth2::Client::<
            BasicErrorResponse,
            TokenResponse,
            BasicTokenIntrospectionResponse,
            StandardRevocableToken,
            BasicRevocationErrorResponse,
        >::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(
            AuthUrl::new(metadata.authorization_endpoint.clone())
                .map_err(|_| bad(&metadata.authorization_endpoint))?,
        )
        .set_token_uri(
            TokenUrl::new(metadata.token_endpoint.clone())
                .map_err(|_| bad(&metadata.token_endpoint))?,
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| bad(redirect_uri))?)
        .set_revocation_url_option(
            metadata
                .revocation_endpoint
                .as_ref()
                .map(|u| RevocationUrl::new(u.clone()).map_err(|_| bad(u)))
                .transpose()?,
        );
        if let Some(secret) = client_secret {
            oauth = oauth.set_client_secret(ClientSecret::new(secret.to_owned()));
        }
        Ok(Self {
            oauth,
            http,
            metadata,
            clock: Arc::new(tessera_runtime::system_time),
            client_secret: client_secret.map(Secret::new),
            jwks: JwksCache::default(),
        })
    }

    /// Replaces the clock: `expires_at`, ID-token expiry and the age of the
    /// cached key set are read from it.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Trades the refresh token for new tokens. A new refresh token replaces
    /// the old one; `invalid_grant` (or no refresh token at all) is
    /// [`Error::ReauthorizationRequired`].
    pub async fn refresh(&self, tokens: &Tokens) -> Result<Tokens, Error> {
        let Some(current) = &tokens.refresh_token else {
            return Err(Error::ReauthorizationRequired);
        };
        let refresh = RefreshToken::new(current.expose().to_owned());
        let response = self
            .oauth
            .exchange_refresh_token(&refresh)
            .request_async(&self.http)
            .await
            .map_err(from_token_error)
            .map_err(|e| match e {
                Error::OAuth { code, .. } if code == "invalid_grant" => {
                    Error::ReauthorizationRequired
                }
                other => other,
            })?;
        let mut fresh =
            Tokens::from_response(&response, (self.clock)(), &tokens.scopes, Some(current))?;
        // OIDC §12.2: a refreshed ID token has no nonce and the same `iss`
        // and `sub`; it may carry fewer claims than the first ID token and
        // UserInfo did, so it updates the identity rather than replacing
        // it. Without one, who logged in has not changed.
        fresh.identity = match (&response.extra_fields().id_token, &tokens.identity) {
            (Some(id_token), Some(previous)) => {
                let newer = self.verify_id_token(id_token, &fresh, None).await?;
                Some(previous.merge_refreshed(newer)?)
            }
            (_, previous) => previous.clone(),
        };
        Ok(fresh)
    }

    /// Checks an ID token against the AS's published keys and this client.
    pub(crate) async fn verify_id_token(
        &self,
        id_token: &str,
        tokens: &Tokens,
        nonce: Option<&str>,
    ) -> Result<crate::Identity, Error> {
        let jwks_uri = self
            .metadata
            .jwks_uri
            .as_deref()
            .ok_or(Error::InvalidIdToken("the metadata names no jwks_uri"))?;
        let now = (self.clock)();
        let kid = id_token::kid(id_token)?;
        let keys = self
            .jwks
            .keys_for(&kid, now, || jwks::fetch(&self.http.0, jwks_uri))
            .await?;
        id_token::verify(
            id_token,
            &keys,
            &Expected {
                issuer: &self.metadata.issuer,
                client_id: self.oauth.client_id().as_str(),
                nonce,
                access_token: tokens.access_token.expose(),
                now,
            },
        )
    }

    /// RFC 7009 revocation of a token the client holds.
    pub async fn revoke(&self, token: &Secret, kind: TokenKind) -> Result<(), Error> {
        let endpoint = self
            .metadata
            .revocation_endpoint
            .as_deref()
            .ok_or(Error::NoRevocationEndpoint)?;
        if endpoint.starts_with("http:") {
            // oauth2 refuses any non-https revocation URL (RFC 7009 §2), so
            // the loopback development setup (already limited to loopback
            // by discovery) is served by this small request instead.
            return self.revoke_on_loopback(endpoint, token, kind).await;
        }
        let token = match kind {
            TokenKind::Access => StandardRevocableToken::AccessToken(oauth2::AccessToken::new(
                token.expose().to_owned(),
            )),
            TokenKind::Refresh => {
                StandardRevocableToken::RefreshToken(RefreshToken::new(token.expose().to_owned()))
            }
        };
        self.oauth
            .revoke_token(token)
            .map_err(|_| Error::NoRevocationEndpoint)?
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                oauth2::RequestTokenError::ServerResponse(r) => Error::OAuth {
                    code: r.error().as_ref().to_owned(),
                    description: r.error_description().cloned(),
                },
                oauth2::RequestTokenError::Request(re) => Error::Transport(re.to_string()),
                _ => Error::BadResponse,
            })
    }

    async fn revoke_on_loopback(
        &self,
        endpoint: &str,
        token: &Secret,
        kind: TokenKind,
    ) -> Result<(), Error> {
        let hint = match kind {
            TokenKind::Access => "access_token",
            TokenKind::Refresh => "refresh_token",
        };
        let client_id = self.oauth.client_id().as_str();
        let mut form = vec![("token", token.expose()), ("token_type_hint", hint)];
        if self.client_secret.is_none() {
            form.push(("client_id", client_id));
        }
        let mut request = self.http.0.post(endpoint).form(&form);
        if let Some(secret) = &self.client_secret {
            // Form-encoded before Basic, as RFC 6749 §2.3.1 says (and as
            // oauth2 does for every other request).
            let encode =
                |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(encode(client_id), Some(encode(secret.expose())));
        }
        let response = request.send().await;
        crate::observe::report(|| crate::observe::Exchange {
            method: "POST".into(),
            url: crate::observe::bare_url(endpoint),
            authorization: self
                .client_secret
                .as_ref()
                .map(|_| crate::observe::BASIC_CREDENTIALS.to_owned()),
            request: form
                .iter()
                .map(|(k, v)| ((*k).to_owned(), crate::observe::redact_field(k, v)))
                .collect(),
            status: response.as_ref().ok().map(|r| r.status().as_u16()),
            response: Vec::new(),
            challenge: None,
        });
        let response = response?;
        if response.status().is_success() {
            return Ok(());
        }
        let body: serde_json::Value = response.json().await.map_err(|_| Error::BadResponse)?;
        Err(Error::OAuth {
            code: body["error"].as_str().unwrap_or("unknown").to_owned(),
            description: body["error_description"].as_str().map(str::to_owned),
        })
    }
}

/// Which token is being revoked (sent as `token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}
