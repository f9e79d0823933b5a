//! Authorization-server metadata (RFC 8414): where the JWKS and the
//! introspection endpoint are, fetched once and checked against the
//! configured issuer.

use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::clock::{Clock, UnixTime};
use crate::config::check_url;
use crate::error::GuardError;
use crate::http::Http;

/// What the guard needs from the metadata.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Metadata {
    issuer: String,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) introspection_endpoint: Option<String>,
}

pub(crate) struct Discovery {
    issuer: String,
    url: String,
    http: Http,
    clock: Arc<dyn Clock>,
    retry_interval: i64,
    found: OnceLock<Arc<Metadata>>,
    /// When the last attempt failed, and why: attempts are spaced like JWKS
    /// refetches, so an AS outage is not met with a request per request.
    failed: Mutex<Option<(UnixTime, String)>>,
}

impl Discovery {
    pub(crate) fn new(
        issuer: &str,
        http: Http,
        clock: Arc<dyn Clock>,
        retry_interval: i64,
    ) -> Result<Self, crate::config::ConfigError> {
        Ok(Self {
            issuer: issuer.to_owned(),
            url: metadata_url(issuer)?,
            http,
            clock,
            retry_interval,
            found: OnceLock::new(),
            failed: Mutex::new(None),
        })
    }

    /// The metadata, fetched on first use. Concurrent callers wait for one
    /// fetch.
    pub(crate) async fn metadata(&self) -> Result<Arc<Metadata>, GuardError> {
        if let Some(m) = self.found.get() {
            return Ok(m.clone());
        }
        let mut failed = self.failed.lock().await;
        if let Some(m) = self.found.get() {
            return Ok(m.clone());
        }
        let now = self.clock.now();
        if let Some((at, why)) = failed.as_ref()
            && now < at.saturating_add(self.retry_interval)
        {
            return Err(GuardError::Unavailable(format!(
                "metadata discovery failed recently: {why}"
            )));
        }
        match self.fetch().await {
            Ok(m) => {
                *failed = None;
                let m = Arc::new(m);
                // Under the lock, so nobody else has set it.
                let _ = self.found.set(m.clone());
                Ok(m)
            }
            Err(why) => {
                tracing::error!(url = %self.url, reason = %why, "authorization server metadata discovery failed");
                *failed = Some((now, why.clone()));
                Err(GuardError::Unavailable(why))
            }
        }
    }

    async fn fetch(&self) -> Result<Metadata, String> {
        let m: Metadata = self.http.get_json(&self.url).await?;
        // RFC 8414 §3.3: the issuer in the document must be the one the
        // document was looked up for, or it speaks for another server.
        if m.issuer != self.issuer {
            return Err(format!(
                "{} names issuer `{}`, not the configured `{}`",
                self.url, m.issuer, self.issuer
            ));
        }
        for u in [&m.jwks_uri, &m.introspection_endpoint]
            .into_iter()
            .flatten()
        {
            check_url(u, false).map_err(|e| format!("{}: {e}", self.url))?;
        }
        Ok(m)
    }
}

/// RFC 8414 §3.1: the well-known segment goes between the host and the
/// issuer's path (`https://as/t` → `https://as/.well-known/oauth-authorization-server/t`).
pub(crate) fn metadata_url(issuer: &str) -> Result<String, crate::config::ConfigError> {
    let mut url = check_url(issuer, true)?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_segment_goes_before_the_issuer_path() {
        assert_eq!(
            metadata_url("https://as.example").unwrap(),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_url("https://as.example/tenant/1").unwrap(),
            "https://as.example/.well-known/oauth-authorization-server/tenant/1"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:9001").unwrap(),
            "http://127.0.0.1:9001/.well-known/oauth-authorization-server"
        );
    }
}
