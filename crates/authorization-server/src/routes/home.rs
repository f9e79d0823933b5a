//! `GET /` (the issuer's own address): a small page saying what this server
//! is, with its issuer and the links a developer looks for (discovery,
//! metadata, keys). People reach it from the demo's banner or by trimming
//! a URL; nothing here needs a session.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::pages;
use crate::state::AppState;

pub async fn home(State(state): State<AppState>) -> Response {
    let c = &state.config;
    let issuer = c.issuer();
    // RFC 8414 §3.1: the metadata's well-known path goes between the host
    // and the issuer's path.
    let origin = issuer.strip_suffix(c.base_path()).unwrap_or(issuer);
    pages::render(
        StatusCode::OK,
        "home.html",
        minijinja::context! {
            title => "About this server",
            issuer,
            openid_configuration => c.endpoint("/.well-known/openid-configuration"),
            oauth_metadata => format!("{origin}/.well-known/oauth-authorization-server{}", c.base_path()),
            jwks => c.endpoint("/jwks.json"),
        },
    )
}
