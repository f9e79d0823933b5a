//! The authorization request's values, as `crate::authorize` validates them:
//! where the answer may go ([`TrustedRedirect`], [`RedirectError`]), the
//! `prompt`, and the request once validated, with its audience decided
//! (RFC 8707) and the one rule for whether a login is recent enough for it
//! (`prompt=login`, `max_age`; OIDC Core §3.1.2.1). Validation itself is
//! `crate::authorize`'s, which alone makes a [`ValidatedRequest`].

use crate::UnixTime;
use crate::error::OAuthError;
use crate::pkce::CodeChallenge;
use crate::redirect_uri;
use crate::resource::{self, Resource};
use crate::scope::Scope;
use crate::secrets::TokenHash;

/// Where an authorization response may be sent: a registered URI, plus the
/// `state` to echo.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrustedRedirect {
    pub uri: String,
    /// Whether the request named the URI (then the token request must repeat
    /// it, RFC 6749 §4.1.3).
    pub explicit: bool,
    /// The exact `state` of the request; `None` when absent or repeated.
    pub state: Option<String>,
}

/// An error that goes back to the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    pub redirect: TrustedRedirect,
    pub error: OAuthError,
}

impl RedirectError {
    /// The `Location` for this error: `error`, `error_description`, the exact
    /// `state`, and `iss` (RFC 9207 §2: on error responses too).
    pub fn location(&self, issuer: &str) -> String {
        let mut params = vec![
            ("error", self.error.code.as_str()),
            ("error_description", self.error.description.as_ref()),
        ];
        if let Some(state) = &self.redirect.state {
            params.push(("state", state));
        }
        params.push(("iss", issuer));
        redirect_uri::with_response_params(&self.redirect.uri, &params)
    }
}

/// The `prompt` parameter (OIDC Core §3.1.2.1), also honoured for plain OAuth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A fully validated authorization request, with its audience decided.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect: TrustedRedirect,
    pub scope: Scope,
    /// The `resource` parameter (RFC 8707), as requested.
    #[serde(default)]
    pub resource: Option<String>,
    /// The audience decided for this request (RFC 8707): the resource when
    /// one is named and registered, else the server's default.
    #[serde(default)]
    pub audience: String,
    pub code_challenge: Option<CodeChallenge>,
    pub prompt: Prompt,
    pub nonce: Option<String>,
    pub max_age: Option<i64>,
    /// The earliest login that satisfies this request (`prompt=login`,
    /// `max_age`), fixed when the request arrives and checked at every later
    /// step, so no step can be skipped to reuse an older login.
    #[serde(default)]
    pub min_auth_time: Option<UnixTime>,
    /// For a request that demands a new login (`prompt=login`, `max_age=0`):
    /// the browser session it arrived in, whose login never counts, even one
    /// made in the same second. A login always replaces the session, so the
    /// login made for this request comes with another one.
    #[serde(default)]
    pub refused_session: Option<String>,
    /// OIDC `login_hint`: prefills the username on the login page.
    #[serde(default)]
    pub login_hint: Option<String>,
    /// OIDC `id_token_hint`, not yet verified: the web layer checks its
    /// signature, and with `prompt=none` that its `sub` is the signed-in user.
    #[serde(default)]
    pub id_token_hint: Option<String>,
}

impl AuthorizationRequest {
    /// Whether the login of `session`, made at `auth_time`, is recent enough
    /// for this request. The one `max_age` / `prompt=login` rule, used at
    /// every step (authorize, login, consent page and form):
    /// - `max_age=N` (N > 0): a login at most N seconds old when the request
    ///   arrived counts (OIDC Core §3.1.2.1: re-authenticate only when the
    ///   elapsed time is *greater* than N);
    /// - `prompt=login` and `max_age=0` (OIDC Core errata: the same thing):
    ///   only a login made after the request arrived counts; the login the
    ///   browser already had does not, even from the same second.
    pub fn accepts_login(&self, auth_time: UnixTime, session: &TokenHash) -> bool {
        self.min_auth_time.is_none_or(|min| auth_time >= min)
            && self.refused_session.as_deref() != Some(session.as_str())
    }

    /// Whether the request demands a login made for it.
    pub fn demands_new_login(&self) -> bool {
        self.prompt.login || self.max_age == Some(0)
    }
}

/// A request that passed [`validate`] but whose audience is not decided
/// yet: that needs the registered resource, which the caller looks up.
/// Only [`ValidatedRequest::decide`] turns it into an
/// [`AuthorizationRequest`], so no half-built request can be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedRequest(AuthorizationRequest);

impl ValidatedRequest {
    /// Only [`crate::authorize::validate`] makes one.
    pub(crate) fn new(request: AuthorizationRequest) -> Self {
        Self(request)
    }

    /// The `resource` the request names (RFC 8707), to look up.
    pub fn resource(&self) -> Option<&str> {
        self.0.resource.as_deref()
    }

    /// Where errors about this request go.
    pub fn redirect(&self) -> &TrustedRedirect {
        &self.0.redirect
    }

    /// Decides the audience (`registered` is the resource the request named,
    /// if it is registered) and fixes the login the request demands, as of
    /// `received_at`, in the browser `session` it arrived with.
    pub fn decide(
        self,
        registered: Option<&Resource>,
        default_audience: &str,
        received_at: UnixTime,
        session: Option<&TokenHash>,
    ) -> Result<AuthorizationRequest, RedirectError> {
        let mut request = self.0;
        request.audience = match resource::audience_for(
            request.resource.as_deref(),
            registered,
            &request.scope,
            default_audience,
        ) {
            Ok(audience) => audience,
            Err(error) => {
                return Err(RedirectError {
                    redirect: request.redirect,
                    error,
                });
            }
        };
        let new_login = request.demands_new_login().then_some(received_at);
        let by_age = request
            .max_age
            .filter(|max| *max > 0)
            .map(|max| received_at - max);
        request.min_auth_time = new_login.max(by_age);
        request.refused_session = if request.demands_new_login() {
            session.map(|s| s.as_str().to_owned())
        } else {
            None
        };
        Ok(request)
    }
}
