//! Checks a server makes before it starts, so that a mistake in its
//! settings is reported in the settings' words: a SQLite database whose
//! directory does not exist, a listening address already taken, and (a
//! warning) an authorization server listening on another port than its
//! loopback issuer names.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr as _;

use anyhow::{Context as _, bail};
use sqlx::sqlite::SqliteConnectOptions;
use tokio::net::TcpListener;

/// Fails when `database` is a SQLite URL whose file would live in a
/// directory that does not exist (SQLite creates the file, not the
/// directory, and only says "unable to open database file").
pub fn sqlite_directory_exists(database: &str) -> anyhow::Result<()> {
    if !database.starts_with("sqlite:") {
        return Ok(());
    }
    // A URL sqlx cannot read is reported by the open that follows.
    let Ok(options) = SqliteConnectOptions::from_str(database) else {
        return Ok(());
    };
    match options.get_filename().parent() {
        Some(dir) if dir != Path::new("") && !dir.is_dir() => {
            bail!("the directory {} does not exist", dir.display())
        }
        _ => Ok(()),
    }
}

/// Binds `listen`. When the address is taken, the message names the setting
/// that chose it: `key` in the configuration file, or `env`.
pub async fn bind(listen: &str, key: &str, env: &str) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(listen).await {
        Ok(listener) => Ok(listener),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "cannot listen on {listen}: the address is already in use; stop what is using it, or choose another address with `{key}` in the configuration file or {env}"
        ),
        Err(e) => Err(e).with_context(|| format!("cannot listen on {listen} (`{key}` / {env})")),
    }
}

/// The port a loopback `issuer` names, when the server bound to `bound`
/// listens on another one: discovery, the login redirects and the tokens
/// would then send everyone to a port nobody serves.
pub fn issuer_port_mismatch(issuer: &str, bound: SocketAddr) -> Option<u16> {
    let url = url::Url::parse(issuer).ok()?;
    let loopback = match url.host()? {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    let port = url.port_or_known_default()?;
    (loopback && port != bound.port()).then_some(port)
}

/// Logs a warning when [`issuer_port_mismatch`] finds one.
pub fn warn_on_issuer_port_mismatch(issuer: &str, bound: SocketAddr) {
    if let Some(port) = issuer_port_mismatch(issuer, bound) {
        tracing::warn!(
            "listening on port {} (`listen` / TESSERA_LISTEN) but the issuer {issuer} names port {port}: discovery and redirects will send clients and browsers to port {port}; give `listen` and `issuer` the same port",
            bound.port()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::issuer_port_mismatch;

    #[test]
    fn only_a_loopback_issuer_on_another_port_is_a_mismatch() {
        let at = |s: &str| s.parse().unwrap();
        let bound = at("127.0.0.1:9005");
        assert_eq!(
            issuer_port_mismatch("http://localhost:9001", bound),
            Some(9001)
        );
        assert_eq!(issuer_port_mismatch("http://127.0.0.1:9005", bound), None);
        assert_eq!(
            issuer_port_mismatch("http://localhost", at("0.0.0.0:80")),
            None
        );
        // Behind a proxy: the issuer's port is the proxy's.
        assert_eq!(issuer_port_mismatch("https://as.example.com", bound), None);
    }
}
