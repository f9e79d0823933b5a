//! `tessera serve` and `tessera migrate`: opening the authorization
//! server's store, seeding what the configuration declares, and serving.
//! `tessera demo` starts its authorization server through the same code.

use std::sync::Arc;

use anyhow::Context as _;
use tessera_authorization_server::admin::Admin;
use tessera_authorization_server::{AppState, serve};
use tessera_runtime::SystemRandomness;
use tessera_runtime::{Clock as _, SystemClock};
use tessera_store::{Migrations, Store};

use crate::config::{self, FileConfig};
use crate::logging::{LogFormat, init_logging, init_logging_as};
use crate::preflight;
use crate::signals::shutdown_signal;

/// Opens the configured store: SQLite or PostgreSQL, by the URL's scheme.
pub async fn open_store(
    config: &FileConfig,
    migrations: Migrations,
) -> anyhow::Result<Arc<dyn Store>> {
    let opened = async {
        preflight::sqlite_directory_exists(&config.database)?;
        Ok::<_, anyhow::Error>(
            tessera_store::open(&config.database, migrations, config.postgres_options()?).await?,
        )
    };
    opened.await.with_context(|| {
        format!(
            "cannot open the database {}",
            config::redacted_database(&config.database)
        )
    })
}

/// Applies pending migrations, then exits.
pub async fn migrate_command(config: FileConfig) -> anyhow::Result<()> {
    init_logging(&config.log);
    open_store(&config, Migrations::Apply).await?;
    println!(
        "database {} is up to date",
        config::redacted_database(&config.database)
    );
    Ok(())
}

/// Serves the authorization server on the configured address until Ctrl-C
/// or SIGTERM.
pub async fn serve_command(config: FileConfig, migrations: Migrations) -> anyhow::Result<()> {
    init_logging_as(&config.log, LogFormat::parse(config.log_format.as_deref())?);
    // Installed before the server says it listens (see `shutdown_signal`).
    let shutdown = shutdown_signal();
    let listener = preflight::bind(&config.listen, "listen", "TESSERA_LISTEN").await?;
    preflight::warn_on_issuer_port_mismatch(&config.issuer, listener.local_addr()?);
    serve_authorization_server(config, migrations, listener, shutdown).await
}

/// Opens (and migrates, or checks) the store, seeds what the configuration
/// declares, then serves the authorization server on `listener` until
/// `shutdown`.
pub async fn serve_authorization_server(
    config: FileConfig,
    migrations: Migrations,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut server_config = config.server_config()?;
    server_config.tls = config.tls()?;
    // Every configured user is checked before anything is written.
    for spec in &config.users {
        spec.validate().with_context(|| {
            format!("[[users]] entry `{}`{}", spec.username, config.file_named())
        })?;
    }
    let store = open_store(&config, migrations).await?;
    let rng = Arc::new(SystemRandomness);
    let clock = Arc::new(SystemClock);

    // Seed what the configuration declares, idempotently.
    let admin = Admin::new(store.clone(), rng.clone(), server_config.mode())
        .await?
        .from_configuration();
    for spec in &config.resources {
        admin.register_resource(spec, clock.now()).await?;
    }
    for spec in &config.clients {
        admin.register_client(spec, false, clock.now()).await?;
    }
    for spec in &config.users {
        admin.ensure_user(spec, clock.now()).await?;
    }

    let state = AppState::new(store, server_config, clock, rng).await?;
    let addr = listener.local_addr()?;
    let scheme = if state.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(%addr, issuer = %state.config.issuer(), "Tessera authorization server listening on {scheme}://{addr}");
    serve(listener, state, shutdown).await?;
    tracing::info!("authorization server stopped");
    Ok(())
}
