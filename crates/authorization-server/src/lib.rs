//! Tessera's authorization server: thin axum routes over an application
//! layer (`app`, one use case per module) over `tessera-core` (decisions)
//! and `tessera-store` (state).
//!
//! ```text
//! browser ──GET /authorize──▶ routes::authorize ──▶ app::authorization::start ──▶ core::authorize, store
//!         ◀──302 /login──────
//!         ──POST /login─────▶ routes::login     ──▶ app::authorization::sign_in (Argon2id, new session)
//!         ──POST /consent───▶ routes::consent   ──▶ app::authorization::consent ──▶ core::consent, store
//!         ◀──303 redirect_uri?code&state&iss
//! client  ──POST /token─────▶ routes::back_channel::AuthenticatedClient ──▶ app::client_auth
//!                             routes::token     ──▶ app::grants::exchange ──▶ core::grant, store
//! ```

pub mod admin;
pub mod app;
pub mod brute_force;
pub mod budgets;
pub mod config;
pub mod error;
pub mod housekeeping;
pub mod id_tokens;
pub mod keys;
pub mod limits;
pub mod login_throttle;
pub mod pages;
pub mod password_slots;
pub mod passwords;
pub mod presentation;
pub mod refresh_retry;
pub mod routes;
pub mod sealing;
pub mod session;
pub mod state;
pub mod tokens;
pub mod trusted_proxies;

use std::future::Future;

use axum::Router;
use axum::http::Request;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

pub use config::ServerConfig;
pub use state::AppState;
/// The clock, from the runtime crate (the AS's tests and the binary use this
/// path).
pub use tessera_runtime::clock;

/// The authorization server's routes. With an issuer that has a path
/// (`https://as.example/tenant`), every endpoint lives under that path and
/// the metadata at the path-inserted well-known URI (RFC 8414 §3.1).
pub fn router(state: AppState) -> Router {
    use axum::middleware::from_fn;
    use limits::{BACK_CHANNEL_BODY_BYTES, FORM_BODY_BYTES, browser_head, client_head};
    use routes::*;
    // Each endpoint's size limits (`limits.rs`): a browser route refuses
    // with a page, a back-channel route with OAuth JSON.
    let page = |route: axum::routing::MethodRouter<AppState>| {
        route
            .layer(limits::body(FORM_BODY_BYTES))
            .layer(from_fn(browser_head))
    };
    let back_channel = |route: axum::routing::MethodRouter<AppState>| {
        route
            .layer(limits::body(BACK_CHANNEL_BODY_BYTES))
            .layer(from_fn(client_head))
    };
    let endpoints = Router::new()
        .route(
            "/authorize",
            page(
                get(authorize::get)
                    .post(authorize::post)
                    .fallback(misc::method_not_allowed_page),
            ),
        )
        .route(
            "/login",
            page(
                get(login::page)
                    .post(login::submit)
                    .fallback(misc::method_not_allowed_page),
            ),
        )
        .route(
            "/consent",
            page(
                get(consent::page)
                    .post(consent::submit)
                    .fallback(misc::method_not_allowed_page),
            ),
        )
        .route(
            "/token",
            back_channel(post(token::token).fallback(token::method_not_allowed)),
        )
        .route(
            "/revoke",
            back_channel(post(revoke::revoke).fallback(token::method_not_allowed)),
        )
        .route(
            "/introspect",
            back_channel(post(introspect::introspect).fallback(token::method_not_allowed)),
        )
        .route(
            "/end_session",
            page(
                get(end_session::get)
                    .post(end_session::post)
                    .fallback(misc::method_not_allowed_page),
            ),
        )
        .route(
            "/userinfo",
            // UserInfo reads its own body, at most 8 KiB (its refusals are
            // the guard's); a URI or headers too large are JSON.
            back_channel(
                get(userinfo::userinfo)
                    .post(userinfo::userinfo)
                    .fallback(token::method_not_allowed),
            ),
        )
        .route(
            "/.well-known/openid-configuration",
            get(metadata::openid_configuration),
        )
        .route("/jwks.json", get(jwks::jwks))
        .route("/", get(home::home))
        .route("/healthz", get(misc::health))
        .route("/static/tessera.css", get(misc::stylesheet));
    let base = state.config.base_path().to_owned();
    let site = pages::Site {
        base: base.clone(),
        display_name: state.config.presentation.display_name().to_owned(),
    };
    let headers = state.config.security_headers();
    let metadata_path = format!("/.well-known/oauth-authorization-server{base}");
    let app = if base.is_empty() {
        endpoints
    } else {
        Router::new().nest(&base, endpoints)
    };
    let app = app
        .route(&metadata_path, get(metadata::metadata))
        .fallback(misc::not_found)
        // Error pages link the stylesheet under the issuer's path too, and
        // every page carries the server's name.
        .layer(axum::middleware::from_fn(
            move |req: Request<axum::body::Body>, next: axum::middleware::Next| {
                pages::SITE.scope(site.clone(), next.run(req))
            },
        ))
        .layer(limits::body(limits::DEFAULT_BODY_BYTES))
        // Spans name the method and path only: query strings carry state,
        // codes and challenges, which stay out of the logs.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state);
    // Outermost, so every answer gets them: pages, JSON, redirects, errors,
    // the 404 fallback, axum's own 405s and rejections.
    headers.apply(app)
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
/// Signing-key maintenance (reloading keys rotated by other processes,
/// scheduled rotation) and housekeeping (removing expired rows) run
/// alongside for as long as the server does.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let maintenance = tokio::spawn(state.keys.clone().run());
    let housekeeping = state.config.housekeeping_interval_secs.map(|secs| {
        tokio::spawn(housekeeping::run(
            state.clone(),
            std::time::Duration::from_secs(secs),
        ))
    });
    let limits = state.config.connections;
    let tls = state.config.tls.clone();
    let served = tessera_serve::serve_tls(listener, router(state), limits, tls, shutdown).await;
    maintenance.abort();
    if let Some(h) = housekeeping {
        h.abort();
    }
    served
}
