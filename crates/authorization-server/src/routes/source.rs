//! `SourceAddress`: where a request comes from, for the login throttle, the
//! client-authentication lockout and the endpoint budgets. The TCP peer
//! (axum's `ConnectInfo`, which `serve` installs), or, when the peer is a
//! configured trusted proxy, the client it forwards for
//! (`crate::trusted_proxies`).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::state::AppState;

/// The request's source address; `None` when the server runs without
/// connection info (a router used without `serve`).
#[derive(Debug, Clone, Copy)]
pub struct SourceAddress(pub Option<IpAddr>);

impl SourceAddress {
    /// The source of a request with these `headers` from `peer`.
    pub fn of(state: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> Self {
        let Some(peer) = peer else {
            return Self(None);
        };
        let proxies = &state.config.trusted_proxies;
        if proxies.is_empty() {
            return Self(Some(peer));
        }
        let lines = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
        };
        Self(Some(proxies.client_address(
            peer,
            lines("forwarded"),
            lines("x-forwarded-for"),
        )))
    }

    /// The TCP peer of a request.
    pub fn peer(parts_extensions: &axum::http::Extensions) -> Option<IpAddr> {
        parts_extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    }
}

impl FromRequestParts<AppState> for SourceAddress {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = Self::peer(&parts.extensions);
        Ok(Self::of(state, &parts.headers, peer))
    }
}
