//! A bearer-token guard for axum and tower services: the protected-resource
//! side of OAuth 2.0.
//!
//! The guard finds the access token in a request (RFC 6750 §2: the
//! `Authorization: Bearer` header, optionally a form-body field, never the
//! query string), verifies it, checks the scopes a route requires, and hands
//! the handler the token's claims. Tokens are verified in one of two modes:
//!
//! - **JWT** ([`GuardConfig::jwt`]): JWT access tokens (RFC 9068) are
//!   verified locally with the authorization server's published keys
//!   (ES256, EdDSA or RS256, pinned to each key's own `alg`; `typ` must be
//!   `at+jwt`; `iss`, `aud`, `exp` and `nbf` are checked). Keys are cached
//!   and refetched when a token names an unknown key, at most once per
//!   interval.
//! - **Introspection** ([`GuardConfig::introspection`]): every token is
//!   asked about at the AS (RFC 7662), with the resource's own client
//!   credentials; answers are cached briefly under the token's SHA-256, and
//!   concurrent requests with the same token share one call.
//!
//! Refusals follow RFC 6750 §3: no token is `401` with a bare
//! `WWW-Authenticate: Bearer realm="…"`; a bad token `401 invalid_token`; a
//! missing scope `403 insufficient_scope`; a malformed request `400
//! invalid_request`. If the AS cannot be reached, the answer is `503`, never
//! a pass.
//!
//! # Example
//!
//! ```no_run
//! use axum::Router;
//! use axum::handler::Handler as _;
//! use axum::routing::get;
//! use tessera_protected_resource::{Guard, GuardConfig, TokenClaims};
//!
//! async fn list_photos(claims: TokenClaims) -> String {
//!     format!("the photos of {}", claims.subject)
//! }
//!
//! async fn upload_photo(claims: TokenClaims) -> String {
//!     format!("stored for {} (via {})", claims.subject, claims.client_id)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let guard = Guard::new(GuardConfig::jwt(
//!         "https://as.example",     // the issuer; keys come from its metadata
//!         "https://photos.example", // this resource: the `aud` of its tokens
//!     ))?;
//!     let app = Router::new().route(
//!         "/photos",
//!         get(list_photos.layer(guard.require("photos:read")))
//!             .post(upload_photo.layer(guard.require("photos:write"))),
//!     );
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:9002").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Introspection instead is one line:
//! `GuardConfig::introspection("https://as.example", "https://photos.example",
//! "photo-api", &secret)`. To guard every route alike, put `guard.layer()`
//! (any valid token) or `guard.require(…)` on the whole router.
//!
//! What a client sees without a token (nothing here needs the AS):
//!
//! ```
//! use axum::Router;
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode, header};
//! use axum::routing::get;
//! use tessera_protected_resource::{Guard, GuardConfig, TokenClaims};
//! use tower::Service as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::new(
//!     GuardConfig::jwt("https://as.example", "https://photos.example").realm("photos"),
//! )?;
//! let mut app: Router = Router::new()
//!     .route("/photos", get(|c: TokenClaims| async move { c.subject }))
//!     .layer(guard.require("photos:read"));
//!
//! let response = app.call(Request::get("/photos").body(Body::empty())?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()[header::WWW_AUTHENTICATE], r#"Bearer realm="photos""#);
//!
//! let response = app
//!     .call(Request::get("/photos").header("authorization", "Bearer a b").body(Body::empty())?)
//!     .await?;
//! assert_eq!(response.status(), StatusCode::BAD_REQUEST);
//! # Ok(())
//! # }
//! ```

mod cache;
mod challenge;
mod claim_values;
mod claims;
/// The clock comes from the runtime crate (modules here use `crate::clock`).
use tessera_runtime::clock;
mod config;
mod discovery;
mod error;
mod extract;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod http;
mod introspection;
mod jwks;
mod jwt;
mod layer;
mod token;

pub use claims::TokenClaims;
pub use config::{ConfigError, GuardConfig};
pub use error::{ErrorCode, GuardError};
pub use guard::Guard;
pub use jwks::ALLOWED_ALGORITHMS;
pub use layer::{GuardLayer, GuardService};
pub use tessera_runtime::{Clock, ManualClock, SystemClock, UnixTime};
pub use token::{BearerToken, MAX_TOKEN_LEN};

/// The RFC 6750 §3 answer (status, `WWW-Authenticate: Bearer`, JSON body)
/// for `error` under `realm`: for other bearer-token endpoints, such as the
/// authorization server's OIDC UserInfo, to answer exactly as the guard does.
pub fn bearer_error_response(error: &GuardError, realm: &str) -> axum::response::Response {
    challenge::response(error, realm)
}

/// The bearer token of `req` as the guard finds it (RFC 6750 §2): the
/// `Authorization` header, an `access_token` form field when `form_body`
/// (a `POST` form no larger than `max_body`), never the query string; more
/// than one way is `invalid_request`. The request comes back with its body.
pub async fn bearer_token(
    req: axum::http::Request<axum::body::Body>,
    form_body: bool,
    max_body: usize,
) -> (
    axum::http::Request<axum::body::Body>,
    Result<BearerToken, GuardError>,
) {
    extract::bearer_token(
        req,
        extract::Sources {
            body: form_body,
            max_body,
        },
    )
    .await
}
