//! `tessera photos`: the photo client as a native app (the
//! `tessera-photo-cli` crate), signing in through the browser with a
//! loopback redirect. Its options default to what `tessera demo` registers.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tessera_photo_cli::{Settings, StoreChoice};

#[derive(Debug, clap::Args)]
pub struct PhotosArgs {
    /// The authorization server's issuer.
    #[arg(
        long,
        env = "TESSERA_PHOTOS_ISSUER",
        default_value = "http://localhost:9001",
        global = true
    )]
    issuer: String,
    /// The client id registered for this CLI (a public client with the
    /// redirect URI http://127.0.0.1/callback).
    #[arg(
        long,
        env = "TESSERA_PHOTOS_CLIENT_ID",
        default_value = "photo-cli",
        global = true
    )]
    client_id: String,
    /// The photo API's base URL.
    #[arg(
        long,
        env = "TESSERA_PHOTOS_API",
        default_value = "http://localhost:9002",
        global = true
    )]
    api: String,
    /// Where to keep the refresh token: `keyring` (the OS keyring), `file`
    /// (a file only you can read, in --config-dir) or `auto` (the keyring
    /// when one answers, else the file, with a warning).
    #[arg(
        long,
        env = "TESSERA_PHOTOS_TOKEN_STORE",
        default_value = "auto",
        global = true
    )]
    token_store: StoreChoice,
    /// The directory of the token file (default: your config directory's
    /// `tessera` folder, e.g. ~/.config/tessera).
    #[arg(long, env = "TESSERA_PHOTOS_CONFIG_DIR", global = true)]
    config_dir: Option<PathBuf>,
    /// Only print the sign-in address, do not open a browser (e.g. over SSH).
    #[arg(long, global = true)]
    no_browser: bool,
    /// How long to wait for the browser to come back, in seconds.
    #[arg(long, default_value_t = 300, global = true)]
    timeout_secs: u64,
    /// Keep the access token on disk too (by default only the refresh token
    /// is kept, and each run starts with a refresh).
    #[arg(long, env = "TESSERA_PHOTOS_KEEP_ACCESS_TOKEN", global = true)]
    keep_access_token: bool,
    #[command(subcommand)]
    command: PhotosCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PhotosCommand {
    /// Sign in through the browser (a new sign-in, whatever is stored).
    Login {
        /// The scopes to ask for (space-separated; default: openid profile
        /// photos:read photos:write).
        #[arg(long)]
        scope: Option<String>,
    },
    /// List your photos.
    List,
    /// Download one photo.
    Get {
        /// The photo's id (see `list`).
        id: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Upload a PNG, JPEG, GIF or WebP (needs photos:write).
    Upload {
        /// The image file; its name without the extension names the photo.
        file: PathBuf,
    },
    /// Revoke the refresh token at the authorization server and forget it.
    Logout,
}

pub async fn run(args: PhotosArgs) -> anyhow::Result<()> {
    let mut settings = Settings::demo();
    settings.issuer = args.issuer.trim_end_matches('/').to_owned();
    settings.client_id = args.client_id;
    settings.api = args.api;
    settings.token_store = args.token_store;
    settings.config_dir = args.config_dir;
    settings.open_browser = !args.no_browser;
    settings.sign_in_timeout = Duration::from_secs(args.timeout_secs);
    settings.keep_access_token = args.keep_access_token;
    let mut out = std::io::stdout();
    let result = match args.command {
        PhotosCommand::Login { scope } => {
            if let Some(scope) = scope {
                settings.scopes = scope.split_whitespace().map(str::to_owned).collect();
            }
            tessera_photo_cli::login(&settings, &mut out).await
        }
        PhotosCommand::List => tessera_photo_cli::list(&settings, &mut out).await,
        PhotosCommand::Get { id, out: file } => {
            tessera_photo_cli::get(&settings, &id, &file, &mut out).await
        }
        PhotosCommand::Upload { file } => {
            tessera_photo_cli::upload(&settings, &file, &mut out).await
        }
        PhotosCommand::Logout => tessera_photo_cli::logout(&settings, &mut out).await,
    };
    result.context("tessera photos")
}
