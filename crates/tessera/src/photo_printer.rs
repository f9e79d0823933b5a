//! `tessera photo-printer` (formerly `client-app`): the photo printer, the
//! client of the dance.

use std::path::Path;

use anyhow::Context as _;
use tessera_photo_printer::{Printer, PrinterConfig};

use crate::logging::init_logging;
use crate::signals::shutdown_signal;

const ENV_KEYS: &[&str] = &[
    "listen",
    "issuer",
    "client_id",
    "client_secret",
    "redirect_uri",
    "photo_api",
    "log",
    "header_read_timeout_secs",
    "request_body_timeout_secs",
    "max_connections",
    "tls_certificate_file",
    "tls_key_file",
    "tls_reload_interval_secs",
];

/// Reads the printer's configuration (every key also settable as
/// `TESSERA_CLIENT_APP_<KEY>`).
pub fn load(path: Option<&Path>) -> anyhow::Result<PrinterConfig> {
    let config: PrinterConfig = crate::config::load(path, "TESSERA_CLIENT_APP_", ENV_KEYS)
        .context("invalid photo-printer configuration")?;
    // The same rules as the other servers' limits (a zero is refused).
    crate::config::connection_limits(
        config.header_read_timeout_secs,
        config.request_body_timeout_secs,
        config.max_connections,
    )
    .context("invalid photo-printer configuration")?;
    Ok(config)
}

/// The printer from its configuration, until Ctrl-C or SIGTERM.
pub async fn run(path: Option<&Path>) -> anyhow::Result<()> {
    let config = load(path)?;
    init_logging(&config.log);
    serve(config, shutdown_signal()).await
}

pub async fn serve(
    config: PrinterConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener =
        crate::preflight::bind(&config.listen, "listen", "TESSERA_CLIENT_APP_LISTEN").await?;
    serve_on(listener, config, shutdown).await
}

pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: PrinterConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let tls = crate::config::tls_files(
        config.tls_certificate_file.as_deref(),
        config.tls_key_file.as_deref(),
        config.tls_reload_interval_secs,
    )
    .context("invalid photo-printer configuration")?;
    let printer = Printer::new(config.clone())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, issuer = %config.issuer, client_id = %config.client_id,
        "photo printer listening on {scheme}://{addr}");
    tessera_photo_printer::serve_tls(listener, printer, tls, shutdown).await?;
    tracing::info!("photo printer stopped");
    Ok(())
}
