//! RFC 8414 metadata discovery, written by hand: oauth2 5 has no discovery
//! (its sibling openidconnect only does OIDC discovery), and the issuer
//! check of RFC 8414 §3.3 is what protects against a mixed-up server.

use serde::Deserialize;

use crate::error::Error;

/// The fields of the metadata document the client uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// Where the keys that sign ID tokens are (OpenID Connect).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// OpenID Connect UserInfo; taken from the OpenID discovery document
    /// when the RFC 8414 one does not name it.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: when true, a callback without `iss` is refused.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Where RFC 8414 §3 puts the document: the well-known segment goes between
/// the host and the issuer's path.
pub(crate) fn metadata_url(issuer: &str) -> Result<url::Url, Error> {
    let mut url = url::Url::parse(issuer).map_err(|_| Error::InvalidUrl(issuer.to_owned()))?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok(url)
}

/// Fetches the metadata and applies every rule before anything is used.
pub(crate) async fn fetch(http: &reqwest::Client, issuer: &str) -> Result<Metadata, Error> {
    require_secure(issuer)?;
    let response = http
        .get(metadata_url(issuer)?)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| Error::Metadata(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(Error::Metadata(format!("status {}", response.status())));
    }
    let metadata: Metadata = response
        .json()
        .await
        .map_err(|e| Error::Metadata(e.without_url().to_string()))?;
    check(issuer, &metadata)?;
    let mut metadata = metadata;
    if metadata.userinfo_endpoint.is_none() {
        metadata.userinfo_endpoint = openid_userinfo_endpoint(http, issuer).await;
    }
    Ok(metadata)
}

/// The `userinfo_endpoint` of the OpenID discovery document (OIDC Discovery
/// §4: appended to the issuer), if the server has one for this very issuer.
/// Its absence is not an error: the server may not do OpenID Connect.
async fn openid_userinfo_endpoint(http: &reqwest::Client, issuer: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct OpenId {
        issuer: String,
        userinfo_endpoint: Option<String>,
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let response = http.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let doc: OpenId = response.json().await.ok()?;
    let endpoint = doc.userinfo_endpoint.filter(|_| doc.issuer == issuer)?;
    require_secure(&endpoint).ok()?;
    Some(endpoint)
}

/// The rules of RFC 8414 §3.3 (identical issuer, compared as strings),
/// TLS everywhere but loopback, and S256 (RFC 9700 §4.7.1: the client may
/// rely on PKCE only when the server says it supports S256).
pub fn check(issuer: &str, metadata: &Metadata) -> Result<(), Error> {
    if metadata.issuer != issuer {
        return Err(Error::IssuerMismatch {
            expected: issuer.to_owned(),
            found: metadata.issuer.clone(),
        });
    }
    require_secure(&metadata.authorization_endpoint)?;
    require_secure(&metadata.token_endpoint)?;
    if let Some(revocation) = &metadata.revocation_endpoint {
        require_secure(revocation)?;
    }
    if !metadata
        .code_challenge_methods_supported
        .iter()
        .any(|m| m == "S256")
    {
        return Err(Error::NoS256);
    }
    Ok(())
}

/// https, or http to a loopback host (development only; RFC 8252 §8.3
/// treats loopback as not leaving the machine).
pub fn require_secure(endpoint: &str) -> Result<(), Error> {
    let url = url::Url::parse(endpoint).map_err(|_| Error::InvalidUrl(endpoint.to_owned()))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(Error::InsecureEndpoint(endpoint.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback() {
        assert!(require_secure("https://as.example/token").is_ok());
        assert!(require_secure("http://localhost:9001/token").is_ok());
        assert!(require_secure("http://127.0.0.1:9001/token").is_ok());
        assert!(require_secure("http://[::1]:9001/token").is_ok());
        assert!(require_secure("http://as.example/token").is_err());
        assert!(require_secure("http://127.0.0.1.evil.example/token").is_err());
    }

    #[test]
    fn the_well_known_segment_goes_before_the_path() {
        assert_eq!(
            metadata_url("https://as.example")
                .unwrap_or_else(|_| unreachable!())
                .as_str(),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_url("https://as.example/tenant")
                .unwrap_or_else(|_| unreachable!())
                .as_str(),
            "https://as.example/.well-known/oauth-authorization-server/tenant"
        );
    }
}
