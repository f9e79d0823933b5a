//! The guard: one configured verifier, shared by every route it protects.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::response::Response;

use crate::claims::TokenClaims;
use crate::config::{ConfigError, GuardConfig, Mode, secs};
use crate::discovery::Discovery;
use crate::error::GuardError;
use crate::extract::{self, Sources};
use crate::http::Http;
use crate::introspection::{Endpoint, Introspector, IntrospectorConfig};
use crate::jwks::{KeyCache, KeySource};
use crate::jwt::JwtVerifier;
use crate::layer::GuardLayer;
use crate::token::BearerToken;

/// Verifies bearer tokens for one protected resource. Cheap to clone; the
/// clones share their caches.
#[derive(Clone)]
pub struct Guard(Arc<Inner>);

struct Inner {
    realm: String,
    issuer: String,
    resource: String,
    sources: Sources,
    verifier: Verifier,
}

enum Verifier {
    Jwt(JwtVerifier),
    Introspection(Introspector),
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.0.verifier {
            Verifier::Jwt(_) => "jwt",
            Verifier::Introspection(_) => "introspection",
        };
        f.debug_struct("Guard")
            .field("issuer", &self.0.issuer)
            .field("resource", &self.0.resource)
            .field("realm", &self.0.realm)
            .field("mode", &mode)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// Checks `config` and builds the guard. Nothing is fetched yet: keys
    /// and metadata are fetched on first use, or by [`Guard::warm_up`].
    pub fn new(config: GuardConfig) -> Result<Self, ConfigError> {
        // jsonwebtoken verifies with aws-lc-rs; an error only means a
        // provider is installed already.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        config.validate()?;
        let http = Http::new(config.http_timeout)?;
        let clock = config.clock.clone();
        let refetch = secs(config.key_refetch_interval);
        let discovery = || -> Result<Arc<Discovery>, ConfigError> {
            Ok(Arc::new(Discovery::new(
                &config.issuer,
                http.clone(),
                clock.clone(),
                refetch,
            )?))
        };
        let verifier = match &config.mode {
            Mode::Jwt { jwks_uri } => {
                let max_age = secs(config.key_max_age);
                let source = match jwks_uri {
                    Some(u) => KeySource::Fixed(u.clone()),
                    None => KeySource::Discovered(discovery()?),
                };
                let keys = KeyCache::new(source, http.clone(), clock.clone(), refetch, max_age);
                Verifier::Jwt(JwtVerifier {
                    issuer: config.issuer.clone(),
                    resource: config.resource.clone(),
                    leeway: secs(config.leeway),
                    keys,
                    clock: clock.clone(),
                })
            }
            Mode::Introspection {
                endpoint,
                credentials,
            } => Verifier::Introspection(Introspector::new(IntrospectorConfig {
                endpoint: match endpoint {
                    Some(u) => Endpoint::Fixed(u.clone()),
                    None => Endpoint::Discovered(discovery()?),
                },
                credentials: credentials.clone(),
                http: http.clone(),
                issuer: config.issuer.clone(),
                resource: config.resource.clone(),
                leeway: secs(config.leeway),
                clock: clock.clone(),
                cache_max: secs(config.introspection_cache_max),
                inactive_ttl: secs(config.introspection_inactive_ttl),
                capacity: config.introspection_cache_capacity,
            })?),
        };
        Ok(Self(Arc::new(Inner {
            realm: config.realm,
            issuer: config.issuer,
            resource: config.resource,
            sources: Sources {
                body: config.body_token,
                max_body: config.max_form_body,
            },
            verifier,
        })))
    }

    /// Verifies `token`: its signature and claims (JWT mode) or the AS's
    /// answer about it (introspection mode).
    pub async fn verify(&self, token: &BearerToken) -> Result<TokenClaims, GuardError> {
        match &self.0.verifier {
            Verifier::Jwt(v) => v.verify(token).await,
            Verifier::Introspection(v) => v.verify(token).await,
        }
    }

    /// Finds the token in `req` (RFC 6750 §2) and verifies it. The request
    /// comes back unchanged (its body restored if a form body was read).
    pub async fn authenticate(
        &self,
        req: Request<Body>,
    ) -> (Request<Body>, Result<TokenClaims, GuardError>) {
        let (req, token) = extract::bearer_token(req, self.0.sources).await;
        let claims = match token {
            Ok(t) => self.verify(&t).await,
            Err(e) => Err(e),
        };
        (req, claims)
    }

    /// Fetches what the guard needs from the AS now (the metadata, and the
    /// keys in JWT mode) instead of at the first request, so a
    /// misconfiguration shows at startup.
    pub async fn warm_up(&self) -> Result<(), GuardError> {
        match &self.0.verifier {
            Verifier::Jwt(v) => v.keys.warm_up().await,
            Verifier::Introspection(v) => match &v.endpoint {
                Endpoint::Fixed(_) => Ok(()),
                Endpoint::Discovered(d) => d.metadata().await.map(|_| ()),
            },
        }
    }

    /// A layer that lets only requests with a valid token through, and hands
    /// the handler its [`TokenClaims`].
    pub fn layer(&self) -> GuardLayer {
        GuardLayer::new(self.clone(), Some(Arc::from(Vec::new())))
    }

    /// Like [`Guard::layer`], and the token must also carry every scope in
    /// `scopes` (space-separated), or the answer is `403
    /// insufficient_scope`. An invalid scope makes the route answer `500`
    /// (and log why); use [`Guard::try_require`] to catch that at startup.
    pub fn require(&self, scopes: &str) -> GuardLayer {
        let required = match parse_required(scopes) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(error = %e, "a route requires an invalid scope; it will answer 500");
                None
            }
        };
        GuardLayer::new(self.clone(), required)
    }

    /// [`Guard::require`], refusing an invalid scope up front.
    pub fn try_require(&self, scopes: &str) -> Result<GuardLayer, ConfigError> {
        Ok(GuardLayer::new(self.clone(), Some(parse_required(scopes)?)))
    }

    /// Identifies this guard (and its clones) while it lives.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    pub fn realm(&self) -> &str {
        &self.0.realm
    }

    /// The authorization server whose tokens this guard accepts.
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The resource's identifier: the `aud` its tokens must carry.
    pub fn resource(&self) -> &str {
        &self.0.resource
    }

    /// The answer for `error`: status, `WWW-Authenticate` challenge and
    /// JSON body (RFC 6750 §3), for handlers that refuse on their own.
    pub fn rejection(&self, error: &GuardError) -> Response {
        crate::challenge::response(error, &self.0.realm)
    }
}

/// Required scopes: RFC 6749 §3.3 scope tokens, at least one.
fn parse_required(scopes: &str) -> Result<Arc<[String]>, ConfigError> {
    let list: Vec<String> = scopes
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let valid = |s: &String| {
        s.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    };
    if list.is_empty() {
        return Err(ConfigError::Scope(scopes.to_owned()));
    }
    if let Some(bad) = list.iter().find(|s| !valid(s)) {
        return Err(ConfigError::Scope(bad.clone()));
    }
    Ok(list.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_scopes_are_scope_tokens() {
        assert_eq!(&*parse_required("photos:read").unwrap(), ["photos:read"]);
        assert_eq!(&*parse_required(" a  b ").unwrap(), ["a", "b"]);
        assert!(parse_required("").is_err());
        assert!(parse_required("a\"b").is_err());
        assert!(parse_required("a\\b").is_err());
        assert!(parse_required("é").is_err());
    }
}
