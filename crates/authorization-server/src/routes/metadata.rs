//! `GET /.well-known/oauth-authorization-server`: server metadata (RFC 8414),
//! and `GET /.well-known/openid-configuration` (OIDC Discovery §3): the same
//! document plus the OpenID Provider fields, built by the same code.
//!
//! Every list here comes from the constants the endpoints enforce, and
//! `scopes_supported` from the registered clients and resources: the
//! document cannot advertise what the server refuses.

use std::collections::BTreeSet;

use super::back_channel::{Endpoint, Introspection, Revocation, Token};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_core::authorize::{PROMPT_VALUES, RESPONSE_MODES, RESPONSE_TYPES};
use tessera_core::client::GrantType;
use tessera_core::jwt::SigningAlgorithm;
use tessera_core::pkce;
use tessera_core::user_claims::{CLAIMS_SUPPORTED, OIDC_SCOPES};

use crate::error::{OrInternal, WebError};
use crate::state::AppState;

pub async fn metadata(State(state): State<AppState>) -> Response {
    respond(document(&state).await)
}

pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    respond(document(&state).await.map(|mut doc| {
        add_openid_fields(&state, &mut doc);
        doc
    }))
}

fn respond(doc: Result<serde_json::Value, WebError>) -> Response {
    match doc {
        Ok(doc) => {
            let mut r = axum::Json(doc).into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            r
        }
        Err(e) => e.into_response(),
    }
}

/// What an OpenID Provider adds (OIDC Discovery §3), each value from the
/// code that enforces it.
fn add_openid_fields(state: &AppState, doc: &mut serde_json::Value) {
    let c = &state.config;
    let algs: Vec<&str> = SigningAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
    let mut scopes: BTreeSet<String> = doc["scopes_supported"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    scopes.extend(OIDC_SCOPES.iter().map(|s| (*s).to_owned()));
    let fields = json!({
        "userinfo_endpoint": c.endpoint("/userinfo"),
        "end_session_endpoint": c.endpoint("/end_session"),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "claims_supported": CLAIMS_SUPPORTED,
        "prompt_values_supported": PROMPT_VALUES,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    if let (Some(doc), serde_json::Value::Object(fields)) = (doc.as_object_mut(), fields) {
        doc.extend(fields);
    }
}

async fn document(state: &AppState) -> Result<serde_json::Value, WebError> {
    let mut scopes = BTreeSet::new();
    for client in state.store.clients().await.or_json()? {
        scopes.extend(client.scopes.iter().map(str::to_owned));
    }
    for resource in state.store.resources().await.or_json()? {
        scopes.extend(resource.scopes.iter().map(str::to_owned));
    }
    // Every code-flow client may ask for these (`Client::requestable_scopes`).
    scopes.extend(OIDC_SCOPES.iter().map(|s| (*s).to_owned()));
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
        // The lists the back-channel extractor enforces, per endpoint.
        "token_endpoint_auth_methods_supported": Token::AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": Revocation::AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": Introspection::AUTH_METHODS,
        "scopes_supported": scopes,
        "authorization_response_iss_parameter_supported": true,
    });
    Ok(doc)
}
