//! Mode 2: asking the authorization server about each token (RFC 7662),
//! with a short-lived cache keyed on the token's SHA-256.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use crate::cache::FlightCache;
use crate::claim_values::{Audience, NumericDate, check_lifetime};
use crate::claims::{TokenClaims, split_scope};
use crate::clock::{Clock, UnixTime};
use crate::config::{ClientCredentials, ConfigError};
use crate::discovery::Discovery;
use crate::error::GuardError;
use crate::http::Http;
use crate::token::BearerToken;

/// What an introspection ends in, as cached and shared.
type Outcome = Result<Arc<TokenClaims>, GuardError>;

pub(crate) enum Endpoint {
    Fixed(String),
    Discovered(Arc<Discovery>),
}

pub(crate) struct Introspector {
    pub(crate) endpoint: Endpoint,
    /// `Basic …`, marked sensitive so no HTTP-level log prints it.
    authorization: HeaderValue,
    http: Http,
    cache: FlightCache<Outcome>,
    issuer: String,
    resource: String,
    leeway: i64,
    clock: Arc<dyn Clock>,
    cache_max: i64,
    inactive_ttl: i64,
}

/// The members of an introspection answer we look at (RFC 7662 §2.2).
#[derive(Deserialize)]
struct Answer {
    active: bool,
    scope: Option<String>,
    client_id: Option<String>,
    token_type: Option<String>,
    exp: Option<NumericDate>,
    iat: Option<NumericDate>,
    nbf: Option<NumericDate>,
    sub: Option<String>,
    aud: Option<Audience>,
    iss: Option<String>,
    jti: Option<String>,
    auth_time: Option<NumericDate>,
}

pub(crate) struct IntrospectorConfig {
    pub(crate) endpoint: Endpoint,
    pub(crate) credentials: ClientCredentials,
    pub(crate) http: Http,
    pub(crate) issuer: String,
    pub(crate) resource: String,
    pub(crate) leeway: i64,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cache_max: i64,
    pub(crate) inactive_ttl: i64,
    pub(crate) capacity: usize,
}

impl Introspector {
    pub(crate) fn new(c: IntrospectorConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            endpoint: c.endpoint,
            authorization: basic_authorization(&c.credentials)?,
            http: c.http,
            cache: FlightCache::new(c.capacity),
            issuer: c.issuer,
            resource: c.resource,
            leeway: c.leeway,
            clock: c.clock,
            cache_max: c.cache_max,
            inactive_ttl: c.inactive_ttl,
        })
    }

    pub(crate) async fn verify(&self, token: &BearerToken) -> Result<TokenClaims, GuardError> {
        let now = self.clock.now();
        let outcome = self
            .cache
            .get_or_compute(token.fingerprint(), now, || self.introspect(token))
            .await;
        let claims = outcome?;
        // A cached answer never outlives the token, but the leeway is ours
        // to apply at each use.
        check_lifetime(self.clock.now(), self.leeway, claims.expires_at, None)?;
        Ok(TokenClaims::clone(&claims))
    }

    /// One call to the AS, and until when its outcome may be reused.
    async fn introspect(&self, token: &BearerToken) -> (Outcome, UnixTime) {
        let answer = self.call(token).await;
        let now = self.clock.now();
        match answer {
            Ok(answer) => match self.judge(answer, now) {
                Ok(claims) => {
                    let until = now.saturating_add(self.cache_max).min(claims.expires_at);
                    (Ok(Arc::new(claims)), until)
                }
                Err(e) => (Err(e), now.saturating_add(self.inactive_ttl)),
            },
            Err(why) => {
                tracing::error!(reason = %why, "token introspection failed");
                // Shared with whoever waited on this call, then forgotten.
                (Err(GuardError::Unavailable(why)), now)
            }
        }
    }

    async fn call(&self, token: &BearerToken) -> Result<Answer, String> {
        let url = match &self.endpoint {
            Endpoint::Fixed(u) => u.clone(),
            Endpoint::Discovered(d) => d
                .metadata()
                .await
                .map_err(|e| e.to_string())?
                .introspection_endpoint
                .clone()
                .ok_or("the authorization server metadata has no introspection_endpoint")?,
        };
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token.expose())
            .append_pair("token_type_hint", "access_token")
            .finish();
        self.http
            .post_form_json(&url, &self.authorization, form)
            .await
    }

    /// Whether an answer lets the token in here.
    fn judge(&self, a: Answer, now: UnixTime) -> Result<TokenClaims, GuardError> {
        if !a.active {
            return Err(GuardError::InvalidToken("the token is not active"));
        }
        // Tessera answers for refresh tokens too; only access tokens open
        // doors here.
        if let Some(t) = a.token_type.as_deref()
            && !(t.eq_ignore_ascii_case("bearer") || t == "access_token")
        {
            return Err(GuardError::InvalidToken("the token is not an access token"));
        }
        if a.iss.as_deref().is_some_and(|i| i != self.issuer) {
            return Err(GuardError::InvalidToken(
                "the token was not issued by the expected issuer",
            ));
        }
        let audience = a.aud.map(Audience::into_vec).unwrap_or_default();
        if !audience.contains(&self.resource) {
            return Err(GuardError::InvalidToken(
                "the token is not meant for this resource",
            ));
        }
        let exp = a
            .exp
            .ok_or(GuardError::InvalidToken("the token has no expiry"))?;
        check_lifetime(now, self.leeway, exp.0, a.nbf.map(|n| n.0))?;
        let (Some(subject), Some(client_id)) = (a.sub, a.client_id) else {
            return Err(GuardError::InvalidToken(
                "the token lacks a required claim (sub, client_id)",
            ));
        };
        Ok(TokenClaims {
            subject,
            client_id,
            scopes: split_scope(a.scope.as_deref()),
            expires_at: exp.0,
            audience,
            issuer: a.iss.unwrap_or_else(|| self.issuer.clone()),
            jti: a.jti,
            issued_at: a.iat.map(|t| t.0),
            auth_time: a.auth_time.map(|t| t.0),
        })
    }
}

/// RFC 6749 §2.3.1: `client_secret_basic`, with the id and secret each
/// form-urlencoded before they are joined and base64-encoded.
fn basic_authorization(c: &ClientCredentials) -> Result<HeaderValue, ConfigError> {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(&c.client_id), enc(&c.secret));
    let mut v =
        HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(raw))).map_err(|_| {
            ConfigError::HttpClient("the client credentials do not fit a header".into())
        })?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        let v = basic_authorization(&ClientCredentials {
            client_id: "a b:c".into(),
            secret: "p@ss:w%rd".into(),
        })
        .unwrap();
        let raw = STANDARD
            .decode(v.to_str().unwrap().strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(raw, b"a+b%3Ac:p%40ss%3Aw%25rd");
        assert!(v.is_sensitive());
    }
}
