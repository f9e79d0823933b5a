//! The photo printer: the client of the OAuth dance as a web app.
//!
//! ```text
//! GET  /                      start page ("Print my photos") and token panel
//! POST /start                 new authorization request → 303 to the AS
//! GET  /callback              state/iss checks, code exchange → 303 /photos
//! GET  /photos                the photo grid, read from the photo API
//! GET  /photos/{id}/image     one image, fetched with the session's token
//! GET  /print?photo=…         a print-ready page of the chosen photos
//! POST /tokens/refresh        refresh now
//! POST /tokens/forget         drop the access token (the next call refreshes)
//! POST /tokens/revoke         revoke at the AS (the next refresh fails)
//! GET  /dance                 this session's dance as a sequence diagram
//! GET  /dance/steps           the diagram alone (for live updates)
//! GET  /dance/events          server-sent events: "the diagram changed"
//! ```
//!
//! The protocol work is done by `tessera-client`; this crate keeps the
//! per-browser state and draws what happens.

pub mod config;
pub mod dance;
mod error;
pub mod flows;
mod pages;
mod routes;
pub mod sessions;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use tessera_client::OAuthClient;
use tokio::sync::{OnceCell, watch};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::PrinterConfig;
pub use error::PrinterError;

use crate::sessions::Sessions;

/// The printer's shared state.
#[derive(Clone)]
pub struct Printer {
    inner: Arc<Inner>,
}

struct Inner {
    config: PrinterConfig,
    /// Discovered on first use, so the printer may start before the AS.
    client: OnceCell<OAuthClient>,
    sessions: Sessions,
    /// For the photo API (no redirects: a bearer token must not follow one).
    http: reqwest::Client,
    /// Flipped at shutdown so the event streams end and shutdown can finish.
    stopping: watch::Sender<bool>,
    /// Injected so expiry is tested without waiting.
    clock: tessera_client::Clock,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("client_id", &self.inner.config.client_id)
            .field("issuer", &self.inner.config.issuer)
            .finish_non_exhaustive()
    }
}

impl Printer {
    pub fn new(config: PrinterConfig) -> Result<Self, reqwest::Error> {
        Self::with_clock(config, Arc::new(tessera_runtime::system_time))
    }

    /// [`Printer::new`] with another clock: token expiry and the age of an
    /// authorization request and the idleness of browser sessions are read
    /// from it (tests move it).
    pub fn with_clock(
        config: PrinterConfig,
        clock: tessera_client::Clock,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()?;
        let secure = config.redirect_uri.starts_with("https:");
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client: OnceCell::new(),
                sessions: Sessions::new(secure, clock.clone()),
                http,
                stopping: watch::Sender::new(false),
                clock,
            }),
        })
    }

    pub(crate) fn now(&self) -> std::time::SystemTime {
        (self.inner.clock)()
    }

    pub fn config(&self) -> &PrinterConfig {
        &self.inner.config
    }

    /// The OAuth client, discovering the AS on first use (and again after a
    /// failed attempt).
    pub async fn client(&self) -> Result<&OAuthClient, PrinterError> {
        let c = &self.inner.config;
        self.inner
            .client
            .get_or_try_init(|| async {
                OAuthClient::discover(
                    &c.issuer,
                    &c.client_id,
                    Some(c.client_secret.expose()),
                    &c.redirect_uri,
                )
                .await
                .map(|client| client.with_clock(self.inner.clock.clone()))
            })
            .await
            .map_err(PrinterError::Discovery)
    }

    pub(crate) fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.inner.stopping.subscribe()
    }
}

pub fn router(printer: Printer) -> Router {
    routes::router(printer)
        // RFC 9700 §4.2.4: no page of the client leaks its URL (a callback
        // URL holds the code) through the Referer header.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// Serves the printer until `shutdown` completes; open event streams are
/// ended so in-flight requests can finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    printer: Printer,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_tls(listener, printer, None, shutdown).await
}

/// [`serve`], over built-in TLS when `tls` is given (then with HSTS at the
/// default max-age). Every answer also carries the security headers of
/// `tessera_serve::SecurityHeaders` (pages keep their own CSP).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    printer: Printer,
    tls: Option<tessera_serve::Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = printer.inner.stopping.clone();
    let limits = printer.config().connection_limits();
    let headers = tessera_serve::SecurityHeaders::for_https(
        tls.is_some(),
        tessera_serve::DEFAULT_HSTS_MAX_AGE_SECS,
    );
    let app = headers.apply(router(printer));
    tessera_serve::serve_tls(listener, app, limits, tls, async move {
        shutdown.await;
        stopping.send_replace(true);
    })
    .await
}
