//! The photo-storage API: the protected resource of the OAuth dance (the
//! service the photo printer wants to read from).
//!
//! ```text
//! GET    /              -             what this API is (JSON)
//! GET    /photos        photos:read   the token subject's photos (JSON)
//! GET    /photos/{id}   photos:read   one image
//! POST   /photos        photos:write  upload an image (PNG, JPEG, GIF, WebP; 2 MiB)
//! DELETE /photos/{id}   photos:write  delete one
//! ```
//!
//! The guard (`tessera-protected-resource`) sits in front of every photo
//! route; the router takes the read and write guards as tower layers so the
//! binary decides how tokens are checked (local JWT or introspection).

pub mod about;
pub mod images;
pub mod routes;
pub mod store;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::IntoResponse;
use axum::routing::{Route, get};
use tessera_runtime::Clock;
use tower::{Layer, Service};

pub use store::{PhotoStore, PhotoStoreError};

/// The API's shared state.
#[derive(Clone)]
pub struct PhotoApi {
    pub store: PhotoStore,
    /// When photos are stored (`created_at`): injected, so tests can fix it.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PhotoApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhotoApi")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl PhotoApi {
    pub fn new(store: PhotoStore, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// The API's routes. `read` and `write` are the guard layers requiring
/// `photos:read` and `photos:write`; `about` is what `GET /` describes.
pub fn router<R, W>(api: PhotoApi, about: about::About, read: R, write: W) -> Router
where
    R: Layer<Route> + Clone + Send + Sync + 'static,
    R::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <R::Service as Service<Request>>::Response: IntoResponse + 'static,
    <R::Service as Service<Request>>::Future: Send + 'static,
    W: Layer<Route> + Clone + Send + Sync + 'static,
    W::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    <W::Service as Service<Request>>::Response: IntoResponse + 'static,
    <W::Service as Service<Request>>::Future: Send + 'static,
{
    let photos = Router::new()
        .route("/photos", get(routes::list).route_layer(read.clone()))
        .route(
            "/photos",
            axum::routing::post(routes::upload).route_layer(write.clone()),
        )
        .route("/photos/{id}", get(routes::get).route_layer(read))
        .route(
            "/photos/{id}",
            axum::routing::delete(routes::delete).route_layer(write),
        )
        .with_state(api);
    Router::new()
        .merge(photos)
        .route("/", get(about::about).with_state(about))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(about::not_found)
        // A method a route does not serve: our JSON, not an empty 405.
        .method_not_allowed_fallback(about::method_not_allowed)
        // Room for the largest upload plus a little; the handler checks the
        // exact limit and answers with a clear 413.
        .layer(DefaultBodyLimit::max(images::MAX_UPLOAD_BYTES + 64 * 1024))
}

/// Serves the API until `shutdown` completes, then lets in-flight requests
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: PhotoApi,
    guard: &tessera_protected_resource::Guard,
    limits: tessera_serve::ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_tls(listener, api, guard, limits, None, shutdown).await
}

/// [`serve`], over built-in TLS when `tls` is given (then with HSTS, at
/// the default max-age). Every answer carries the security headers of
/// `tessera_serve::SecurityHeaders`.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    api: PhotoApi,
    guard: &tessera_protected_resource::Guard,
    limits: tessera_serve::ConnectionLimits,
    tls: Option<tessera_serve::Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(
        api,
        about::About::of(guard),
        guard.require("photos:read"),
        guard.require("photos:write"),
    );
    let headers = tessera_serve::SecurityHeaders::for_https(
        tls.is_some(),
        tessera_serve::DEFAULT_HSTS_MAX_AGE_SECS,
    );
    tessera_serve::serve_tls(listener, headers.apply(app), limits, tls, shutdown).await
}
