//! The server's runtime configuration (the file format lives in the binary).

use tessera_core::grant::TokenLifetimes;
use tessera_core::redirect_uri::Mode;

/// Why a configuration cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("issuer `{0}` is not a valid absolute URL")]
    IssuerNotUrl(String),
    #[error(
        "issuer `{0}` uses plain http: only http://localhost and http://127.0.0.1 are allowed (development mode); use https in production"
    )]
    PlainHttpIssuer(String),
    #[error("issuer `{0}` must not have a query, a fragment or a trailing slash")]
    IssuerShape(String),
}

/// Failed client authentications allowed before a client is locked out for a
/// while (RFC 6749 §2.3.1: brute-force protection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BruteForcePolicy {
    pub max_failures: u32,
    pub window_secs: i64,
    pub lockout_secs: i64,
}

impl Default for BruteForcePolicy {
    fn default() -> Self {
        Self {
            max_failures: 10,
            window_secs: 300,
            lockout_secs: 60,
        }
    }
}

/// Default refresh retry window: long enough for a client's retry after a
/// timeout, short enough that a stolen token rarely lands inside it.
pub const DEFAULT_REFRESH_RETRY_WINDOW_SECS: i64 = 10;
/// Default interval between housekeeping passes.
pub const DEFAULT_HOUSEKEEPING_INTERVAL_SECS: u64 = 300;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    issuer: String,
    mode: Mode,
    /// `aud` of access tokens until resource indicators arrive.
    pub default_audience: String,
    pub lifetimes: TokenLifetimes,
    /// How long a browser session at the AS lasts.
    pub session_ttl: i64,
    /// How long a user has to log in and consent.
    pub authorization_request_ttl: i64,
    pub brute_force: BruteForcePolicy,
    /// The access-token format for clients that do not choose their own.
    pub access_token_format: tessera_core::resource::AccessTokenFormat,
    /// Signing keys: algorithm, pre-publication, rotation, encryption at rest.
    pub keys: crate::keys::KeyPolicy,
    /// How long the same client presenting the same refresh token again gets
    /// the same answer (its child pair, while unused) instead of reuse
    /// detection; 0 turns the window off.
    pub refresh_retry_window_secs: i64,
    /// How often expired rows are removed; `None` turns housekeeping off.
    pub housekeeping_interval_secs: Option<u64>,
    /// The name the pages show and the words for each scope at consent.
    pub presentation: crate::presentation::Presentation,
    /// Header-read and body timeouts and the connection cap (tessera-serve).
    pub connections: tessera_serve::ConnectionLimits,
    /// Built-in TLS (certificate and key from files, reloaded on change);
    /// `None` serves plain http, for development or behind a proxy that
    /// terminates TLS.
    pub tls: Option<tessera_serve::Tls>,
    /// `Strict-Transport-Security` max-age on every response of an https
    /// issuer (served here or by a proxy); 0 sends none. Never sent in
    /// development mode (an http issuer).
    pub hsts_max_age_secs: u64,
    /// Failed logins per account and per source address: growing delays,
    /// then a lockout of the account.
    pub login_throttle: crate::login_throttle::LoginThrottlePolicy,
    /// How many Argon2 verifications run at once and how many may wait.
    pub password_hashing: crate::password_slots::HashingPolicy,
    /// The load balancers and reverse proxies whose `Forwarded` /
    /// `X-Forwarded-For` say where a request comes from.
    pub trusted_proxies: crate::trusted_proxies::TrustedProxies,
    /// Endpoint budgets per address and per client.
    pub budgets: crate::budgets::BudgetPolicy,
    /// How long audit events are kept; `None` keeps them for ever.
    pub audit_retention_secs: Option<i64>,
}

/// Default audit retention: a year, long enough to investigate an incident
/// found late, short enough that the table does not grow for ever.
pub const DEFAULT_AUDIT_RETENTION_SECS: i64 = 365 * 24 * 3600;

impl ServerConfig {
    /// Validates the issuer and derives the mode from it: `http://localhost`
    /// or `http://127.0.0.1` is development mode; anything else must be https.
    pub fn new(issuer: &str, default_audience: &str) -> Result<Self, ConfigError> {
        let url =
            url::Url::parse(issuer).map_err(|_| ConfigError::IssuerNotUrl(issuer.to_owned()))?;
        if url.query().is_some() || url.fragment().is_some() || issuer.ends_with('/') {
            return Err(ConfigError::IssuerShape(issuer.to_owned()));
        }
        let mode = match url.scheme() {
            "https" => Mode::Production,
            "http" if matches!(url.host_str(), Some("localhost" | "127.0.0.1")) => {
                Mode::Development
            }
            _ => return Err(ConfigError::PlainHttpIssuer(issuer.to_owned())),
        };
        Ok(Self {
            issuer: issuer.to_owned(),
            mode,
            default_audience: default_audience.to_owned(),
            lifetimes: TokenLifetimes::default(),
            session_ttl: 8 * 3600,
            authorization_request_ttl: 600,
            brute_force: BruteForcePolicy::default(),
            access_token_format: Default::default(),
            keys: Default::default(),
            refresh_retry_window_secs: DEFAULT_REFRESH_RETRY_WINDOW_SECS,
            housekeeping_interval_secs: Some(DEFAULT_HOUSEKEEPING_INTERVAL_SECS),
            presentation: crate::presentation::Presentation::for_issuer(issuer),
            connections: tessera_serve::ConnectionLimits::default(),
            tls: None,
            hsts_max_age_secs: tessera_serve::DEFAULT_HSTS_MAX_AGE_SECS,
            login_throttle: Default::default(),
            password_hashing: Default::default(),
            trusted_proxies: Default::default(),
            budgets: Default::default(),
            audit_retention_secs: Some(DEFAULT_AUDIT_RETENTION_SECS),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The headers every response carries: HSTS exactly when the issuer is
    /// https, whether this server terminates TLS or a proxy in front does
    /// (the browser reaches the issuer over https either way).
    pub fn security_headers(&self) -> tessera_serve::SecurityHeaders {
        tessera_serve::SecurityHeaders::for_https(
            self.mode == Mode::Production,
            self.hsts_max_age_secs,
        )
    }

    /// Cookies are `Secure` and `__Host-` prefixed when the issuer is https.
    pub fn secure_cookies(&self) -> bool {
        self.mode == Mode::Production
    }

    /// The issuer's path ("" for an issuer at the root): every endpoint is
    /// served under it.
    pub fn base_path(&self) -> &str {
        self.issuer
            .find("://")
            .and_then(|i| {
                self.issuer[i + 3..]
                    .find('/')
                    .map(|j| &self.issuer[i + 3 + j..])
            })
            .unwrap_or("")
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_a_plain_http_issuer() {
        assert!(matches!(
            ServerConfig::new("http://as.example.com", "x"),
            Err(ConfigError::PlainHttpIssuer(_))
        ));
        assert_eq!(
            ServerConfig::new("http://localhost:9001", "x")
                .map(|c| c.mode())
                .ok(),
            Some(Mode::Development)
        );
        assert_eq!(
            ServerConfig::new("https://as.example.com", "x")
                .map(|c| c.mode())
                .ok(),
            Some(Mode::Production)
        );
        assert!(ServerConfig::new("https://as.example.com/", "x").is_err());
        assert!(ServerConfig::new("https://as.example.com?x=1", "x").is_err());
    }
}
