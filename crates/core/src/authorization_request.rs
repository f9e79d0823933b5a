//! The authorization request once validated: its audience decided
//! (RFC 8707), and the one rule for whether a login is recent enough for it
//! (`prompt=login`, `max_age`; OIDC Core §3.1.2.1).

use crate::UnixTime;
use crate::authorize::{Prompt, RedirectError, TrustedRedirect};
use crate::pkce::CodeChallenge;
use crate::resource::{self, Resource};
use crate::scope::Scope;
use crate::secrets::TokenHash;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::{trust_redirect, validate};
    use crate::client::{Client, GrantType};
    use crate::error::ErrorCode;
    use crate::params::Params;
    use std::collections::BTreeSet;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> Client {
        Client {
            client_id: "c1".into(),
            name: "C1".into(),
            secret_hash: None,
            redirect_uris: vec!["https://client.example/cb".into()],
            scopes: Scope::parse("a b").unwrap_or_default(),
            grant_types: BTreeSet::from([GrantType::AuthorizationCode]),
            require_pkce: true,
            introspect: false,
            resource: None,
            access_token_format: None,
            id_token_signed_response_alg: None,
            post_logout_redirect_uris: Vec::new(),
        }
    }

    const T: UnixTime = 1_800_000_000;

    fn decided(query: &str, session: Option<&TokenHash>) -> AuthorizationRequest {
        let params = Params::parse(format!("{}&{query}", base()).as_bytes());
        let c = client();
        let redirect = trust_redirect(&params, &c).unwrap_or_else(|e| panic!("{e:?}"));
        validate(&params, &c, redirect)
            .and_then(|v| v.decide(None, "https://default.example", T, session))
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// OIDC Core §3.1.2.1 `max_age`: a login exactly `max_age` old counts,
    /// one a second older does not.
    #[test]
    fn oidc_max_age_edges_a_login_exactly_max_age_old_counts() {
        let session = TokenHash::of("session");
        let r = decided("max_age=100", Some(&session));
        assert!(r.accepts_login(T - 100, &session));
        assert!(!r.accepts_login(T - 101, &session));
        assert!(r.accepts_login(T + 5, &session));
        let none = decided("extra=1", Some(&session));
        assert!(none.accepts_login(0, &session), "no demand, any login");
    }

    /// OIDC Core errata: `max_age=0` is `prompt=login`. The login the browser
    /// had when the request arrived never counts, even from the same second;
    /// the login made for the request (which comes with a new session) does,
    /// even in that same second.
    #[test]
    fn oidc_max_age_0_and_prompt_login_demand_a_login_made_for_the_request() {
        let arrived_in = TokenHash::of("session at arrival");
        let after_login = TokenHash::of("session after login");
        for query in ["max_age=0", "prompt=login", "prompt=select_account"] {
            let r = decided(query, Some(&arrived_in));
            assert!(r.demands_new_login(), "{query}");
            assert!(!r.accepts_login(T, &arrived_in), "{query}: same second");
            assert!(
                !r.accepts_login(T + 60, &arrived_in),
                "{query}: later, same session"
            );
            assert!(
                r.accepts_login(T, &after_login),
                "{query}: new login, same second"
            );
            assert!(
                !r.accepts_login(T - 1, &after_login),
                "{query}: older than the request"
            );
        }
        // Without a session at arrival there is no login to refuse.
        let r = decided("max_age=0", None);
        assert!(r.accepts_login(T, &after_login));
    }

    #[test]
    fn rfc8707_an_unregistered_resource_is_invalid_target_at_the_redirect_uri() {
        let params =
            Params::parse(format!("{}&resource=https://unknown.example", base()).as_bytes());
        let c = client();
        let redirect = trust_redirect(&params, &c).unwrap_or_else(|e| panic!("{e:?}"));
        let v = validate(&params, &c, redirect).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(v.resource(), Some("https://unknown.example"));
        let e = v.decide(None, "https://default.example", T, None).err();
        assert_eq!(e.map(|e| e.error.code), Some(ErrorCode::InvalidTarget));
        let r = decided("extra=1", None);
        assert_eq!(r.audience, "https://default.example");
    }

    fn base() -> String {
        format!(
            "response_type=code&client_id=c1&scope=a&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256"
        )
    }
}
