//! The front channel: the authorization URL and the callback checks.
//!
//! oauth2 builds the URL and PKCE pair but does not check callbacks at all;
//! the `state` and RFC 9207 `iss` checks are written here, and all of them
//! run before the code is sent anywhere.

use std::time::SystemTime;

use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope, TokenResponse as _,
};
use subtle::ConstantTimeEq as _;

use crate::client::{OAuthClient, TokenKind};
use crate::error::{CallbackError, from_token_error};
use crate::tokens::{Secret, TokenResponse, Tokens};

/// One authorization request in flight. The caller keeps it in the browser
/// session that started it (never in a global cache keyed by `state`:
/// Authlib CVE-2026-41425), and **removes it from the session before calling
/// [`OAuthClient::complete`]**, which consumes it: that is what makes `state`
/// single-use and bound to the browser. Its serialized form holds the
/// `state` and the PKCE verifier in clear: keep it server-side, or in an
/// encrypted, HttpOnly cookie. Its `Debug` output redacts both.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PendingAuthorization {
    pub(crate) state: Secret,
    verifier: Secret,
    issuer: String,
    scopes: Vec<String>,
    created_at: SystemTime,
    /// Sent when `openid` is asked for; the ID token must echo it.
    #[serde(default)]
    nonce: Option<Secret>,
}

impl PendingAuthorization {
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
    pub fn created_at(&self) -> SystemTime {
        self.created_at
    }
    /// Whether this request asked for an ID token (scope `openid`).
    pub fn wants_id_token(&self) -> bool {
        self.nonce.is_some()
    }
}

impl OAuthClient {
    /// The URL to send the browser to, and the record to keep for its
    /// return. `state` has 256 bits and the PKCE verifier 256 bits, both
    /// fresh for every request; the challenge is always S256. With `openid`
    /// among the scopes, a fresh 256-bit `nonce` is sent too.
    pub fn begin(&self, scopes: &[&str]) -> (url::Url, PendingAuthorization) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random_len(32);
        let state_for_url = state.clone();
        // oauth2 has no nonce; its random-token generator makes one.
        let nonce = scopes
            .contains(&"openid")
            .then(|| CsrfToken::new_random_len(32).secret().clone());
        let mut request = self
            .oauth
            .authorize_url(move || state_for_url)
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge);
        if let Some(n) = &nonce {
            request = request.add_extra_param("nonce", n.clone());
        }
        let (url, _) = request.url();
        let pending = PendingAuthorization {
            state: Secret::new(state.secret().clone()),
            verifier: Secret::new(verifier.secret().clone()),
            issuer: self.metadata.issuer.clone(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            created_at: (self.clock)(),
            nonce: nonce.map(Secret::new),
        };
        (url, pending)
    }

    /// Checks the callback's query against `pending` and, only if every
    /// check passes, trades the code (HTTP Basic + PKCE verifier). Tokens
    /// that come back but fail the client's checks (no ID token although
    /// `openid` was asked for, a refused ID token, another token type than
    /// bearer) are revoked at the server (RFC 7009) rather than left live,
    /// and the answer is [`CallbackError::UnusableTokens`].
    pub async fn complete(
        &self,
        pending: PendingAuthorization,
        callback_query: &str,
    ) -> Result<Tokens, CallbackError> {
        let code = check_callback(
            &pending,
            self.metadata.authorization_response_iss_parameter_supported,
            callback_query,
        )?;
        let response = self
            .oauth
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.expose().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(from_token_error)?;
        // From here on the server has issued tokens: a refusal is not "the
        // exchange failed", and what cannot be used must not stay granted.
        match self.accept(&pending, &response).await {
            Ok(tokens) => Ok(tokens),
            Err(reason) => {
                let revoked = self.revoke_unusable(&response).await;
                Err(CallbackError::UnusableTokens { reason, revoked })
            }
        }
    }

    /// The checks a token response from the code exchange must pass.
    async fn accept(
        &self,
        pending: &PendingAuthorization,
        response: &TokenResponse,
    ) -> Result<Tokens, crate::Error> {
        let mut tokens = Tokens::from_response(response, (self.clock)(), &pending.scopes, None)?;
        if let Some(nonce) = &pending.nonce {
            let id_token = response
                .extra_fields()
                .id_token
                .as_deref()
                .ok_or(crate::Error::MissingIdToken)?;
            let mut identity = self
                .verify_id_token(id_token, &tokens, Some(nonce.expose()))
                .await?;
            if let Some(endpoint) = &self.metadata.userinfo_endpoint {
                // The name to show; without it the subject is shown.
                let answer = crate::identity::add_userinfo(
                    &self.http.0,
                    endpoint,
                    tokens.access_token.expose(),
                    &mut identity,
                )
                .await;
                // Another subject's answer is an attack; an unreachable
                // UserInfo only costs the name.
                if let Err(e @ crate::Error::InvalidIdToken(_)) = answer {
                    return Err(e);
                }
            }
            tokens.identity = Some(identity);
        }
        Ok(tokens)
    }

    /// Revokes the tokens of a response the client will not use: the
    /// refresh token first (at Tessera, and at any server following RFC 7009
    /// §2.1, that ends the grant), then the access token, for servers that
    /// do not cascade. Whether every revocation succeeded.
    async fn revoke_unusable(&self, response: &TokenResponse) -> bool {
        let mut revoked = true;
        if let Some(refresh) = response.refresh_token() {
            let token = Secret::new(refresh.secret().clone());
            revoked &= self.revoke(&token, TokenKind::Refresh).await.is_ok();
        }
        let access = Secret::new(response.access_token().secret().clone());
        revoked &= self.revoke(&access, TokenKind::Access).await.is_ok();
        revoked
    }
}

/// Every rule a callback must pass before its code may be sent; returns the
/// code. Order matters: `state` first (is this our request at all?), then
/// `iss` (is it from the server we sent it to? RFC 9207 §2.4 applies this
/// to error responses too), then `error`, then `code`.
pub fn check_callback(
    pending: &PendingAuthorization,
    iss_required: bool,
    query: &str,
) -> Result<String, CallbackError> {
    let one = |name: &str| -> Result<Option<String>, CallbackError> {
        let mut values = form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned());
        let first = values.next();
        if values.next().is_some() {
            return Err(CallbackError::RepeatedParameter(name.to_owned()));
        }
        Ok(first.filter(|v| !v.is_empty()))
    };
    let state = one("state")?.ok_or(CallbackError::MissingState)?;
    let expected = pending.state.expose().as_bytes();
    if !bool::from(state.as_bytes().ct_eq(expected)) {
        return Err(CallbackError::StateMismatch);
    }
    match one("iss")? {
        // A simple string comparison after form-decoding (RFC 9207 §2.4).
        Some(iss) if iss != pending.issuer => return Err(CallbackError::IssuerMismatch),
        Some(_) => {}
        None if iss_required => return Err(CallbackError::MissingIssuer),
        None => {}
    }
    if let Some(error) = one("error")? {
        return Err(if error == "access_denied" {
            CallbackError::AccessDenied
        } else {
            CallbackError::Authorization {
                code: error,
                description: one("error_description")?,
            }
        });
    }
    one("code")?.ok_or(CallbackError::MissingCode)
}
