//! Errors. None of them carries a token, a code or a verifier: they are
//! built from error codes and our own words, never from response bodies.

/// Why a callback was refused. Every variant except `TokenRequest` and
/// `UnusableTokens` is decided before any request reaches the authorization
/// server.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("the callback has no state")]
    MissingState,
    #[error("the callback's state does not belong to this authorization request")]
    StateMismatch,
    #[error("the callback has no iss although the authorization server always sends it")]
    MissingIssuer,
    #[error("the callback comes from another issuer than the one the request went to")]
    IssuerMismatch,
    #[error("the callback repeats the parameter {0}")]
    RepeatedParameter(String),
    /// The user said no at the consent page: show a friendly page.
    #[error("the user denied access")]
    AccessDenied,
    /// Any other `error=` in the callback.
    #[error("the authorization server answered with error {code}")]
    Authorization {
        code: String,
        description: Option<String>,
    },
    #[error("the callback has no code")]
    MissingCode,
    /// The code exchange itself failed: no tokens were issued.
    #[error("the code exchange failed: {0}")]
    TokenRequest(#[from] Error),
    /// Tokens were issued, but the answer failed the client's checks (no
    /// ID token although `openid` was asked for, a refused ID token,
    /// another token type than bearer), so the client cannot use them. It
    /// asked the server to revoke them (RFC 7009): `revoked` says whether
    /// every revocation succeeded.
    #[error("tokens were issued but cannot be used: {reason}; {}", revocation_outcome(*.revoked))]
    UnusableTokens { reason: Error, revoked: bool },
}

fn revocation_outcome(revoked: bool) -> &'static str {
    if revoked {
        "they were revoked"
    } else {
        "revoking them failed"
    }
}

/// Discovery, token-endpoint, revocation and resource-call errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the metadata document could not be fetched: {0}")]
    Metadata(String),
    #[error("the metadata names issuer {found:?}, not the configured {expected:?} (RFC 8414 §3.3)")]
    IssuerMismatch { expected: String, found: String },
    #[error("{0} is neither https nor loopback")]
    InsecureEndpoint(String),
    #[error("{0} is not a valid URL")]
    InvalidUrl(String),
    #[error("the authorization server does not support PKCE S256")]
    NoS256,
    #[error("the authorization server has no revocation endpoint")]
    NoRevocationEndpoint,
    /// The refresh token no longer works (`invalid_grant`) or there is none:
    /// the user must go through the authorization flow again.
    #[error("reauthorization required: the refresh token no longer works")]
    ReauthorizationRequired,
    #[error("the token endpoint answered {code}")]
    OAuth {
        code: String,
        description: Option<String>,
    },
    #[error("unsupported token type {0:?} (only bearer is used)")]
    UnsupportedTokenType(String),
    #[error("the authorization server's answer could not be read")]
    BadResponse,
    /// `openid` was asked for and no ID token came back.
    #[error("the token response has no ID token although openid was requested")]
    MissingIdToken,
    #[error("the ID token was refused: {0}")]
    InvalidIdToken(&'static str),
    /// OIDC Core §12.2: a refreshed ID token names another `sub` (or `iss`)
    /// than the first one. The new tokens are not used.
    #[error(
        "the refreshed ID token is about another user (its {claim} is not the signed-in user's, OIDC Core §12.2): the refresh result was refused"
    )]
    IdentityChanged { claim: &'static str },
    /// The AS's key set could not be fetched (or read).
    #[error("the authorization server's keys (JWKS) could not be fetched: {0}")]
    Jwks(String),
    #[error("the request could not be prepared: {0}")]
    Request(&'static str),
    #[error("HTTP failure: {0}")]
    Transport(String),
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        // Without the URL: a resource URL could carry anything the caller put there.
        Error::Transport(e.without_url().to_string())
    }
}

/// Maps oauth2's token-request error without its raw body (which, for a
/// parse error, could hold a token).
pub(crate) fn from_token_error<RE: std::error::Error + 'static>(
    e: oauth2::RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> Error {
    use oauth2::RequestTokenError as E;
    match e {
        E::ServerResponse(r) => Error::OAuth {
            code: r.error().as_ref().to_owned(),
            description: r.error_description().cloned(),
        },
        E::Request(re) => Error::Transport(re.to_string()),
        E::Parse(..) | E::Other(..) => Error::BadResponse,
    }
}
