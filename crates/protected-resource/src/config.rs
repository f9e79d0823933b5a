//! How a guard is set up: which authorization server, which resource, which
//! mode, and the limits of its caches.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("`{0}` is not a usable URL: {1}")]
    Url(String, &'static str),
    #[error("the resource identifier must not be empty")]
    EmptyResource,
    #[error("the realm may only hold printable ASCII without `\"` and `\\`")]
    Realm,
    #[error("the client id must not be empty")]
    EmptyClientId,
    #[error("`{0}` is not a valid scope (RFC 6749 §3.3)")]
    Scope(String),
    #[error("the HTTP client cannot be built: {0}")]
    HttpClient(String),
}

/// The resource's own credentials at the introspection endpoint.
#[derive(Clone)]
pub(crate) struct ClientCredentials {
    pub(crate) client_id: String,
    pub(crate) secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// How tokens are validated.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// Local JWT verification (RFC 9068) with keys from the JWKS, which is
    /// `jwks_uri` or, when absent, found in the AS metadata.
    Jwt { jwks_uri: Option<String> },
    /// Token introspection (RFC 7662); the endpoint is found in the AS
    /// metadata when absent.
    Introspection {
        endpoint: Option<String>,
        credentials: ClientCredentials,
    },
}

/// The guard's configuration. Start from [`GuardConfig::jwt`] or
/// [`GuardConfig::introspection`], adjust with the builder methods, and hand
/// it to [`crate::Guard::new`], which checks it.
#[derive(Clone)]
pub struct GuardConfig {
    pub(crate) issuer: String,
    pub(crate) resource: String,
    pub(crate) realm: String,
    pub(crate) mode: Mode,
    pub(crate) leeway: Duration,
    pub(crate) key_refetch_interval: Duration,
    pub(crate) key_max_age: Duration,
    pub(crate) introspection_cache_max: Duration,
    pub(crate) introspection_inactive_ttl: Duration,
    pub(crate) introspection_cache_capacity: usize,
    pub(crate) http_timeout: Duration,
    pub(crate) body_token: bool,
    pub(crate) max_form_body: usize,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for GuardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardConfig")
            .field("issuer", &self.issuer)
            .field("resource", &self.resource)
            .field("realm", &self.realm)
            .field("mode", &self.mode)
            .field("leeway", &self.leeway)
            .field("key_refetch_interval", &self.key_refetch_interval)
            .field("key_max_age", &self.key_max_age)
            .field("introspection_cache_max", &self.introspection_cache_max)
            .field(
                "introspection_inactive_ttl",
                &self.introspection_inactive_ttl,
            )
            .field(
                "introspection_cache_capacity",
                &self.introspection_cache_capacity,
            )
            .field("http_timeout", &self.http_timeout)
            .field("body_token", &self.body_token)
            .field("max_form_body", &self.max_form_body)
            .finish_non_exhaustive()
    }
}

impl GuardConfig {
    fn new(issuer: &str, resource: &str, mode: Mode) -> Self {
        Self {
            issuer: issuer.to_owned(),
            resource: resource.to_owned(),
            realm: "api".to_owned(),
            mode,
            leeway: Duration::from_secs(30),
            key_refetch_interval: Duration::from_secs(30),
            // The AS serves its JWKS with `max-age=300` and publishes new
            // keys an hour before they sign.
            key_max_age: Duration::from_secs(300),
            introspection_cache_max: Duration::from_secs(30),
            introspection_inactive_ttl: Duration::from_secs(5),
            introspection_cache_capacity: 10_000,
            http_timeout: Duration::from_secs(5),
            body_token: false,
            max_form_body: 64 * 1024,
            clock: Arc::new(SystemClock),
        }
    }

    /// Local JWT verification: tokens from `issuer`, for the resource whose
    /// identifier (the `aud` its tokens carry) is `resource`. The keys come
    /// from the JWKS named in the AS metadata at
    /// `{issuer}/.well-known/oauth-authorization-server`, unless
    /// [`GuardConfig::jwks_uri`] names it.
    pub fn jwt(issuer: &str, resource: &str) -> Self {
        Self::new(issuer, resource, Mode::Jwt { jwks_uri: None })
    }

    /// Introspection: each token is asked about at the AS's introspection
    /// endpoint, authenticated as `client_id` with `client_secret` (HTTP
    /// Basic). The endpoint comes from the AS metadata unless
    /// [`GuardConfig::introspection_endpoint`] names it.
    pub fn introspection(
        issuer: &str,
        resource: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Self {
        Self::new(
            issuer,
            resource,
            Mode::Introspection {
                endpoint: None,
                credentials: ClientCredentials {
                    client_id: client_id.to_owned(),
                    secret: client_secret.to_owned(),
                },
            },
        )
    }

    /// The JWKS location, instead of discovering it (JWT mode only).
    pub fn jwks_uri(mut self, uri: &str) -> Self {
        if let Mode::Jwt { jwks_uri } = &mut self.mode {
            *jwks_uri = Some(uri.to_owned());
        }
        self
    }

    /// The introspection endpoint, instead of discovering it (introspection
    /// mode only).
    pub fn introspection_endpoint(mut self, uri: &str) -> Self {
        if let Mode::Introspection { endpoint, .. } = &mut self.mode {
            *endpoint = Some(uri.to_owned());
        }
        self
    }

    /// The `realm` of the challenges (default `api`).
    pub fn realm(mut self, realm: &str) -> Self {
        realm.clone_into(&mut self.realm);
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two JWKS fetches (default 30 s): an unknown
    /// `kid` triggers a fetch only this long after the previous one, so a
    /// flood of junk key ids cannot hammer the AS.
    pub fn key_refetch_interval(mut self, interval: Duration) -> Self {
        self.key_refetch_interval = interval;
        self
    }

    /// How long a fetched key set is used before it is fetched again
    /// (default 300 s), so retired keys drop out. If that fetch fails, the
    /// keys already known stay in use.
    pub fn key_max_age(mut self, age: Duration) -> Self {
        self.key_max_age = age;
        self
    }

    /// The longest an active introspection answer is reused (default 30 s;
    /// never past the token's `exp`). Zero disables the cache, so a token
    /// revoked at the AS is refused at once.
    pub fn introspection_cache_max(mut self, max: Duration) -> Self {
        self.introspection_cache_max = max;
        self
    }

    /// How long an inactive answer is reused (default 5 s).
    pub fn introspection_inactive_ttl(mut self, ttl: Duration) -> Self {
        self.introspection_inactive_ttl = ttl;
        self
    }

    /// How many introspection answers are kept at most (default 10 000).
    pub fn introspection_cache_capacity(mut self, capacity: usize) -> Self {
        self.introspection_cache_capacity = capacity;
        self
    }

    /// Timeout of each request to the AS (default 5 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Also accept the token as an `access_token` field of an
    /// `application/x-www-form-urlencoded` body (RFC 6750 §2.2) on `POST`,
    /// `PUT` and `PATCH`. Off by default.
    pub fn accept_body_token(mut self, accept: bool) -> Self {
        self.body_token = accept;
        self
    }

    /// The largest form body read when looking for a body token (default
    /// 64 KiB); larger ones are answered `413`.
    pub fn max_form_body(mut self, bytes: usize) -> Self {
        self.max_form_body = bytes;
        self
    }

    /// The clock (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks everything that can be checked without the network.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check_url(&self.issuer, true)?;
        if self.resource.is_empty() {
            return Err(ConfigError::EmptyResource);
        }
        if !crate::challenge::is_quotable(&self.realm) {
            return Err(ConfigError::Realm);
        }
        match &self.mode {
            Mode::Jwt { jwks_uri } => {
                if let Some(u) = jwks_uri {
                    check_url(u, false)?;
                }
            }
            Mode::Introspection {
                endpoint,
                credentials,
            } => {
                if let Some(u) = endpoint {
                    check_url(u, false)?;
                }
                if credentials.client_id.is_empty() {
                    return Err(ConfigError::EmptyClientId);
                }
            }
        }
        Ok(())
    }
}

/// A URL the guard may talk to: https, or plain http to a loopback host
/// (development). An issuer has no query, fragment or trailing slash
/// (RFC 8414 §2).
pub(crate) fn check_url(s: &str, issuer: bool) -> Result<url::Url, ConfigError> {
    let err = |why| ConfigError::Url(s.to_owned(), why);
    let url = url::Url::parse(s).map_err(|_| err("not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(err("plain http is only allowed to a loopback host")),
        _ => return Err(err("the scheme must be https")),
    }
    if url.fragment().is_some() {
        return Err(err("it has a fragment"));
    }
    if issuer && (url.query().is_some() || s.ends_with('/')) {
        return Err(err("an issuer has no query and no trailing slash"));
    }
    Ok(url)
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whole seconds of `d`, as the clock counts.
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_loopback_http() {
        assert!(check_url("https://as.example", true).is_ok());
        assert!(check_url("https://as.example/tenant", true).is_ok());
        assert!(check_url("http://localhost:9001", true).is_ok());
        assert!(check_url("http://127.0.0.1:9001", true).is_ok());
        assert!(check_url("http://[::1]:9001", true).is_ok());
        assert!(check_url("http://as.example", true).is_err());
        assert!(check_url("ftp://as.example", true).is_err());
        assert!(check_url("https://as.example/", true).is_err());
        assert!(check_url("https://as.example?x", true).is_err());
        assert!(check_url("https://as.example/jwks?x=1", false).is_ok());
        assert!(check_url("https://as.example#f", false).is_err());
        assert!(check_url("as.example", false).is_err());
    }

    #[test]
    fn the_secret_stays_out_of_debug() {
        let c = GuardConfig::introspection("https://as", "https://rs", "rs", "hunter2-secret");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn realms_are_checked() {
        assert!(GuardConfig::jwt("https://as", "r").validate().is_ok());
        assert!(matches!(
            GuardConfig::jwt("https://as", "r").realm("a\"b").validate(),
            Err(ConfigError::Realm)
        ));
        assert!(matches!(
            GuardConfig::jwt("https://as", "").validate(),
            Err(ConfigError::EmptyResource)
        ));
    }
}
