//! How Tessera's three servers (the authorization server, the photo API and
//! the photo printer) take connections, so that slow or idle clients cannot
//! starve real ones (issue 13: 200 slow-header connections were never
//! closed, and 300 idle sockets made a server unreachable).
//!
//! - **Header-read timeout**: a client must send a request's whole header
//!   within it, and the same clock runs while a kept-alive connection waits
//!   for its next request, so it is also the idle keep-alive timeout
//!   (hyper arms it whenever the connection waits for a request head).
//! - **Request-body timeout**: a body that stops arriving fails the
//!   handler's read (tower-http), so the request ends with a 4xx instead of
//!   holding the connection.
//! - **Connection cap**: at most `max_connections` open connections per
//!   server, and all servers of the process together stay below the
//!   file-descriptor limit, whose soft value is raised to the hard one at
//!   the first start. A server at its cap stops accepting (new connections
//!   wait in the kernel's backlog) until one closes, instead of failing
//!   with `EMFILE` for everyone.
//!
//! - **TLS** (optional, [`tls`]): rustls with the certificate and key from
//!   files, reloaded on change; the handshake must finish within the
//!   header-read timeout, so a slow handshake is cut off like a slow header.
//! - **Security headers** ([`SecurityHeaders`], applied by each server to
//!   its router): nosniff, no framing, no referrer, a default CSP and
//!   `no-store`, and HSTS when reached over https.
//!
//! Each connection carries the peer's address as axum's `ConnectInfo`.

mod headers;
mod tls;

pub use headers::{DEFAULT_CONTENT_SECURITY_POLICY, DEFAULT_HSTS_MAX_AGE_SECS, SecurityHeaders};
pub use tls::{DEFAULT_TLS_RELOAD_INTERVAL_SECS, Tls, TlsError, TlsFiles};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// Default header-read (and keep-alive idle) timeout, in seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default request-body timeout, in seconds.
pub const DEFAULT_REQUEST_BODY_TIMEOUT_SECS: u64 = 30;
/// Default cap on one server's open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Descriptors kept for everything that is not a client connection
/// (database files and pools, logs, outgoing requests, the listeners).
const RESERVED_DESCRIPTORS: u64 = 128;

/// The limits one server applies to its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub request_body_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            request_body_timeout: Duration::from_secs(DEFAULT_REQUEST_BODY_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ConnectionLimits {
    /// From configuration values in seconds; `None` keeps the default.
    pub fn from_settings(
        header_read_timeout_secs: Option<u64>,
        request_body_timeout_secs: Option<u64>,
        max_connections: Option<usize>,
    ) -> Self {
        let d = Self::default();
        Self {
            header_read_timeout: header_read_timeout_secs
                .map_or(d.header_read_timeout, Duration::from_secs),
            request_body_timeout: request_body_timeout_secs
                .map_or(d.request_body_timeout, Duration::from_secs),
            max_connections: max_connections.unwrap_or(d.max_connections),
        }
    }
}

/// The connection slots of the whole process: the soft descriptor limit
/// (raised to the hard limit on first use) minus a reserve. Shared by every
/// server in the process, as `tessera demo` runs three.
fn process_slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let soft = raise_descriptor_limit();
        let slots = soft.saturating_sub(RESERVED_DESCRIPTORS).max(16);
        let slots = usize::try_from(slots)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        tracing::debug!(
            descriptor_limit = soft,
            connection_slots = slots,
            "connection budget"
        );
        Arc::new(Semaphore::new(slots))
    })
}

/// Raises the soft file-descriptor limit to the hard one; returns the soft
/// limit now in force (1024, a common default, when it cannot be read).
pub fn raise_descriptor_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => soft,
        Err(e) => {
            tracing::warn!(error = %e, "could not read or raise the file-descriptor limit");
            1024
        }
    }
}

/// Serves `router` on `listener` with `limits` until `shutdown` completes;
/// then stops accepting, lets in-flight requests finish and closes idle
/// connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_tls(listener, router, limits, None, shutdown).await
}

/// [`serve`], over TLS when `tls` is given: each connection's handshake
/// runs in its own task under the header-read timeout, and the certificate
/// files are watched (every `reload_interval`) while the server runs.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.as_ref().map(Tls::acceptor);
    let watcher = tls.map(|tls| tokio::spawn(tls.watch()));
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.request_body_timeout));
    let own_slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let process_slots = process_slots().clone();
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        // A slot first, then the connection: at the cap, new connections
        // wait in the kernel's backlog rather than use a descriptor.
        let slots = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slots = async {
                let own = own_slots.clone().acquire_owned().await;
                let process = process_slots.clone().acquire_owned().await;
                own.and_then(|own| process.map(|process| (own, process)))
            } => match slots {
                Ok(slots) => slots,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: wait a little rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(peer));
                    request
                });
        let service = TowerToHyperService::new(service);
        let http = http.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let handshake_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let served =
                match acceptor {
                    None => {
                        watcher
                            .watch(http.serve_connection(TokioIo::new(stream), service))
                            .await
                    }
                    Some(acceptor) => {
                        // The handshake is held to the header-read timeout: a
                        // client that starts one and stalls is cut off like one
                        // that stalls in its header.
                        let stream =
                            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake not finished in time");
                                    return;
                                }
                            };
                        watcher
                            .watch(http.serve_connection(TokioIo::new(stream), service))
                            .await
                    }
                };
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection closed with an error");
            }
            drop(slots);
        });
    }
    drop(listener);
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    graceful.shutdown().await;
    Ok(())
}
