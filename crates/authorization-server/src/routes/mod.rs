//! HTTP handlers, one module per endpoint. Each parses the request, calls the
//! core for decisions and the store for state, and shapes the response.

pub mod authorize;
pub mod client_auth;
pub mod consent;
pub mod flow;
pub mod introspect;
pub mod jwks;
pub mod login;
pub mod metadata;
pub mod misc;
pub mod revoke;
pub mod token;

use axum::http::{HeaderMap, header};

/// Whether the request body is `application/x-www-form-urlencoded` (any
/// parameters, such as a charset, are allowed).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The page for a form body that is too large or cannot be read.
pub fn unreadable_body_page() -> crate::error::WebError {
    crate::error::WebError::page(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "This request cannot be completed",
        "The form sent was too large or could not be read.",
    )
}
