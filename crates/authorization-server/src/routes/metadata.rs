//! `GET /.well-known/oauth-authorization-server`: server metadata (RFC 8414).
//!
//! Every list here comes from the constants the endpoints enforce, and
//! `scopes_supported` from the registered clients and resources: the
//! document cannot advertise what the server refuses.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_core::authorize::{RESPONSE_MODES, RESPONSE_TYPES};
use tessera_core::client::GrantType;
use tessera_core::pkce;
use tessera_core::token_request::AUTH_METHODS;

use crate::error::{OrInternal, WebError};
use crate::state::AppState;

/// Methods a confidential client uses at introspection (public clients may
/// not introspect).
const INTROSPECTION_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post"];

pub async fn metadata(State(state): State<AppState>) -> Response {
    document(&state)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn document(state: &AppState) -> Result<Response, WebError> {
    let mut scopes = BTreeSet::new();
    for client in state.store.clients().await.or_json()? {
        scopes.extend(client.scopes.iter().map(str::to_owned));
    }
    for resource in state.store.resources().await.or_json()? {
        scopes.extend(resource.scopes.iter().map(str::to_owned));
    }
    let c = &state.config;
    let grant_types: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let doc = json!({
        "issuer": c.issuer(),
        "authorization_endpoint": c.endpoint("/authorize"),
        "token_endpoint": c.endpoint("/token"),
        "jwks_uri": c.endpoint("/jwks.json"),
        "revocation_endpoint": c.endpoint("/revoke"),
        "introspection_endpoint": c.endpoint("/introspect"),
        "response_types_supported": RESPONSE_TYPES,
        "response_modes_supported": RESPONSE_MODES,
        "grant_types_supported": grant_types,
        "code_challenge_methods_supported": pkce::SUPPORTED_METHODS,
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": INTROSPECTION_AUTH_METHODS,
        "scopes_supported": scopes,
        "authorization_response_iss_parameter_supported": true,
    });
    let mut r = axum::Json(doc).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(r)
}
