//! The command line: the clap command tree and the dispatch to the module
//! that does each command.

use std::path::PathBuf;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use tessera_store::Migrations;

use crate::commands::audit::{AuditCommand, audit_command};
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
    /// as an environment variable: TESSERA_<KEY> for serve, migrate and the
    /// management commands (photo-api and photo-printer name theirs).
    #[arg(long, short, global = true, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    /// Whether `config` came from the command line (not TESSERA_CONFIG).
    #[arg(skip)]
    config_on_command_line: bool,
    #[command(subcommand)]
    command: Command,
}

// `photo-api`, `photo-printer` and `demo` declare a `config` argument of
// their own: clap then gives them that one instead of the global one, so
// their help says which environment variables their keys come from (or, for
// the demo, does not offer it). The value still reaches `Cli::config`, from
// either side of the subcommand.
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
    PhotoApi {
        /// The photo API's configuration file (TOML). Every key can also be
        /// set as a TESSERA_RESOURCE_<KEY> environment variable.
        #[arg(long, short, env = "TESSERA_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run the demo client: the photo-printer web app. `--config` then names
    /// its configuration (keys also settable as TESSERA_CLIENT_APP_<KEY>).
    // `client-app`, its old name, stays as a hidden alias for one release.
    #[command(alias = "client-app")]
    PhotoPrinter {
        /// The photo printer's configuration file (TOML). Every key can also
        /// be set as a TESSERA_CLIENT_APP_<KEY> environment variable.
        #[arg(long, short, env = "TESSERA_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Manage registered clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage registered protected resources (RFC 8707 audiences).
    #[command(subcommand)]
    Resources(ResourceCommand),
    /// Manage users (resource owners).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the signing keys published in the JWKS: the key that signs
    /// access tokens and the keys that sign ID tokens (one per algorithm).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read the audit trail: sign-ins, consent, codes, revocations,
    /// lockouts, budget trips and management changes.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run the whole dance in one process: the authorization server, the
    /// photo API and the photo printer, with a demo user and clients.
    ///
    /// The demo reads no configuration file (`--config` is refused) and no
    /// TESSERA_* environment variables: it makes the three servers' settings
    /// itself so that they fit together (ports, redirect URI, generated
    /// client secrets). Choose the ports and the data directory with the
    /// options below; for settings of your own, run `serve`, `photo-api` and
    /// `photo-printer` with their configuration files.
    Demo(crate::demo::DemoArgs),
    /// The photo client as a native app: sign in through the browser
    /// (loopback redirect, RFC 8252), then list, get and upload photos.
    Photos(crate::photos::PhotosArgs),
}

/// Parses the command line (exiting with clap's message on a usage error).
pub fn parse() -> Cli {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.config_on_command_line =
        matches.value_source("config") == Some(clap::parser::ValueSource::CommandLine);
    cli
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
        Command::Audit(c) => audit_command(&server_config()?, c).await,
        // `Cli::config` holds the value whichever side of the subcommand it
        // was given on; the subcommand's own field is the fallback.
        Command::PhotoApi { config: own } => crate::photo_api::run(config.or(own.as_deref())).await,
        Command::PhotoPrinter { config: own } => {
            crate::photo_printer::run(config.or(own.as_deref())).await
        }
        Command::Demo(args) => crate::demo::run(args, cli.config_on_command_line).await,
        Command::Photos(args) => {
            // The native client has no configuration file: its settings are
            // its options (or TESSERA_PHOTOS_*), and a server's file must
            // not be silently ignored.
            anyhow::ensure!(
                !cli.config_on_command_line,
                "`tessera photos` takes no --config: its settings are its options or TESSERA_PHOTOS_* variables (tessera photos --help)"
            );
            crate::photos::run(args).await
        }
    }
}
