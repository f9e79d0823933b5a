//! How large a request each endpoint takes (issue 13 item 5). OAuth forms,
//! the login and consent forms and the logout request are small, so a
//! request far larger than any real one is refused before it is read or
//! parsed, with the answer its endpoint owes: OAuth-shaped JSON on the back
//! channel, a readable page in the browser, an RFC 6750 challenge at
//! UserInfo. The hyper connection's own header limit (crates/serve) still
//! bounds what is buffered before any of this runs.
//!
//! | what                                   | limit  | answer                     |
//! |----------------------------------------|--------|----------------------------|
//! | body of `/token`, `/revoke`, `/introspect` | 16 KiB | 413 JSON `invalid_request` |
//! | body of `/login`, `/consent`, `/end_session`, `POST /authorize` | 16 KiB | 413 page |
//! | body of `POST /userinfo`               | 8 KiB (read by the guard's code) | 413 `invalid_request` (RFC 6750 JSON) |
//! | any other body                         | 64 KiB | (no other route reads one) |
//! | request target (path and query)        | 8 KiB  | 414, JSON or page          |
//! | all header names and values together   | 16 KiB | 431, JSON or page          |

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tessera_core::error::OAuthError;

use crate::error::WebError;

/// The body of a back-channel request (token, revocation, introspection).
pub const BACK_CHANNEL_BODY_BYTES: usize = 16 * 1024;
/// The body of a browser form (authorize, login, consent, logout).
pub const FORM_BODY_BYTES: usize = 16 * 1024;
/// Any other body (no other route reads one).
pub const DEFAULT_BODY_BYTES: usize = 64 * 1024;
/// The request target: path and query.
pub const URI_BYTES: usize = 8 * 1024;
/// Every header's name and value, added up.
pub const HEADER_BYTES: usize = 16 * 1024;

/// Who is asking, and so how a refusal reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// A client on the back channel: OAuth-shaped JSON.
    Client,
    /// A person's browser: a page.
    Browser,
}

/// The body limit of a route, as a layer.
pub fn body(bytes: usize) -> DefaultBodyLimit {
    DefaultBodyLimit::max(bytes)
}

/// The URI and header limits of a back-channel route (with
/// `axum::middleware::from_fn`): JSON refusals.
pub async fn client_head(req: Request, next: Next) -> Response {
    match too_large(&req) {
        Some((status, what)) => refusal(Audience::Client, status, what),
        None => next.run(req).await,
    }
}

/// The URI and header limits of a browser route: refusals as pages.
pub async fn browser_head(req: Request, next: Next) -> Response {
    match too_large(&req) {
        Some((status, what)) => refusal(Audience::Browser, status, what),
        None => next.run(req).await,
    }
}

/// Which limit `req` is over, if any.
fn too_large(req: &Request) -> Option<(StatusCode, &'static str)> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > URI_BYTES {
        return Some((StatusCode::URI_TOO_LONG, "the request URI is too long"));
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers > HEADER_BYTES {
        return Some((
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "the request headers are too large",
        ));
    }
    None
}

fn refusal(audience: Audience, status: StatusCode, what: &'static str) -> Response {
    match audience {
        Audience::Client => WebError::Json {
            status,
            error: OAuthError::invalid_request(what),
            basic_challenge: false,
            retry_after: None,
        }
        .into_response(),
        Audience::Browser => WebError::page(
            status,
            "This request cannot be completed",
            format!("The request was too large ({what})."),
        )
        .into_response(),
    }
}
