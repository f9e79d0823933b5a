//! `GET /jwks.json`: the public keys that verify access tokens (RFC 7517).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut r = axum::Json(serde_json::json!({ "keys": state.public_jwks() })).into_response();
    // Resources cache the set; a new key is published ahead of use.
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}
