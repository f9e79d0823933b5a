//! What can go wrong, with the RFC 6750 §3.1 error codes.

use axum::http::StatusCode;

/// The error codes of RFC 6750 §3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400: the request is malformed (a bad `Authorization` header, a token
    /// presented more than one way).
    InvalidRequest,
    /// 401: the token is expired, revoked, malformed, or not meant for us.
    InvalidToken,
    /// 403: the token is fine but lacks a scope the request needs.
    InsufficientScope,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
        }
    }
}

/// Why a request was not let through.
///
/// Descriptions are written here, never copied from the request, so no
/// token can end up in an answer or a log line through an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// No bearer token at all (or only one in the query string, which is
    /// ignored): `401` with a bare challenge, no error code (RFC 6750 §3.1).
    #[error("the request carries no bearer token")]
    MissingToken,
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    #[error("invalid_token: {0}")]
    InvalidToken(&'static str),
    /// `scope` is what the route requires, space-separated.
    #[error("insufficient_scope: the route requires `{scope}`")]
    InsufficientScope { scope: String },
    /// The form body that might carry the token is larger than the guard
    /// reads: `413`.
    #[error("the request body is too large to look for a token in")]
    BodyTooLarge,
    /// The keys or the introspection answer could not be obtained: `503`.
    /// The reason is for the log, not for the client.
    #[error("tokens cannot be checked right now: {0}")]
    Unavailable(String),
    /// A route was set up wrongly (an invalid required scope, a handler
    /// asking for claims without the guard's layer): `500`.
    #[error("the guard is misconfigured: {0}")]
    Misconfigured(&'static str),
}

impl GuardError {
    /// The RFC 6750 error code, if the answer carries one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::InvalidRequest(_) => Some(ErrorCode::InvalidRequest),
            Self::InvalidToken(_) => Some(ErrorCode::InvalidToken),
            Self::InsufficientScope { .. } => Some(ErrorCode::InsufficientScope),
            Self::MissingToken
            | Self::BodyTooLarge
            | Self::Unavailable(_)
            | Self::Misconfigured(_) => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken => StatusCode::UNAUTHORIZED,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Misconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InvalidRequest(_) | Self::InvalidToken(_) | Self::InsufficientScope { .. } => {
                self.code()
                    .map_or(StatusCode::BAD_REQUEST, ErrorCode::status)
            }
        }
    }

    /// The `error_description` sent to the client.
    pub fn description(&self) -> &'static str {
        match self {
            Self::MissingToken => "a bearer token is required",
            Self::InvalidRequest(d) | Self::InvalidToken(d) => d,
            Self::InsufficientScope { .. } => "the token lacks a scope this request requires",
            Self::BodyTooLarge => "the request body is too large",
            Self::Unavailable(_) => "the access token cannot be checked right now",
            Self::Misconfigured(_) => "internal error",
        }
    }
}
