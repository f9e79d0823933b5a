//! The photo client as a native app (RFC 8252), the other kind of client
//! the OAuth dance names: `tessera photos login` signs in through the
//! system browser with a loopback redirect (no client secret: a native app
//! cannot keep one, §8.5), keeps the refresh token in the OS keyring (or a
//! 0600 file), calls the photo API with the access token, refreshes once on
//! a 401, and when the refresh fails says why and signs in again: "the
//! fallback state for an OAuth client is to do OAuth again".

mod commands;
mod error;
mod session;
mod token_store;

use std::path::PathBuf;
use std::time::Duration;

pub use commands::{get, list, login, logout, upload};
pub use error::Error;
pub use token_store::StoreChoice;

/// How the CLI reaches the authorization server and the photo API, and where
/// it keeps what it must remember.
#[derive(Clone)]
pub struct Settings {
    /// The authorization server's issuer.
    pub issuer: String,
    /// The client id registered for the CLI (a public client whose redirect
    /// URI is `http://127.0.0.1/callback`, any port).
    pub client_id: String,
    /// The photo API's base URL.
    pub api: String,
    /// What to ask for at sign-in.
    pub scopes: Vec<String>,
    /// Where the refresh token goes.
    pub token_store: StoreChoice,
    /// The directory of the fallback token file (default: the user's
    /// config directory + `tessera`).
    pub config_dir: Option<PathBuf>,
    /// Open the system browser at sign-in (otherwise only print the URL).
    pub open_browser: bool,
    /// How long to wait for the browser's callback.
    pub sign_in_timeout: Duration,
    /// Keep the access token too (off by default: only the refresh token,
    /// the one that lasts, is stored).
    pub keep_access_token: bool,
    /// The clock for token expiry (injectable, as everywhere).
    pub clock: tessera_client::Clock,
}

impl Settings {
    /// The demo's values: `tessera demo` registers `photo-cli` at
    /// http://localhost:9001 for the photo API at http://localhost:9002.
    pub fn demo() -> Self {
        Self {
            issuer: "http://localhost:9001".into(),
            client_id: "photo-cli".into(),
            api: "http://localhost:9002".into(),
            scopes: ["openid", "profile", "photos:read", "photos:write"]
                .map(String::from)
                .to_vec(),
            token_store: StoreChoice::Auto,
            config_dir: None,
            open_browser: true,
            sign_in_timeout: Duration::from_secs(300),
            keep_access_token: false,
            clock: std::sync::Arc::new(tessera_runtime::system_time),
        }
    }
}
