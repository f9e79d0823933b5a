//! `GET /`: what this API is, for whoever opens its address (a developer's
//! browser from the demo, or a program). It is an API, so the answer is
//! JSON, pretty-printed so it reads in a browser too; the member names for
//! the resource, its authorization server and its scopes are RFC 9728's.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What the description names: the resource and where its tokens come from.
#[derive(Debug, Clone)]
pub struct About {
    /// The resource's identifier (the `aud` of its tokens).
    pub resource: String,
    /// The authorization server that issues its tokens.
    pub issuer: String,
}

impl About {
    /// From the guard in front of the API: its resource and issuer.
    pub fn of(guard: &tessera_protected_resource::Guard) -> Self {
        Self {
            resource: guard.resource().to_owned(),
            issuer: guard.issuer().to_owned(),
        }
    }
}

/// The routes, as the crate's documentation lists them.
const ENDPOINTS: &[(&str, &str, &str, &str)] = &[
    ("GET", "/photos", "photos:read", "your photos, as JSON"),
    ("GET", "/photos/{id}", "photos:read", "one image"),
    (
        "POST",
        "/photos",
        "photos:write",
        "upload an image (PNG, JPEG, GIF or WebP; at most 2 MiB)",
    ),
    ("DELETE", "/photos/{id}", "photos:write", "delete one photo"),
];

pub async fn about(State(about): State<About>) -> Response {
    let endpoints: Vec<_> = ENDPOINTS
        .iter()
        .map(|(method, path, scope, what)| {
            json!({ "method": method, "path": path, "scope": scope, "description": what })
        })
        .collect();
    let body = json!({
        "name": "Tessera photo API",
        "description": "The demo protected resource of Tessera: a photo-storage API. Every photo route needs an OAuth 2.0 access token from the authorization server below, issued for this resource and sent as `Authorization: Bearer <token>`; each user sees only their own photos.",
        "resource": about.resource,
        "authorization_servers": [about.issuer],
        "scopes_supported": ["photos:read", "photos:write"],
        "endpoints": endpoints,
    });
    match serde_json::to_string_pretty(&body) {
        Ok(text) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            text + "\n",
        )
            .into_response(),
        Err(_) => Json(body).into_response(),
    }
}

/// Any other address: a JSON answer that says where the description is,
/// not an empty body.
pub async fn not_found() -> Response {
    (
        axum::http::StatusCode::NOT_FOUND,
        Json(json!({
            "error": "not_found",
            "error_description": "no such endpoint; GET / describes this API",
        })),
    )
        .into_response()
}

/// A method the path does not serve: 405 in JSON, like every other error.
pub async fn method_not_allowed() -> Response {
    (
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({
            "error": "method_not_allowed",
            "error_description": "this endpoint does not serve that method; GET / describes this API",
        })),
    )
        .into_response()
}
