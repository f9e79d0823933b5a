//! The tower layer: authenticates each request, checks the route's scopes,
//! and hands the claims on to the handler.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::claims::{TokenClaims, Verified};
use crate::error::GuardError;
use crate::guard::Guard;

/// Made by [`Guard::layer`] and [`Guard::require`]. Put it on a router
/// (`Router::layer`, `route_layer`) or on one handler (`Handler::layer`).
#[derive(Clone)]
pub struct GuardLayer {
    guard: Guard,
    /// Every scope the route requires; `None` if they were invalid, which
    /// fails closed.
    required: Option<Arc<[String]>>,
}

impl std::fmt::Debug for GuardLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardLayer")
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl GuardLayer {
    pub(crate) fn new(guard: Guard, required: Option<Arc<[String]>>) -> Self {
        Self { guard, required }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: self.guard.clone(),
            required: self.required.clone(),
        }
    }
}

/// The service of a [`GuardLayer`].
#[derive(Clone)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
    required: Option<Arc<[String]>>,
}

impl<S> std::fmt::Debug for GuardService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardService")
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl<S> Service<Request<Body>> for GuardService<S>
where
    S: Service<Request<Body>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The clone that was polled ready is the one that gets called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        let required = self.required.clone();
        Box::pin(async move {
            let earlier = req
                .extensions()
                .get::<Verified>()
                .filter(|v| v.guard == guard.id())
                .map(|v| v.claims.clone());
            let (mut req, claims) = match earlier {
                // An outer layer of this guard has verified the request.
                Some(claims) => (req, Ok(claims)),
                None => {
                    let (req, claims) = guard.authenticate(req).await;
                    (req, claims.map(Arc::new))
                }
            };
            let outcome = claims.and_then(|c| {
                check_scopes(&c, required.as_deref())?;
                Ok(c)
            });
            match outcome {
                Ok(claims) => {
                    req.extensions_mut().insert(Verified {
                        claims,
                        guard: guard.id(),
                    });
                    inner.call(req).await.map(IntoResponse::into_response)
                }
                Err(e) => {
                    log_refusal(&e, &req);
                    Ok(guard.rejection(&e))
                }
            }
        })
    }
}

fn check_scopes(claims: &TokenClaims, required: Option<&[String]>) -> Result<(), GuardError> {
    let required = required.ok_or(GuardError::Misconfigured(
        "the route requires an invalid scope",
    ))?;
    if claims.missing_scope(required).is_some() {
        return Err(GuardError::InsufficientScope {
            scope: required.join(" "),
        });
    }
    Ok(())
}

/// Method and path only: the query may hold a token (which we ignore, but
/// must not write down either).
fn log_refusal(e: &GuardError, req: &Request<Body>) {
    let (method, path) = (req.method(), req.uri().path());
    match e {
        GuardError::Unavailable(_) | GuardError::Misconfigured(_) => {
            tracing::error!(%method, path, error = %e, status = e.status().as_u16(), "bearer token not checked");
        }
        _ => {
            tracing::info!(%method, path, error = %e, status = e.status().as_u16(), "bearer token refused");
        }
    }
}
