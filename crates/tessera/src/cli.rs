//! The command line: the clap command tree and the dispatch to the module
//! that does each command.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tessera_store::Migrations;

use crate::commands::clients::{ClientCommand, client_command};
use crate::commands::keys::{KeysCommand, keys_command};
use crate::commands::resources::{ResourceCommand, resource_command};
use crate::commands::users::{UserCommand, user_command};
use crate::config::FileConfig;
use crate::serve::{migrate_command, serve_command};

#[derive(Debug, Parser)]
#[command(name = "tessera", version, about = "An OAuth 2.0 authorization server")]
pub struct Cli {
    /// The configuration file (TOML). Every top-level key can also be set
    /// with a TESSERA_<KEY> environment variable.
    #[arg(long, short, global = true, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the authorization server. Pending database migrations are
    /// applied first, unless --no-migrate.
    Serve {
        /// Do not migrate: refuse to start unless the schema is up to date
        /// (when migrations are run separately with `tessera migrate`).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Run the demo protected resource: the photo-storage API. `--config`
    /// then names its configuration (keys also settable as
    /// TESSERA_RESOURCE_<KEY>).
    // `resource`, its old name, stays as a hidden alias for one release.
    #[command(alias = "resource")]
    PhotoApi,
    /// Run the demo client: the photo-printer web app. `--config` then names
    /// its configuration (keys also settable as TESSERA_CLIENT_APP_<KEY>).
    // `client-app`, its old name, stays as a hidden alias for one release.
    #[command(alias = "client-app")]
    PhotoPrinter,
    /// Manage registered clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage registered protected resources (RFC 8707 audiences).
    #[command(subcommand)]
    Resources(ResourceCommand),
    /// Manage users (resource owners).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the keys that sign access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run the whole dance in one process: the authorization server, the
    /// photo API and the photo printer, with a demo user and clients.
    Demo(crate::demo::DemoArgs),
    /// The photo client as a native app: sign in through the browser
    /// (loopback redirect, RFC 8252), then list, get and upload photos.
    Photos(crate::photos::PhotosArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config.as_deref();
    let server_config = || FileConfig::load(config);
    match cli.command {
        Command::Serve { no_migrate } => {
            let migrations = if no_migrate {
                Migrations::Verify
            } else {
                Migrations::Apply
            };
            serve_command(server_config()?, migrations).await
        }
        Command::Migrate => migrate_command(server_config()?).await,
        Command::Client(c) => client_command(&server_config()?, c).await,
        Command::User(c) => user_command(&server_config()?, c).await,
        Command::Resources(c) => resource_command(&server_config()?, c).await,
        Command::Keys(c) => keys_command(&server_config()?, c).await,
        Command::PhotoPrinter => crate::photo_printer::run(config).await,
        Command::Demo(args) => crate::demo::run(args).await,
        Command::PhotoApi => crate::photo_api::run(config).await,
        Command::Photos(args) => crate::photos::run(args).await,
    }
}
