//! `SourceAddress`: where a browser request comes from, for the login
//! throttle's per-address count. Today that is the TCP peer (axum's
//! `ConnectInfo`, which `serve` installs). **The seam for trusted
//! proxies**: behind a load balancer every peer is the balancer, so this is
//! the one place that will read `Forwarded` / `X-Forwarded-For` when the
//! peer is a configured proxy (issue 13, "trusted proxies"). The back
//! channel's client-authentication lockout reads the peer in
//! `back_channel.rs` and should move here with it.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// The request's source address; `None` when the server runs without
/// connection info (a router used without `serve`).
#[derive(Debug, Clone, Copy)]
pub struct SourceAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for SourceAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
