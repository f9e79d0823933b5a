//! The photo API's handlers. Every one runs behind the guard, so a
//! [`TokenClaims`] is at hand; the token's subject owns the photos, and a user
//! only ever sees their own (every query filters by owner).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tessera_protected_resource::TokenClaims;

use crate::PhotoApi;
use crate::images::{self, UploadError};
use crate::store::PhotoInfo;

/// The JSON answer for a photo id that cannot be read from the path (a
/// segment whose bytes are not UTF-8): axum's own rejection is plain text.
fn malformed_id() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "the photo id in the path is malformed",
    )
}

/// A JSON error answer.
fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response()
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "photo store failure");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the photo store is unavailable; try again",
    )
}

#[derive(Debug, serde::Serialize)]
struct PhotoEntry {
    #[serde(flatten)]
    info: PhotoInfo,
    url: String,
}

fn entry(info: PhotoInfo) -> PhotoEntry {
    let url = format!("/photos/{}", info.id);
    PhotoEntry { info, url }
}

/// `GET /photos` (`photos:read`): the subject's photos.
pub async fn list(State(api): State<PhotoApi>, claims: TokenClaims) -> Response {
    if let Err(e) = api.store.seed_if_new(&claims.subject, api.now()).await {
        return unavailable(e);
    }
    match api.store.list(&claims.subject).await {
        Ok(photos) => {
            let photos: Vec<PhotoEntry> = photos.into_iter().map(entry).collect();
            Json(json!({ "owner": claims.subject, "photos": photos })).into_response()
        }
        Err(e) => unavailable(e),
    }
}

/// `GET /photos/{id}` (`photos:read`): the image itself.
pub async fn get(
    State(api): State<PhotoApi>,
    claims: TokenClaims,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = path else {
        return malformed_id();
    };
    match api.store.get(&claims.subject, &id).await {
        Ok(Some((content_type, bytes))) => {
            let mut r = bytes.into_response();
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            // The sample images are SVG: never let one run script or load
            // anything, even if opened directly.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            r
        }
        // Someone else's photo is as absent as a missing one.
        Ok(None) => error(StatusCode::NOT_FOUND, "not_found", "no such photo"),
        Err(e) => unavailable(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
}

/// `POST /photos?name=…` (`photos:write`): the body is the image, its
/// `Content-Type` one of PNG, JPEG, GIF or WebP. Stored in one statement, so
/// a refused or failed upload leaves nothing behind.
pub async fn upload(
    State(api): State<PhotoApi>,
    claims: TokenClaims,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // A repeated or unreadable `name`: our JSON, not axum's plain text.
    let Ok(Query(query)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the query is malformed (name given more than once?)",
        );
    };
    let Ok(body) = body else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &UploadError::TooLarge.to_string(),
        );
    };
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let content_type = match images::check_upload(declared, &body) {
        Ok(t) => t,
        Err(e @ UploadError::TooLarge) => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &e.to_string());
        }
        Err(e @ UploadError::UnsupportedType) => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                &e.to_string(),
            );
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_image", &e.to_string()),
    };
    let name: String = query
        .name
        .unwrap_or_else(|| "Untitled".to_owned())
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    // One reading of the clock for the whole request.
    let now = api.now();
    if let Err(e) = api.store.seed_if_new(&claims.subject, now).await {
        return unavailable(e);
    }
    match api
        .store
        .insert(&claims.subject, &name, content_type, &body, now)
        .await
    {
        Ok(info) => {
            let location = format!("/photos/{}", info.id);
            let mut r = (StatusCode::CREATED, Json(entry(info))).into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Err(e) => unavailable(e),
    }
}

/// `DELETE /photos/{id}` (`photos:write`).
pub async fn delete(
    State(api): State<PhotoApi>,
    claims: TokenClaims,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(id)) = path else {
        return malformed_id();
    };
    match api.store.delete(&claims.subject, &id).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, "not_found", "no such photo"),
        Err(e) => unavailable(e),
    }
}
