//! The photo printer's configuration.

use serde::Deserialize;
use tessera_client::Secret;

/// Every key has a default matching the committed `tessera.toml` (the
/// authorization server on :9001) and `photos.toml` (the photo API on :9002).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterConfig {
    #[serde(default = "defaults::listen")]
    pub listen: String,
    /// The authorization server; its metadata must name exactly this issuer.
    #[serde(default = "defaults::issuer")]
    pub issuer: String,
    #[serde(default = "defaults::client_id")]
    pub client_id: String,
    pub client_secret: Secret,
    /// Must be registered for the client at the authorization server.
    #[serde(default = "defaults::redirect_uri")]
    pub redirect_uri: String,
    /// The photo API's base URL.
    #[serde(default = "defaults::photo_api")]
    pub photo_api: String,
    /// What the start button asks for; the user may grant less. With
    /// `openid`, the printer gets an ID token and shows who logged in.
    #[serde(default = "defaults::scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "defaults::log")]
    pub log: String,
}

mod defaults {
    pub fn listen() -> String {
        "127.0.0.1:9000".into()
    }
    pub fn issuer() -> String {
        "http://localhost:9001".into()
    }
    pub fn client_id() -> String {
        "photo-printer".into()
    }
    pub fn redirect_uri() -> String {
        "http://localhost:9000/callback".into()
    }
    pub fn photo_api() -> String {
        "http://localhost:9002".into()
    }
    pub fn scopes() -> Vec<String> {
        ["openid", "profile", "photos:read", "photos:write"]
            .map(String::from)
            .to_vec()
    }
    pub fn log() -> String {
        "info".into()
    }
}
