//! What a verified token says, handed to handlers as an axum extractor.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

use crate::clock::UnixTime;
use crate::error::GuardError;

/// The claims of a verified access token, the same in both modes (RFC 9068
/// claims for JWTs, RFC 7662 members for introspection).
///
/// Extract it in a handler behind the guard's layer:
/// `async fn list(claims: TokenClaims) -> …`. It holds no token, so its
/// `Debug` is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// `sub`: the resource owner, or the client itself for the client
    /// credentials grant.
    pub subject: String,
    /// `client_id`: the client the token was issued to.
    pub client_id: String,
    /// `scope`, split on spaces.
    pub scopes: Vec<String>,
    /// `exp`, Unix seconds.
    pub expires_at: UnixTime,
    /// `aud`: one of them is this resource.
    pub audience: Vec<String>,
    /// `iss`: the configured issuer.
    pub issuer: String,
    /// `jti`: always present in JWT mode (RFC 9068 §2.2).
    pub jti: Option<String>,
    /// `iat`.
    pub issued_at: Option<UnixTime>,
    /// `auth_time`: when the user last logged in, if a user is involved.
    pub auth_time: Option<UnixTime>,
}

impl TokenClaims {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The first of `required` the token lacks.
    pub(crate) fn missing_scope<'a>(&self, required: &'a [String]) -> Option<&'a str> {
        required
            .iter()
            .find(|s| !self.has_scope(s))
            .map(String::as_str)
    }
}

/// A space-separated `scope` value as a list (RFC 6749 §3.3), without
/// repeats; extra spaces are tolerated.
pub(crate) fn split_scope(scope: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// The guard's mark on a request it let through. Only this crate can make
/// one, so a handler cannot be fooled by another layer inserting claims.
#[derive(Clone)]
pub(crate) struct Verified {
    pub(crate) claims: Arc<TokenClaims>,
    /// Which guard verified them ([`crate::Guard::id`]): a layer reuses only
    /// its own guard's verdict, never one made for another resource.
    pub(crate) guard: usize,
}

impl<S: Send + Sync> FromRequestParts<S> for TokenClaims {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Verified>() {
            Some(v) => Ok(TokenClaims::clone(&v.claims)),
            None => {
                // Fail closed: a handler that wants claims without the layer
                // in front of it is a wiring mistake, never an open door.
                tracing::error!(
                    path = %parts.uri.path(),
                    "TokenClaims extracted on a route without the guard's layer"
                );
                Err(crate::challenge::response(
                    &GuardError::Misconfigured("no guard layer in front of this handler"),
                    "",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_on_spaces_without_repeats() {
        assert_eq!(split_scope(Some("a  b a c")), ["a", "b", "c"]);
        assert!(split_scope(None).is_empty());
        assert!(split_scope(Some(" ")).is_empty());
    }
}
