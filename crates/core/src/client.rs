//! Registered clients and what they are allowed to do.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::redirect_uri::{self, Mode};
use crate::scope::Scope;
use crate::secrets::MIN_CLIENT_SECRET_LEN;

/// Grant types a client may be registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    /// Every grant type this server serves (and advertises).
    pub const ALL: [GrantType; 3] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown grant type `{0}`")]
pub struct UnknownGrantType(pub String);

impl FromStr for GrantType {
    type Err = UnknownGrantType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            other => Err(UnknownGrantType(other.to_owned())),
        }
    }
}

/// A registered client as the protocol sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// HMAC of the secret; `None` for a public client (PKCE only).
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    /// Everything this client may ever ask for.
    pub scopes: Scope,
    pub grant_types: BTreeSet<GrantType>,
    /// PKCE is required for every client unless this legacy opt-out is set;
    /// public clients can never opt out.
    pub require_pkce: bool,
    /// May call the introspection endpoint (typically a resource server).
    pub introspect: bool,
    /// The resource this client serves, if it is a resource server: it may
    /// introspect tokens whose audience is this resource.
    pub resource: Option<String>,
    /// Overrides the server's access-token format for this client.
    pub access_token_format: Option<crate::resource::AccessTokenFormat>,
    /// The `alg` of this client's ID tokens (OIDC Dynamic Client
    /// Registration §2); RS256 when unset, as OIDC Core §3.1.3.7 requires.
    pub id_token_signed_response_alg: Option<crate::jwt::SigningAlgorithm>,
    /// Where RP-initiated logout may send the browser afterwards, compared
    /// byte for byte (never an open redirect).
    pub post_logout_redirect_uris: Vec<String>,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// [`Client::allows`] as the token endpoint answers it: a grant the
    /// client is not registered for is `unauthorized_client` (RFC 6749 §5.2).
    pub fn require(&self, grant: GrantType) -> Result<(), crate::error::OAuthError> {
        if self.allows(grant) {
            Ok(())
        } else {
            Err(crate::error::OAuthError::unauthorized_client(format!(
                "this client is not allowed the {grant} grant"
            )))
        }
    }

    pub fn pkce_required(&self) -> bool {
        self.require_pkce || self.is_public()
    }

    /// The algorithm this client's ID tokens are signed with.
    pub fn id_token_algorithm(&self) -> crate::jwt::SigningAlgorithm {
        self.id_token_signed_response_alg
            .unwrap_or(crate::jwt::SigningAlgorithm::Rs256)
    }

    /// What this client may put in `scope` at the authorization endpoint:
    /// its registered scopes, plus the OIDC scopes for code-flow clients.
    pub fn requestable_scopes(&self) -> Scope {
        if self.allows(GrantType::AuthorizationCode) {
            self.scopes.union(&crate::user_claims::oidc_scopes())
        } else {
            self.scopes.clone()
        }
    }
}

/// Why a client registration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientRegistrationError {
    #[error("client_id must be 1 to 255 printable characters")]
    ClientId,
    #[error("client secrets must be at least {MIN_CLIENT_SECRET_LEN} characters")]
    WeakSecret,
    #[error("redirect URI `{uri}`: {reason}")]
    RedirectUri {
        uri: String,
        reason: redirect_uri::RegistrationError,
    },
    #[error("a client with the authorization_code grant needs at least one redirect URI")]
    NoRedirectUri,
    #[error("a client needs at least one grant type")]
    NoGrantType,
    #[error("the client_credentials grant needs a confidential client (one with a secret)")]
    PublicClientCredentials,
    #[error("a public client cannot opt out of PKCE")]
    PublicWithoutPkce,
    #[error("the refresh_token grant only makes sense with authorization_code")]
    RefreshWithoutCode,
}

/// Checks what an operator asks to register, before anything is stored.
pub fn validate_registration(
    client_id: &str,
    secret: Option<&str>,
    redirect_uris: &[String],
    grant_types: &BTreeSet<GrantType>,
    require_pkce: bool,
    mode: Mode,
) -> Result<(), ClientRegistrationError> {
    // RFC 6749 Appendix A.1: client_id = *VSCHAR; we also forbid empty and
    // over-long ids.
    if client_id.is_empty()
        || client_id.len() > 255
        || !client_id.chars().all(|c| matches!(c, '\x20'..='\x7e'))
    {
        return Err(ClientRegistrationError::ClientId);
    }
    if let Some(s) = secret
        && s.chars().count() < MIN_CLIENT_SECRET_LEN
    {
        return Err(ClientRegistrationError::WeakSecret);
    }
    if grant_types.is_empty() {
        return Err(ClientRegistrationError::NoGrantType);
    }
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(ClientRegistrationError::NoRedirectUri);
    }
    if grant_types.contains(&GrantType::RefreshToken)
        && !grant_types.contains(&GrantType::AuthorizationCode)
    {
        return Err(ClientRegistrationError::RefreshWithoutCode);
    }
    if secret.is_none() {
        if grant_types.contains(&GrantType::ClientCredentials) {
            return Err(ClientRegistrationError::PublicClientCredentials);
        }
        if !require_pkce {
            return Err(ClientRegistrationError::PublicWithoutPkce);
        }
    }
    for uri in redirect_uris {
        redirect_uri::validate_registration(uri, mode).map_err(|reason| {
            ClientRegistrationError::RedirectUri {
                uri: uri.clone(),
                reason,
            }
        })?;
    }
    Ok(())
}

/// RFC 6749 §4.4 / §3.3: the scope of a client-credentials token. A scope
/// asked for must be within the client's registration; none asked means all
/// of it, narrowed to what the named resource offers (`resource_scopes`,
/// when one is registered). An empty result is `invalid_scope`.
pub fn client_credentials_scope(
    registered: &Scope,
    requested: Option<Scope>,
    resource_scopes: Option<&Scope>,
) -> Result<Scope, crate::error::OAuthError> {
    let scope = match requested {
        Some(s) if !s.is_empty() => {
            if !s.is_subset(registered) {
                return Err(crate::error::OAuthError::invalid_scope(
                    "the requested scope is not allowed for this client",
                ));
            }
            s
        }
        _ => match resource_scopes {
            Some(offered) => registered.intersection(offered),
            None => registered.clone(),
        },
    };
    if scope.is_empty() {
        return Err(crate::error::OAuthError::invalid_scope(
            "this client has no scope it may use at that resource",
        ));
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, OAuthError};

    fn grants(g: &[GrantType]) -> BTreeSet<GrantType> {
        g.iter().copied().collect()
    }

    #[test]
    fn short_configured_secrets_are_refused() {
        let uris = vec!["https://c.example/cb".to_owned()];
        let g = grants(&[GrantType::AuthorizationCode]);
        assert_eq!(
            validate_registration("c1", Some("short"), &uris, &g, true, Mode::Production),
            Err(ClientRegistrationError::WeakSecret)
        );
        assert!(
            validate_registration(
                "c1",
                Some(&"s".repeat(32)),
                &uris,
                &g,
                true,
                Mode::Production
            )
            .is_ok()
        );
    }

    #[test]
    fn public_clients_cannot_drop_pkce_or_use_client_credentials() {
        let uris = vec!["https://c.example/cb".to_owned()];
        let g = grants(&[GrantType::AuthorizationCode]);
        assert_eq!(
            validate_registration("p1", None, &uris, &g, false, Mode::Production),
            Err(ClientRegistrationError::PublicWithoutPkce)
        );
        let cc = grants(&[GrantType::ClientCredentials]);
        assert_eq!(
            validate_registration("p1", None, &[], &cc, true, Mode::Production),
            Err(ClientRegistrationError::PublicClientCredentials)
        );
    }

    #[test]
    fn bad_redirect_uris_are_named() {
        let uris = vec!["javascript:alert(1)".to_owned()];
        let g = grants(&[GrantType::AuthorizationCode]);
        let err = validate_registration("c1", None, &uris, &g, true, Mode::Production);
        assert!(matches!(
            err,
            Err(ClientRegistrationError::RedirectUri { .. })
        ));
    }
    #[test]
    fn rfc6749_4_4_client_credentials_scope() {
        let registered = Scope::parse("a b c").unwrap_or_default();
        let offered = Scope::parse("b c d").unwrap_or_default();
        let s = |v: &str| Scope::parse(v).unwrap_or_default();
        let code = |r: Result<Scope, OAuthError>| r.map(|s| s.to_string()).map_err(|e| e.code);
        assert_eq!(
            code(client_credentials_scope(&registered, None, None)),
            Ok("a b c".into())
        );
        assert_eq!(
            code(client_credentials_scope(
                &registered,
                Some(s("")),
                Some(&offered)
            )),
            Ok("b c".into()),
            "none asked: narrowed to what the resource offers"
        );
        assert_eq!(
            code(client_credentials_scope(
                &registered,
                Some(s("a")),
                Some(&offered)
            )),
            Ok("a".into())
        );
        assert_eq!(
            code(client_credentials_scope(&registered, Some(s("a x")), None)),
            Err(ErrorCode::InvalidScope)
        );
        assert_eq!(
            code(client_credentials_scope(&registered, None, Some(&s("x")))),
            Err(ErrorCode::InvalidScope),
            "nothing in common with the resource"
        );
    }
}
