//! The web layer's one error type, and how each kind is answered.
//!
//! OAuth endpoints answer with OAuth-shaped JSON (RFC 6749 §5.2); browser
//! endpoints with a readable HTML page. Internal failures are logged with
//! their cause and answered without it: nothing in a response body comes from
//! a database error, and no secret ever reaches either.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::error::{ErrorCode, OAuthError};

use crate::app::AppError;
use crate::pages;

#[derive(Debug)]
pub enum WebError {
    /// An OAuth JSON error (token endpoint and friends).
    Json {
        status: StatusCode,
        error: OAuthError,
        /// Answer with `WWW-Authenticate: Basic` (the client tried Basic).
        basic_challenge: bool,
        retry_after: Option<i64>,
    },
    /// A browser-facing error page.
    Page {
        status: StatusCode,
        title: &'static str,
        message: String,
        /// `Retry-After` (seconds) on a 429 or 503 page.
        retry_after: Option<i64>,
    },
}

impl WebError {
    pub fn json(error: OAuthError) -> Self {
        let status = match error.code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::Json {
            status,
            error,
            basic_challenge: false,
            retry_after: None,
        }
    }

    pub fn page(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self::Page {
            status,
            title,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request_page(message: impl Into<String>) -> Self {
        Self::page(
            StatusCode::BAD_REQUEST,
            "This request cannot be completed",
            message,
        )
    }

    pub fn forbidden_page(message: impl Into<String>) -> Self {
        Self::page(StatusCode::FORBIDDEN, "This request was refused", message)
    }
}

impl From<OAuthError> for WebError {
    fn from(e: OAuthError) -> Self {
        Self::json(e)
    }
}

impl WebError {
    /// A use case's failure answered on an OAuth endpoint: JSON.
    pub fn from_app_json(e: AppError) -> Self {
        match e {
            AppError::OAuth(error) => Self::json(error),
            AppError::ClientAuthentication(e) => {
                let mut answer = Self::json(e.error);
                // RFC 6749 §5.2: a 401 to a client that tried Basic names it.
                if let Self::Json {
                    status,
                    basic_challenge,
                    ..
                } = &mut answer
                {
                    *basic_challenge = e.basic_attempted && *status == StatusCode::UNAUTHORIZED;
                }
                answer
            }
            AppError::LockedOut { retry_after } => Self::Json {
                status: StatusCode::TOO_MANY_REQUESTS,
                error: OAuthError::invalid_client(
                    "too many failed authentication attempts; try again later",
                ),
                basic_challenge: false,
                retry_after: Some(retry_after),
            },
            AppError::OverBudget { retry_after } => Self::Json {
                status: StatusCode::TOO_MANY_REQUESTS,
                error: OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "too many requests; retry after the time in Retry-After",
                ),
                basic_challenge: false,
                retry_after: Some(retry_after),
            },
            AppError::Forbidden(error) => Self::Json {
                status: StatusCode::FORBIDDEN,
                error,
                basic_challenge: false,
                retry_after: None,
            },
            AppError::Flow(refusal) => Self::json(OAuthError::invalid_request(refusal.to_string())),
            AppError::Unavailable(cause) => Self::unavailable_json(&cause),
        }
    }

    /// A use case's failure answered in the browser: a page. (Protocol
    /// errors that may be redirected never get here: the use case returns
    /// them as a redirect to the trusted URI.)
    pub fn from_app_page(e: AppError) -> Self {
        match e {
            AppError::Flow(refusal) if refusal.is_forbidden() => {
                Self::forbidden_page(refusal.to_string())
            }
            AppError::Flow(refusal) => Self::bad_request_page(refusal.to_string()),
            AppError::Unavailable(cause) => Self::unavailable_page(&cause),
            AppError::OverBudget { retry_after } => Self::Page {
                status: StatusCode::TOO_MANY_REQUESTS,
                title: "Too many requests",
                message: format!(
                    "Too many sign-ins were started from your network. Try again in {} s.",
                    retry_after.max(1)
                ),
                retry_after: Some(retry_after),
            },
            other => Self::bad_request_page(other.to_string()),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Json {
                status,
                error,
                basic_challenge,
                retry_after,
            } => {
                let mut body = serde_json::json!({ "error": error.code.as_str() });
                if !error.description.is_empty() {
                    body["error_description"] = error.description.as_ref().into();
                }
                let mut response = (status, axum::Json(body)).into_response();
                let h = response.headers_mut();
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
                if basic_challenge {
                    h.insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"tessera\""),
                    );
                }
                if let Some(secs) = retry_after
                    && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
                {
                    h.insert(header::RETRY_AFTER, v);
                }
                response
            }
            WebError::Page {
                status,
                title,
                message,
                retry_after,
            } => {
                let mut response = pages::error_page(status, title, &message);
                if let Some(secs) = retry_after
                    && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
                {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
                response
            }
        }
    }
}

/// Turns an internal failure into a response for the right audience, logging
/// the cause. Storage failures are 503: the request may be retried, and it
/// never reads as success (fosite CVE-2020-15223).
pub trait OrInternal<T> {
    fn or_json(self) -> Result<T, WebError>;
    fn or_page(self) -> Result<T, WebError>;
}

impl<T, E: std::fmt::Display> OrInternal<T> for Result<T, E> {
    fn or_json(self) -> Result<T, WebError> {
        self.map_err(|e| WebError::unavailable_json(&e))
    }

    fn or_page(self) -> Result<T, WebError> {
        self.map_err(|e| WebError::unavailable_page(&e))
    }
}

impl WebError {
    /// An internal failure on an OAuth endpoint: its cause logged, a 503
    /// `temporarily_unavailable` answered.
    fn unavailable_json(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal failure on an OAuth endpoint");
        Self::json(OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the server cannot handle this request right now; try again",
        ))
    }

    /// An internal failure on a page: its cause logged, a 503 page shown.
    fn unavailable_page(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal failure on a page");
        Self::page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Something went wrong",
            "The server cannot handle this request right now. Please try again in a moment.",
        )
    }
}
