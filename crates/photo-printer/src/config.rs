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
    /// chain and key (loaded by the binary), read again every
    /// `tls_reload_interval_secs`. Then `redirect_uri` should be https too.
    #[serde(default)]
    pub tls_certificate_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub tls_key_file: Option<std::path::PathBuf>,
    #[serde(default)]
    pub tls_reload_interval_secs: Option<u64>,
}

impl PrinterConfig {
    /// The connection limits these settings ask for.
    pub fn connection_limits(&self) -> tessera_serve::ConnectionLimits {
        tessera_serve::ConnectionLimits::from_settings(
            self.header_read_timeout_secs,
            self.request_body_timeout_secs,
            self.max_connections,
        )
    }
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
