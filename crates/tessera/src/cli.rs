//! The command line.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use tessera_authorization_server::admin::{Admin, ClientSpec};
use tessera_authorization_server::clock::{Clock as _, SystemClock};
use tessera_authorization_server::keys::{KeyManager, KeyPurpose};
use tessera_authorization_server::{AppState, serve};
use tessera_core::jwt::SigningAlgorithm;
use tessera_core::secrets::{SecretString, SystemRandomness};
use tessera_core::user_claims::{Address, UserClaims};
use tessera_core::utc::format_utc;
use tessera_store::{Migrations, Store};

use crate::config::{self, FileConfig};

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
    /// then names the resource server's configuration.
    Resource,
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
    /// Run the demo client: the photo-printer web app. `--config` then names
    /// the printer's configuration.
    ClientApp,
    /// Run the whole dance in one process: the authorization server, the
    /// photo API and the photo printer, with a demo user and clients.
    Demo(crate::demo::DemoArgs),
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a client (or update one). A confidential client gets a
    /// generated secret, printed once.
    Add {
        /// The client_id.
        client_id: String,
        /// Display name shown on the consent page.
        #[arg(long)]
        name: Option<String>,
        /// A redirect URI (repeat for several).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A scope the client may ask for (repeat for several).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A grant type (repeat for several); default authorization_code and refresh_token.
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// A public client (no secret; PKCE only), such as a native or browser app.
        #[arg(long)]
        public: bool,
        /// Legacy opt-out of PKCE for a confidential client.
        #[arg(long)]
        no_pkce: bool,
        /// Allow this client to call the introspection endpoint.
        #[arg(long)]
        introspect: bool,
        /// The registered resource this client serves (a resource server).
        #[arg(long)]
        resource: Option<String>,
        /// "jwt" or "opaque": this client's access-token format.
        #[arg(long)]
        access_token_format: Option<String>,
        /// How this client's ID tokens are signed (default RS256).
        #[arg(long, value_enum, ignore_case = true)]
        id_token_signed_response_alg: Option<AlgorithmArg>,
        /// Where RP-initiated logout may return (repeat for several; exact match).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
    },
    /// List clients.
    List,
    /// Remove a client and revoke everything issued to it.
    Remove { client_id: String },
}

#[derive(Debug, Subcommand)]
enum ResourceCommand {
    /// Register a resource (or update one).
    Add {
        /// The resource's URI: the `aud` of tokens issued for it.
        identifier: String,
        #[arg(long)]
        name: Option<String>,
        /// A scope that means something at this resource (repeat for several).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List resources.
    List,
    /// Remove a resource.
    Remove { identifier: String },
}

async fn resource_command(config: &FileConfig, command: ResourceCommand) -> anyhow::Result<()> {
    let admin = admin(config).await?;
    match command {
        ResourceCommand::Add {
            identifier,
            name,
            scopes,
        } => {
            let spec = tessera_authorization_server::admin::ResourceSpec {
                identifier: identifier.clone(),
                name,
                scopes,
            };
            admin.register_resource(&spec, SystemClock.now()).await?;
            println!("resource `{identifier}` registered");
        }
        ResourceCommand::List => {
            for r in admin.resources().await? {
                println!("{}\t{}\tscopes: {}", r.identifier, r.name, r.scopes);
            }
        }
        ResourceCommand::Remove { identifier } => {
            if !admin.remove_resource(&identifier).await? {
                bail!("no resource `{identifier}`");
            }
            println!("resource `{identifier}` removed");
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user.
    Add {
        username: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        claims: ClaimArgs,
    },
    /// Set a user's standard claims (released at UserInfo by scope); the
    /// claims not named keep their values.
    Set {
        username: String,
        #[command(flatten)]
        claims: ClaimArgs,
    },
    /// List users.
    List,
    /// Remove a user and revoke their grants.
    Remove { username: String },
    /// Set a user's password; ends their sessions and grants.
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

/// A user's OpenID Connect standard claims, as options.
#[derive(Debug, Clone, Default, clap::Args)]
struct ClaimArgs {
    /// Full name (`name`, scope profile).
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    given_name: Option<String>,
    #[arg(long)]
    family_name: Option<String>,
    #[arg(long)]
    nickname: Option<String>,
    #[arg(long)]
    preferred_username: Option<String>,
    #[arg(long)]
    locale: Option<String>,
    /// Email address (scope email).
    #[arg(long)]
    email: Option<String>,
    /// Whether the email address was verified.
    #[arg(long)]
    email_verified: Option<bool>,
    /// Phone number (scope phone).
    #[arg(long)]
    phone_number: Option<String>,
    #[arg(long)]
    phone_number_verified: Option<bool>,
    /// Postal address, as one formatted string (scope address).
    #[arg(long)]
    address: Option<String>,
}

impl From<ClaimArgs> for UserClaims {
    fn from(a: ClaimArgs) -> Self {
        UserClaims {
            name: a.name,
            given_name: a.given_name,
            family_name: a.family_name,
            nickname: a.nickname,
            preferred_username: a.preferred_username,
            locale: a.locale,
            email: a.email,
            email_verified: a.email_verified,
            phone_number: a.phone_number,
            phone_number_verified: a.phone_number_verified,
            address: a.address.map(|formatted| Address {
                formatted: Some(formatted),
                ..Address::default()
            }),
            ..UserClaims::default()
        }
    }
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
        Command::Migrate => {
            let config = server_config()?;
            init_logging(&config.log);
            open_store(&config, Migrations::Apply).await?;
            println!(
                "database {} is up to date",
                config::redacted_database(&config.database)
            );
            Ok(())
        }
        Command::Client(c) => client_command(&server_config()?, c).await,
        Command::User(c) => user_command(&server_config()?, c).await,
        Command::Resources(c) => resource_command(&server_config()?, c).await,
        Command::Keys(c) => keys_command(&server_config()?, c).await,
        Command::ClientApp => {
            let config = crate::client_app::load(config)?;
            init_logging(&config.log);
            crate::client_app::serve(config, shutdown_signal()).await
        }
        Command::Demo(args) => crate::demo::run(args).await,
        Command::Resource => {
            let config = crate::resource::ResourceConfig::load(config)?;
            init_logging(&config.log);
            crate::resource::serve(config, shutdown_signal()).await
        }
    }
}

/// Opens the configured store: SQLite or PostgreSQL, by the URL's scheme.
async fn open_store(config: &FileConfig, migrations: Migrations) -> anyhow::Result<Arc<dyn Store>> {
    tessera_store::open(&config.database, migrations, config.postgres_options()?)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                config::redacted_database(&config.database)
            )
        })
}

pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init();
}

async fn serve_command(config: FileConfig, migrations: Migrations) -> anyhow::Result<()> {
    init_logging(&config.log);
    // Installed before the server says it listens (see `shutdown_signal`).
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
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
    let server_config = config.server_config()?;
    let store = open_store(&config, migrations).await?;
    let rng = Arc::new(SystemRandomness);
    let clock = Arc::new(SystemClock);

    // Seed what the configuration declares, idempotently.
    let admin = Admin::new(store.clone(), rng.clone(), server_config.mode()).await?;
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
    tracing::info!(%addr, issuer = %state.config.issuer(), "Tessera authorization server listening on http://{addr}");
    serve(listener, state, shutdown).await?;
    tracing::info!("authorization server stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM. The SIGTERM handler is installed when this is called,
/// not when the future is first polled: a supervisor may stop the server as
/// soon as it logs that it listens, and that must still be a graceful stop.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
        tracing::info!("shutting down; letting in-flight requests finish");
    }
}

async fn admin(config: &FileConfig) -> anyhow::Result<Admin> {
    let mode = config.server_config()?.mode();
    Ok(Admin::new(
        open_store(config, Migrations::Apply).await?,
        Arc::new(SystemRandomness),
        mode,
    )
    .await?)
}

async fn client_command(config: &FileConfig, command: ClientCommand) -> anyhow::Result<()> {
    let admin = admin(config).await?;
    let now = SystemClock.now();
    match command {
        ClientCommand::Add {
            introspect,
            resource,
            access_token_format,
            id_token_signed_response_alg,
            post_logout_redirect_uris,
            client_id,
            name,
            redirect_uris,
            scopes,
            grant_types,
            public,
            no_pkce,
        } => {
            let spec = ClientSpec {
                client_id: client_id.clone(),
                client_secret: None,
                redirect_uris,
                scopes,
                grant_types: if grant_types.is_empty() {
                    vec!["authorization_code".into(), "refresh_token".into()]
                } else {
                    grant_types
                },
                name,
                require_pkce: !no_pkce,
                introspect,
                resource,
                access_token_format,
                id_token_signed_response_alg: id_token_signed_response_alg
                    .map(|a| SigningAlgorithm::from(a).as_str().to_owned()),
                post_logout_redirect_uris,
            };
            match admin.register_client(&spec, !public, now).await? {
                Some(secret) => {
                    println!("client `{client_id}` registered");
                    println!("client_secret: {}", secret.expose());
                    println!("(shown once; only a keyed hash is stored)");
                }
                None => println!("public client `{client_id}` registered"),
            }
        }
        ClientCommand::List => {
            for c in admin.clients().await? {
                let kind = if c.is_public() {
                    "public"
                } else {
                    "confidential"
                };
                let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
                println!(
                    "{}\t{}\t{}\tscopes: {}\tgrants: {}\tredirect_uris: {}",
                    c.client_id,
                    c.name,
                    kind,
                    c.scopes,
                    grants.join(","),
                    c.redirect_uris.join(" ")
                );
            }
        }
        ClientCommand::Remove { client_id } => {
            if !admin.remove_client(&client_id).await? {
                bail!("no client `{client_id}`");
            }
            println!("client `{client_id}` removed");
        }
    }
    Ok(())
}

fn read_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    let stdin = std::io::stdin();
    if !from_stdin && stdin.is_terminal() {
        let p = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Repeat password: ")?;
        anyhow::ensure!(p == again, "the passwords differ");
        return Ok(SecretString::new(p));
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(SecretString::new(line.trim_end_matches(['\r', '\n'])))
}

async fn user_command(config: &FileConfig, command: UserCommand) -> anyhow::Result<()> {
    let admin = admin(config).await?;
    let now = SystemClock.now();
    match command {
        UserCommand::Add {
            username,
            password_stdin,
            claims,
        } => {
            let password = read_password(password_stdin)?;
            admin
                .add_user_with_claims(&username, &password, claims.into(), now)
                .await?;
            println!("user `{username}` added");
        }
        UserCommand::Set { username, claims } => {
            let claims = admin.update_user_claims(&username, claims.into()).await?;
            println!(
                "claims of `{username}`: {}",
                serde_json::to_string(&claims).unwrap_or_default()
            );
        }
        UserCommand::List => {
            for u in admin.users().await? {
                println!("{}\t{}", u.username, u.user_id);
            }
        }
        UserCommand::Remove { username } => {
            if !admin.remove_user(&username).await? {
                bail!("no user `{username}`");
            }
            println!("user `{username}` removed");
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            if !admin.set_password(&username, &password, now).await? {
                bail!("no user `{username}`");
            }
            println!("password of `{username}` changed; their sessions and grants have ended");
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys: kid, algorithm, state and dates (UTC).
    List,
    /// Create a new signing key: published in the JWKS at once, signing once
    /// the pre-publication window (key_prepublication_secs) has passed.
    Rotate {
        /// The new key's algorithm; default: the configured signing_algorithm.
        #[arg(long, value_enum, ignore_case = true)]
        algorithm: Option<AlgorithmArg>,
        /// Sign with the new key at once, skipping pre-publication (resources
        /// that cached the JWKS only know it once they fetch it again).
        #[arg(long)]
        now: bool,
        /// Rotate the ID-token key of the algorithm (default RS256) instead
        /// of the access-token key.
        #[arg(long)]
        id_token: bool,
    },
    /// Stop publishing a key. Refused while a token it signed may still be
    /// valid, and for the active key.
    Retire {
        /// Key ids are random base64url and may start with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AlgorithmArg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "RS256")]
    Rs256,
}

impl From<AlgorithmArg> for SigningAlgorithm {
    fn from(a: AlgorithmArg) -> Self {
        match a {
            AlgorithmArg::Es256 => Self::Es256,
            AlgorithmArg::EdDsa => Self::EdDsa,
            AlgorithmArg::Rs256 => Self::Rs256,
        }
    }
}

async fn keys_command(config: &FileConfig, command: KeysCommand) -> anyhow::Result<()> {
    let server_config = config.server_config()?;
    let keys = KeyManager::new(
        open_store(config, Migrations::Apply).await?,
        Arc::new(SystemRandomness),
        &server_config,
    );
    let now = SystemClock.now();
    match command {
        KeysCommand::List => {
            for k in keys.list(now).await? {
                let mut line = format!(
                    "{}\t{}\t{}\tcreated {}\tactivates {}",
                    k.kid,
                    k.algorithm,
                    k.state.as_str(),
                    format_utc(k.created_at),
                    format_utc(k.activates_at)
                );
                if let Some(t) = k.superseded_at {
                    line.push_str(&format!("\tsuperseded {}", format_utc(t)));
                }
                if let Some(t) = k.retirable_at {
                    line.push_str(&format!("\tretirable from {}", format_utc(t)));
                }
                if let Some(t) = k.retired_at {
                    line.push_str(&format!("\tretired {}", format_utc(t)));
                }
                if k.purpose == KeyPurpose::IdToken {
                    line.push_str("\tsigns ID tokens");
                }
                println!("{line}");
            }
        }
        KeysCommand::Rotate {
            algorithm,
            now: at_once,
            id_token,
        } => {
            let k = if id_token {
                let algorithm = algorithm.map_or(SigningAlgorithm::Rs256, Into::into);
                keys.rotate_id_token_key(algorithm, at_once, now).await?
            } else {
                keys.rotate(algorithm.map(Into::into), at_once, now).await?
            };
            if k.activates_at <= now {
                println!(
                    "signing key `{}` ({}) created: published and signing now",
                    k.kid, k.algorithm
                );
            } else {
                println!(
                    "signing key `{}` ({}) created: published now, signing from {}",
                    k.kid,
                    k.algorithm,
                    format_utc(k.activates_at)
                );
            }
            println!(
                "running servers pick it up within {} s",
                keys.policy().reload_interval_secs
            );
        }
        KeysCommand::Retire { kid } => {
            keys.retire(&kid, now).await?;
            println!("signing key `{kid}` retired: no longer published");
        }
    }
    Ok(())
}
