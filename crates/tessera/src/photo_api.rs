//! `tessera photo-api` (formerly `resource`): the demo protected resource (the photo-storage API)
//! behind the bearer-token guard.

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;
use tessera_core::secrets::SecretString;
use tessera_photo_api::{PhotoApi, PhotoStore};
use tessera_protected_resource::{Guard, GuardConfig};

use crate::logging::init_logging;
use crate::signals::shutdown_signal;

const ENV_KEYS: &[&str] = &[
    "listen",
    "identifier",
    "issuer",
    "database",
    "validation",
    "jwks_uri",
    "client_id",
    "client_secret",
    "log",
    "header_read_timeout_secs",
    "request_body_timeout_secs",
    "max_connections",
    "tls_certificate_file",
    "tls_key_file",
    "tls_reload_interval_secs",
];

/// The resource server's configuration (TOML; every key also settable as
/// `TESSERA_RESOURCE_<KEY>`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    #[serde(default = "defaults::listen")]
    pub listen: String,
    /// This resource's identifier: the `aud` its tokens must carry.
    #[serde(default = "defaults::identifier")]
    pub identifier: String,
    /// The authorization server whose tokens are accepted.
    #[serde(default = "defaults::issuer")]
    pub issuer: String,
    /// The photo database (SQLite), separate from the AS's.
    #[serde(default = "defaults::database")]
    pub database: String,
    /// `jwt` (verify locally against the AS's keys) or `introspection`
    /// (ask the AS about every token; needs `client_id`/`client_secret`).
    #[serde(default = "defaults::validation")]
    pub validation: String,
    /// The JWKS location; discovered from the AS metadata when omitted.
    pub jwks_uri: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    #[serde(default = "defaults::log")]
    pub log: String,
    /// How long a client may take to send a request's header, and how long
    /// a kept-alive connection may idle (seconds; default 10).
    #[serde(default)]
    pub header_read_timeout_secs: Option<u64>,
    /// How long a request body may take to arrive (seconds; default 30).
    #[serde(default)]
    pub request_body_timeout_secs: Option<u64>,
    /// Open connections at most (default 4096; always below the process's
    /// file-descriptor limit).
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// Built-in TLS, as for the authorization server: the PEM certificate
    /// chain and key, read again every `tls_reload_interval_secs`.
    #[serde(default)]
    pub tls_certificate_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub tls_key_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub tls_reload_interval_secs: Option<u64>,
}

mod defaults {
    pub fn listen() -> String {
        "127.0.0.1:9002".into()
    }
    pub fn identifier() -> String {
        "http://localhost:9002".into()
    }
    pub fn issuer() -> String {
        "http://localhost:9001".into()
    }
    pub fn database() -> String {
        "sqlite://photos.db".into()
    }
    pub fn validation() -> String {
        "jwt".into()
    }
    pub fn log() -> String {
        "info".into()
    }
}

impl ResourceConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        crate::config::load(path, "TESSERA_RESOURCE_", ENV_KEYS)
            .context("invalid resource configuration")
    }

    pub fn guard(&self) -> anyhow::Result<Guard> {
        let config = match self.validation.as_str() {
            "jwt" => {
                let c = GuardConfig::jwt(&self.issuer, &self.identifier);
                match &self.jwks_uri {
                    Some(uri) => c.jwks_uri(uri),
                    None => c,
                }
            }
            "introspection" => {
                let (Some(id), Some(secret)) = (&self.client_id, &self.client_secret) else {
                    anyhow::bail!(
                        "validation = \"introspection\" needs client_id and client_secret"
                    );
                };
                GuardConfig::introspection(&self.issuer, &self.identifier, id, secret.expose())
            }
            other => {
                anyhow::bail!("validation must be \"jwt\" or \"introspection\", not `{other}`")
            }
        };
        Ok(Guard::new(config)?)
    }
}

/// The photo API from its configuration, until Ctrl-C or SIGTERM.
pub async fn run(path: Option<&Path>) -> anyhow::Result<()> {
    let config = ResourceConfig::load(path)?;
    init_logging(&config.log);
    serve(config, shutdown_signal()).await
}

pub async fn serve(
    config: ResourceConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener =
        crate::preflight::bind(&config.listen, "listen", "TESSERA_RESOURCE_LISTEN").await?;
    serve_on(listener, config, shutdown).await
}

/// Serves the photo API on `listener` until `shutdown`.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: ResourceConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let guard = config.guard()?;
    let tls = crate::config::tls_files(
        config.tls_certificate_file.as_deref(),
        config.tls_key_file.as_deref(),
        config.tls_reload_interval_secs,
    )
    .context("invalid photo-api configuration")?;
    let store = async {
        crate::preflight::sqlite_directory_exists(&config.database)?;
        Ok::<_, anyhow::Error>(PhotoStore::connect(&config.database).await?)
    }
    .await
    .with_context(|| format!("cannot open the photo database {}", config.database))?;
    let addr = listener.local_addr()?;
    // The AS may start after us: a failed warm-up is a warning, and every
    // request fails closed (503) until the AS answers.
    if let Err(e) = guard.warm_up().await {
        tracing::warn!(error = %e, issuer = %config.issuer, "the authorization server is not reachable yet");
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, resource = %config.identifier, mode = %config.validation,
        "photo-storage API listening on {scheme}://{addr}");
    tessera_photo_api::serve_tls(
        listener,
        PhotoApi::new(store, std::sync::Arc::new(tessera_runtime::SystemClock)),
        &guard,
        crate::config::connection_limits(
            config.header_read_timeout_secs,
            config.request_body_timeout_secs,
            config.max_connections,
        )?,
        tls,
        shutdown,
    )
    .await?;
    Ok(())
}
