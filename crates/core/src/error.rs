//! OAuth error codes (RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6) and the
//! error value every protocol decision returns.

use std::borrow::Cow;
use std::fmt;

/// An error code from the RFCs, serialised exactly as the RFC spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    /// RFC 8707 §2: the requested resource is unknown or not allowed.
    InvalidTarget,
    /// RFC 7009 §2.2.1: the server cannot revoke this type of token.
    UnsupportedTokenType,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A protocol error: an RFC error code and a human-readable description.
///
/// Descriptions are written by us, never copied from the request, and are
/// restricted to the character set RFC 6749 §5.2 allows (`%x20-21 / %x23-5B /
/// %x5D-7E`), so they can go into a JSON body, a redirect URI or a log line
/// without escaping concerns and never carry a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        let description = description.into();
        let description = if description.chars().all(is_error_char) {
            description
        } else {
            Cow::Owned(
                description
                    .chars()
                    .map(|c| if is_error_char(c) { c } else { '?' })
                    .collect(),
            )
        };
        Self { code, description }
    }

    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, d)
    }
    pub fn unauthorized_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, d)
    }
    pub fn server_error(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::ServerError, d)
    }
}

/// RFC 6749 §5.2: `error_description` characters are `%x20-21 / %x23-5B / %x5D-7E`.
pub fn is_error_char(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_restricted_to_the_rfc_character_set() {
        let e = OAuthError::invalid_request("bad \"value\"\r\n\tend\\é");
        assert!(e.description.chars().all(is_error_char));
        assert_eq!(e.description, "bad ?value????end??");
    }
}
