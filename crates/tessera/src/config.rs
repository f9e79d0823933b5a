//! The configuration file (TOML), with every top-level key also settable as a
//! `TESSERA_<KEY>` environment variable.

use std::path::Path;

use anyhow::Context as _;
use figment::Figment;
use figment::providers::{Env, Format as _, Toml};
use serde::Deserialize;
use tessera_authorization_server::ServerConfig;
use tessera_authorization_server::admin::{ClientSpec, ResourceSpec, UserSpec};
use tessera_authorization_server::keys::KeyEncryptionKey;
use tessera_core::secrets::SecretString;

/// Top-level keys that may come from the environment.
const ENV_KEYS: &[&str] = &[
    "issuer",
    "listen",
    "database",
    "default_audience",
    "access_token_ttl_secs",
    "authorization_code_ttl_secs",
    "refresh_token_idle_ttl_secs",
    "refresh_token_absolute_ttl_secs",
    "session_ttl_secs",
    "log",
    "access_token_format",
    "key_encryption_key",
    "signing_algorithm",
    "key_prepublication_secs",
    "key_rotation_interval_secs",
    "key_reload_interval_secs",
];

/// Reads `path` if given (it must then exist), then the environment
/// variables `prefix` + one of `keys` (upper case), which win.
pub fn load<T: serde::de::DeserializeOwned>(
    path: Option<&Path>,
    prefix: &str,
    keys: &[&str],
) -> anyhow::Result<T> {
    let mut figment = Figment::new();
    if let Some(path) = path {
        anyhow::ensure!(
            path.exists(),
            "config file {} does not exist",
            path.display()
        );
        figment = figment.merge(Toml::file_exact(path));
    }
    Ok(figment.merge(Env::prefixed(prefix).only(keys)).extract()?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default = "defaults::issuer")]
    pub issuer: String,
    #[serde(default = "defaults::listen")]
    pub listen: String,
    #[serde(default = "defaults::database")]
    pub database: String,
    /// `aud` of access tokens: the protected resource's identifier.
    #[serde(default = "defaults::audience")]
    pub default_audience: String,
    pub access_token_ttl_secs: Option<i64>,
    pub authorization_code_ttl_secs: Option<i64>,
    pub refresh_token_idle_ttl_secs: Option<i64>,
    pub refresh_token_absolute_ttl_secs: Option<i64>,
    pub session_ttl_secs: Option<i64>,
    /// `"jwt"` (default) or `"opaque"`: the access-token format for clients
    /// that do not choose their own.
    pub access_token_format: Option<String>,
    /// Base64 of 32 random bytes: the key that seals signing keys at rest.
    /// Required with an https issuer; best set from the environment.
    pub key_encryption_key: Option<SecretString>,
    /// `ES256` (default), `EdDSA` or `RS256`: the algorithm of the first
    /// signing key and of scheduled rotations.
    pub signing_algorithm: Option<String>,
    /// How long a new signing key is published before it signs.
    pub key_prepublication_secs: Option<i64>,
    /// Rotate the signing key when the newest is this old; off when absent.
    pub key_rotation_interval_secs: Option<i64>,
    /// How often a running server reloads the signing keys from the store.
    pub key_reload_interval_secs: Option<i64>,
    /// A tracing filter, such as `info` or `tessera=debug`.
    #[serde(default = "defaults::log")]
    pub log: String,
    #[serde(default)]
    pub clients: Vec<ClientSpec>,
    /// Protected resources (RFC 8707): the audiences tokens may be issued for.
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
}

mod defaults {
    pub fn issuer() -> String {
        "http://localhost:9001".into()
    }
    pub fn listen() -> String {
        "127.0.0.1:9001".into()
    }
    pub fn database() -> String {
        "sqlite://tessera.db".into()
    }
    pub fn audience() -> String {
        "http://localhost:9002".into()
    }
    pub fn log() -> String {
        "info".into()
    }
}

impl FileConfig {
    /// Reads `path` if given (it must then exist), then the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        load(path, "TESSERA_", ENV_KEYS).context("invalid configuration")
    }

    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let mut config = ServerConfig::new(&self.issuer, &self.default_audience)?;
        let l = &mut config.lifetimes;
        let positive = |name: &str, v: i64| -> anyhow::Result<i64> {
            anyhow::ensure!(v > 0, "{name} must be a positive number of seconds");
            Ok(v)
        };
        if let Some(v) = self.access_token_ttl_secs {
            l.access_token = positive("access_token_ttl_secs", v)?;
        }
        if let Some(v) = self.authorization_code_ttl_secs {
            l.authorization_code = positive("authorization_code_ttl_secs", v)?;
        }
        if let Some(v) = self.refresh_token_idle_ttl_secs {
            l.refresh_token_idle = positive("refresh_token_idle_ttl_secs", v)?;
        }
        if let Some(v) = self.refresh_token_absolute_ttl_secs {
            l.refresh_token_absolute = positive("refresh_token_absolute_ttl_secs", v)?;
        }
        if let Some(v) = self.session_ttl_secs {
            config.session_ttl = positive("session_ttl_secs", v)?;
        }
        if let Some(f) = &self.access_token_format {
            config.access_token_format = f.parse()?;
        }
        let keys = &mut config.keys;
        if let Some(k) = &self.key_encryption_key {
            keys.encryption_key = Some(KeyEncryptionKey::from_base64(k.expose())?);
        }
        if let Some(a) = &self.signing_algorithm {
            keys.algorithm = a
                .parse()
                .context("signing_algorithm must be ES256, EdDSA or RS256")?;
        }
        if let Some(v) = self.key_prepublication_secs {
            anyhow::ensure!(
                v >= 0,
                "key_prepublication_secs must be zero or a positive number of seconds"
            );
            keys.prepublication_secs = v;
        }
        if let Some(v) = self.key_reload_interval_secs {
            keys.reload_interval_secs = positive("key_reload_interval_secs", v)?;
        }
        if let Some(v) = self.key_rotation_interval_secs {
            let v = positive("key_rotation_interval_secs", v)?;
            // Otherwise keys would pile up, each rotated before the last one
            // has started signing.
            anyhow::ensure!(
                v > keys.prepublication_secs,
                "key_rotation_interval_secs must be longer than key_prepublication_secs"
            );
            keys.rotation_interval_secs = Some(v);
        }
        Ok(config)
    }
}
