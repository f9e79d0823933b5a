//! The configuration file (TOML), with every top-level key also settable as a
//! `TESSERA_<KEY>` environment variable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use figment::Figment;
use figment::providers::{Env, Format as _, Toml};
use serde::Deserialize;
use tessera_authorization_server::ServerConfig;
use tessera_authorization_server::admin::{ClientSpec, ResourceSpec, UserSpec};
use tessera_authorization_server::keys::{KeyEncryptionKey, KeysError};
use tessera_core::redirect_uri::Mode;
use tessera_core::secrets::SecretString;
use tessera_store::PostgresOptions;

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
    "database_max_connections",
    "database_statement_timeout_secs",
    "database_connect_attempts",
    "database_connect_retry_secs",
    "database_schema",
    "refresh_retry_window_secs",
    "housekeeping_interval_secs",
    "display_name",
    "header_read_timeout_secs",
    "request_body_timeout_secs",
    "max_connections",
    "mode",
    "tls_certificate_file",
    "tls_key_file",
    "tls_reload_interval_secs",
    "hsts_max_age_secs",
    "login_throttle_account_free_failures",
    "login_throttle_address_free_failures",
    "login_throttle_max_delay_secs",
    "login_throttle_lockout_failures",
    "login_throttle_lockout_secs",
    "login_throttle_window_secs",
    "password_hashing_slots",
    "password_hashing_queue",
    "trusted_proxies",
    "audit_retention_days",
    "log_format",
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
    figment
        .merge(Env::prefixed(prefix).only(keys))
        .extract()
        .map_err(|e| crate::config_error::describe(e, prefix, keys))
}

// No `Debug`: `database` may hold a PostgreSQL password. Messages name the
// database through `redacted_database`.
#[derive(Deserialize)]
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
    /// How long a refresh retried by the same client gets the same answer;
    /// 0 turns the retry window off.
    pub refresh_retry_window_secs: Option<i64>,
    /// How often expired codes, tokens and sessions are removed; 0 turns
    /// housekeeping off.
    pub housekeeping_interval_secs: Option<u64>,
    /// PostgreSQL only: connections this node keeps at most.
    pub database_max_connections: Option<u32>,
    /// PostgreSQL only: how long one statement may run.
    pub database_statement_timeout_secs: Option<u64>,
    /// PostgreSQL only: attempts to reach the database at start.
    pub database_connect_attempts: Option<u32>,
    /// PostgreSQL only: the pause between two attempts.
    pub database_connect_retry_secs: Option<u64>,
    /// PostgreSQL only: the schema to use (created if missing) instead of the
    /// user's default search path.
    pub database_schema: Option<String>,
    /// Failed logins on one account before delays start.
    pub login_throttle_account_free_failures: Option<u32>,
    /// Failed logins from one source address before delays start.
    pub login_throttle_address_free_failures: Option<u32>,
    /// The longest delay after a failed login (they double from 1 s).
    pub login_throttle_max_delay_secs: Option<i64>,
    /// Failed logins on one account that lock it.
    pub login_throttle_lockout_failures: Option<u32>,
    /// How long a locked account stays locked.
    pub login_throttle_lockout_secs: Option<i64>,
    /// How long failed logins are remembered after the last one.
    pub login_throttle_window_secs: Option<i64>,
    /// Argon2 verifications at once (default: one per core).
    pub password_hashing_slots: Option<usize>,
    /// Logins that may wait for a hashing slot (default: four per slot);
    /// any more are answered 503 with `Retry-After`.
    pub password_hashing_queue: Option<usize>,
    /// A tracing filter, such as `info` or `tessera=debug`.
    #[serde(default = "defaults::log")]
    pub log: String,
    /// How long a client may take to send a request's header, and how long
    /// a kept-alive connection may idle (seconds; default 10).
    pub header_read_timeout_secs: Option<u64>,
    /// How long a request body may take to arrive (seconds; default 30).
    pub request_body_timeout_secs: Option<u64>,
    /// Open connections at most (default 4096; always below the process's
    /// file-descriptor limit).
    pub max_connections: Option<usize>,
    /// `"production"` or `"development"`: what the issuer must make the
    /// server (https is production, http://localhost development); a
    /// mismatch refuses to start, so a production configuration cannot be
    /// served with a development issuer by mistake. The issuer decides.
    pub mode: Option<String>,
    /// PEM certificate chain (leaf first) for built-in TLS; with
    /// `tls_key_file`. Absent: plain http (development, or behind a proxy
    /// that terminates TLS).
    pub tls_certificate_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, RSA or SEC1) of `tls_certificate_file`.
    pub tls_key_file: Option<PathBuf>,
    /// How often the certificate and key files are read again for a
    /// renewed certificate (seconds; default 10).
    pub tls_reload_interval_secs: Option<u64>,
    /// `Strict-Transport-Security: max-age` on every response with an https
    /// issuer (seconds; default one year; 0 sends none).
    pub hsts_max_age_secs: Option<u64>,
    /// Load balancers and reverse proxies (addresses or CIDR ranges) whose
    /// `Forwarded` / `X-Forwarded-For` headers say where a request comes
    /// from; from anyone else those headers are ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// How many days audit events are kept (default 365); 0 keeps them for
    /// ever.
    pub audit_retention_days: Option<u32>,
    /// `text` (default) or `json`: one JSON object a line, for log
    /// collectors (the audit events included, target `tessera::audit`).
    pub log_format: Option<String>,
    /// Endpoint budgets (token buckets per address and per client).
    #[serde(default)]
    pub budgets: crate::budgets_config::BudgetsConfig,
    /// The server's name on its pages (login, consent, home), so users see
    /// whose page they are on; "Tessera at <issuer host>" when absent.
    pub display_name: Option<String>,
    /// What each scope means, in words, on the consent page (scope → text).
    /// The OpenID Connect scopes have built-in words, which these replace.
    #[serde(default)]
    pub scope_descriptions: BTreeMap<String, String>,
    #[serde(default)]
    pub clients: Vec<ClientSpec>,
    /// Protected resources (RFC 8707): the audiences tokens may be issued for.
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// The file this configuration was read from, if any (for messages).
    #[serde(skip)]
    pub file: Option<PathBuf>,
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

/// The database URL with any password masked, for messages.
pub fn redacted_database(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            match url[scheme_end + 3..at].split_once(':') {
                Some((user, _password)) => {
                    format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl FileConfig {
    /// Pool and retry settings for a PostgreSQL database (ignored for SQLite).
    pub fn postgres_options(&self) -> anyhow::Result<PostgresOptions> {
        let mut o = PostgresOptions::new(self.database.clone());
        if let Some(n) = self.database_max_connections {
            anyhow::ensure!(n > 0, "database_max_connections must be positive");
            o.max_connections = n;
        }
        if let Some(s) = self.database_statement_timeout_secs {
            anyhow::ensure!(s > 0, "database_statement_timeout_secs must be positive");
            o.statement_timeout = Duration::from_secs(s);
        }
        if let Some(n) = self.database_connect_attempts {
            anyhow::ensure!(n > 0, "database_connect_attempts must be positive");
            o.connect_attempts = n;
        }
        if let Some(s) = self.database_connect_retry_secs {
            o.connect_retry_delay = Duration::from_secs(s);
        }
        o.schema = self.database_schema.clone();
        Ok(o)
    }

    /// Reads `path` if given (it must then exist), then the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let mut config: Self = load(path, "TESSERA_", ENV_KEYS).context("invalid configuration")?;
        config.file = path.map(Path::to_owned);
        Ok(config)
    }

    /// ` in <file>`, or nothing when the configuration has no file.
    pub fn file_named(&self) -> String {
        self.file
            .as_ref()
            .map(|f| format!(" in {}", f.display()))
            .unwrap_or_default()
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
        if let Some(v) = self.refresh_retry_window_secs {
            anyhow::ensure!(
                (0..=300).contains(&v),
                "refresh_retry_window_secs must be between 0 (off) and 300 seconds"
            );
            config.refresh_retry_window_secs = v;
        }
        if let Some(v) = self.housekeeping_interval_secs {
            config.housekeeping_interval_secs = (v > 0).then_some(v);
        }
        config.connections = connection_limits(
            self.header_read_timeout_secs,
            self.request_body_timeout_secs,
            self.max_connections,
        )?;
        self.login_limits(&mut config)?;
        self.posture(&mut config)?;
        config.trusted_proxies =
            tessera_authorization_server::trusted_proxies::TrustedProxies::parse(
                &self.trusted_proxies,
            )?;
        self.budgets.apply(&mut config.budgets)?;
        if let Some(days) = self.audit_retention_days {
            config.audit_retention_secs = (days > 0).then(|| i64::from(days) * 24 * 3600);
        }
        let words = &mut config.presentation;
        if let Some(name) = &self.display_name {
            words.set_display_name(name)?;
        }
        for (scope, text) in &self.scope_descriptions {
            words.describe(scope, text)?;
        }
        if let Some(f) = &self.access_token_format {
            config.access_token_format = f.parse()?;
        }
        let mode = config.mode();
        let keys = &mut config.keys;
        if let Some(k) = &self.key_encryption_key {
            let key = KeyEncryptionKey::from_base64(k.expose())?;
            // Refused here too (the key manager refuses it whoever builds
            // the server), so nothing is seeded into the database first.
            if let (Some(weakness), Mode::Production) = (key.weakness(), mode) {
                return Err(KeysError::WeakEncryptionKey(weakness).into());
            }
            keys.encryption_key = Some(key);
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

/// The connection limits from their configuration keys (shared by the
/// three servers' configurations); a zero is refused.
pub fn connection_limits(
    header_read_timeout_secs: Option<u64>,
    request_body_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
) -> anyhow::Result<tessera_serve::ConnectionLimits> {
    for (key, value) in [
        ("header_read_timeout_secs", header_read_timeout_secs),
        ("request_body_timeout_secs", request_body_timeout_secs),
        ("max_connections", max_connections.map(|n| n as u64)),
    ] {
        anyhow::ensure!(value != Some(0), "{key} must be at least 1");
    }
    Ok(tessera_serve::ConnectionLimits::from_settings(
        header_read_timeout_secs,
        request_body_timeout_secs,
        max_connections,
    ))
}

/// The built-in TLS from its configuration keys (shared by the three
/// servers' configurations): both files or neither, a positive interval;
/// the files are read and checked now, so a server that cannot present its
/// certificate refuses to start.
pub fn tls_files(
    certificate: Option<&Path>,
    key: Option<&Path>,
    reload_interval_secs: Option<u64>,
) -> anyhow::Result<Option<tessera_serve::Tls>> {
    let (certificate, key) = match (certificate, key) {
        (None, None) => {
            anyhow::ensure!(
                reload_interval_secs.is_none(),
                "tls_reload_interval_secs is set but tls_certificate_file and tls_key_file are not"
            );
            return Ok(None);
        }
        (Some(c), Some(k)) => (c, k),
        (Some(_), None) => anyhow::bail!("tls_certificate_file is set but tls_key_file is not"),
        (None, Some(_)) => anyhow::bail!("tls_key_file is set but tls_certificate_file is not"),
    };
    let mut files = tessera_serve::TlsFiles::new(certificate, key);
    if let Some(secs) = reload_interval_secs {
        anyhow::ensure!(secs > 0, "tls_reload_interval_secs must be at least 1");
        files.reload_interval = Duration::from_secs(secs);
    }
    Ok(Some(tessera_serve::Tls::load(files)?))
}

impl FileConfig {
    /// Production posture: the `mode` the issuer must give, built-in TLS
    /// only for an https issuer (the issuer is what browsers and clients are
    /// told to use; the files are loaded by [`FileConfig::tls`]) and HSTS.
    fn posture(&self, config: &mut ServerConfig) -> anyhow::Result<()> {
        let mode = config.mode();
        if let Some(wanted) = &self.mode {
            let wanted = match wanted.as_str() {
                "production" => Mode::Production,
                "development" => Mode::Development,
                other => {
                    anyhow::bail!("mode must be \"production\" or \"development\", not {other:?}")
                }
            };
            anyhow::ensure!(
                wanted == mode,
                "mode is {} but the issuer `{}` makes the server {}: production needs an https issuer, development an http://localhost or http://127.0.0.1 one",
                name(wanted),
                self.issuer,
                name(mode)
            );
        }
        anyhow::ensure!(
            (self.tls_certificate_file.is_none() && self.tls_key_file.is_none())
                || mode == Mode::Production,
            "tls_certificate_file is set but the issuer `{}` is http: a server that serves https itself needs an https issuer",
            self.issuer
        );
        if let Some(secs) = self.hsts_max_age_secs {
            config.hsts_max_age_secs = secs;
        }
        Ok(())
    }

    /// The built-in TLS, loaded from its files (only `serve` reads them:
    /// the management commands need no certificate, nor access to the key).
    pub fn tls(&self) -> anyhow::Result<Option<tessera_serve::Tls>> {
        tls_files(
            self.tls_certificate_file.as_deref(),
            self.tls_key_file.as_deref(),
            self.tls_reload_interval_secs,
        )
    }

    /// The login throttle and the bound on password hashing.
    fn login_limits(&self, config: &mut ServerConfig) -> anyhow::Result<()> {
        let t = &mut config.login_throttle;
        if let Some(v) = self.login_throttle_account_free_failures {
            t.account_free_failures = v;
        }
        if let Some(v) = self.login_throttle_address_free_failures {
            t.address_free_failures = v;
        }
        if let Some(v) = self.login_throttle_max_delay_secs {
            t.max_delay_secs = v;
        }
        if let Some(v) = self.login_throttle_lockout_failures {
            t.lockout_failures = v;
        }
        if let Some(v) = self.login_throttle_lockout_secs {
            t.lockout_secs = v;
        }
        if let Some(v) = self.login_throttle_window_secs {
            t.window_secs = v;
        }
        t.validate()?;
        let h = &mut config.password_hashing;
        if let Some(n) = self.password_hashing_slots {
            anyhow::ensure!(n > 0, "password_hashing_slots must be positive");
            h.slots = n;
            h.queue = 4 * n;
        }
        if let Some(n) = self.password_hashing_queue {
            h.queue = n;
        }
        Ok(())
    }
}

fn name(mode: Mode) -> &'static str {
    match mode {
        Mode::Production => "production",
        Mode::Development => "development",
    }
}

#[cfg(test)]
mod tests {
    use super::redacted_database;

    #[test]
    fn database_passwords_are_masked_in_messages() {
        assert_eq!(
            redacted_database("postgres://tessera:s3cret@db:5432/tessera"),
            "postgres://tessera:***@db:5432/tessera"
        );
        assert_eq!(
            redacted_database("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            redacted_database("sqlite://tessera.db"),
            "sqlite://tessera.db"
        );
    }
}
