//! Health, the stylesheet, and the not-found page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::WebError;
use crate::pages;

/// `GET /healthz`: the listener is bound only after start-up finished, so
/// answering at all means ready.
pub async fn health() -> &'static str {
    "ok"
}

pub async fn stylesheet() -> Response {
    let mut r = pages::STYLESHEET.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

pub async fn not_found() -> Response {
    WebError::page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing at this address.",
    )
    .into_response()
}

/// Any method but GET and POST on a browser endpoint.
pub async fn method_not_allowed_page() -> Response {
    let mut r = WebError::page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This request cannot be completed",
        "This address only answers GET and POST.",
    )
    .into_response();
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    r
}
