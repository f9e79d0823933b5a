//! Protected resources (RFC 8707 resource indicators) and the form of the
//! access tokens issued for them.

use std::fmt;
use std::str::FromStr;

use crate::error::{ErrorCode, OAuthError};
use crate::redirect_uri::Mode;
use crate::scope::Scope;

/// A registered protected resource: the `aud` of tokens issued for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// An absolute URI without a fragment (RFC 8707 §2).
    pub identifier: String,
    pub name: String,
    /// The scopes that mean something at this resource.
    pub scopes: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceRegistrationError {
    #[error(
        "a resource identifier must be an absolute https URI without a fragment (http only for localhost in development)"
    )]
    Identifier,
}

/// Checks a resource identifier for registration.
pub fn validate_identifier(identifier: &str, mode: Mode) -> Result<(), ResourceRegistrationError> {
    let url = url::Url::parse(identifier).map_err(|_| ResourceRegistrationError::Identifier)?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => loopback && (mode == Mode::Development || url.host_str() != Some("localhost")),
        _ => false,
    };
    let canonical = url.as_str() == identifier || url.as_str() == format!("{identifier}/");
    if !scheme_ok || url.fragment().is_some() || identifier.contains('#') || !canonical {
        return Err(ResourceRegistrationError::Identifier);
    }
    Ok(())
}

/// Decides the audience of a token: the requested resource if it is
/// registered (and the scope makes sense there), else the default.
pub fn audience_for(
    requested: Option<&str>,
    registered: Option<&Resource>,
    scope: &Scope,
    default_audience: &str,
) -> Result<String, OAuthError> {
    match (requested, registered) {
        (None, _) => Ok(default_audience.to_owned()),
        (Some(_), None) => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "the requested resource is not known here",
        )),
        (Some(id), Some(r)) => {
            // The OIDC scopes are about the user at this server, not about
            // the resource, so they do not count against it.
            let for_resource = scope.difference(&crate::user_claims::oidc_scopes());
            if !for_resource.is_subset(&r.scopes) {
                return Err(OAuthError::invalid_scope(
                    "the requested scope is not offered by that resource",
                ));
            }
            Ok(id.to_owned())
        }
    }
}

/// How access tokens are issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTokenFormat {
    /// Self-contained JWTs (RFC 9068): verified locally by resources.
    #[default]
    Jwt,
    /// Random strings: resources must introspect them, so revocation takes
    /// effect at once.
    Opaque,
}

impl AccessTokenFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Opaque => "opaque",
        }
    }
}

impl fmt::Display for AccessTokenFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("access_token_format must be \"jwt\" or \"opaque\", not `{0}`")]
pub struct UnknownTokenFormat(pub String);

impl FromStr for AccessTokenFormat {
    type Err = UnknownTokenFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jwt" => Ok(Self::Jwt),
            "opaque" => Ok(Self::Opaque),
            other => Err(UnknownTokenFormat(other.to_owned())),
        }
    }
}

/// RFC 8707 §2.2: a `resource` at the token endpoint must be one the grant
/// was issued for.
pub fn check_resource(requested: Option<&str>, audience: &str) -> Result<(), OAuthError> {
    match requested {
        Some(r) if r != audience => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "the resource is not one this grant was issued for",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_absolute_https_uris_without_fragments() {
        assert!(validate_identifier("https://photos.example", Mode::Production).is_ok());
        assert!(validate_identifier("https://photos.example/api", Mode::Production).is_ok());
        assert!(validate_identifier("http://localhost:9002", Mode::Development).is_ok());
        for bad in [
            "photos",
            "https://photos.example#x",
            "http://photos.example",
            "urn:x:y",
            "http://localhost:9002",
        ] {
            let mode = if bad.starts_with("http://localhost") {
                Mode::Production
            } else {
                Mode::Development
            };
            assert!(validate_identifier(bad, mode).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_oidc_scopes_do_not_count_against_a_resource() {
        let r = Resource {
            identifier: "https://x".into(),
            name: "X".into(),
            scopes: Scope::parse("a").unwrap_or_default(),
        };
        let scope = Scope::parse("openid email a").unwrap_or_default();
        assert_eq!(
            audience_for(Some("https://x"), Some(&r), &scope, "https://d"),
            Ok("https://x".into())
        );
        let scope = Scope::parse("openid b").unwrap_or_default();
        assert_eq!(
            audience_for(Some("https://x"), Some(&r), &scope, "https://d").map_err(|e| e.code),
            Err(ErrorCode::InvalidScope)
        );
    }

    #[test]
    fn unknown_resources_are_invalid_target() {
        let scope = Scope::parse("a").unwrap_or_default();
        assert_eq!(
            audience_for(None, None, &scope, "https://d"),
            Ok("https://d".into())
        );
        assert_eq!(
            audience_for(Some("https://x"), None, &scope, "https://d").map_err(|e| e.code),
            Err(ErrorCode::InvalidTarget)
        );
        let r = Resource {
            identifier: "https://x".into(),
            name: "X".into(),
            scopes: Scope::parse("a b").unwrap_or_default(),
        };
        assert_eq!(
            audience_for(Some("https://x"), Some(&r), &scope, "https://d"),
            Ok("https://x".into())
        );
        let c = Scope::parse("c").unwrap_or_default();
        assert_eq!(
            audience_for(Some("https://x"), Some(&r), &c, "https://d").map_err(|e| e.code),
            Err(ErrorCode::InvalidScope)
        );
    }
    #[test]
    fn rfc8707_2_2_resource_at_the_token_endpoint_must_match_the_grant() {
        assert_eq!(check_resource(None, "https://rs"), Ok(()));
        assert_eq!(check_resource(Some("https://rs"), "https://rs"), Ok(()));
        assert_eq!(
            check_resource(Some("https://other"), "https://rs")
                .err()
                .map(|e| e.code),
            Some(ErrorCode::InvalidTarget)
        );
    }
}
