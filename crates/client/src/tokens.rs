//! What a token response leaves the client with.

use std::time::{Duration, SystemTime};

use oauth2::basic::BasicTokenType;
use oauth2::{StandardTokenResponse, TokenResponse as _};

use crate::error::Error;
use crate::identity::Identity;

/// The one field OpenID Connect adds to a token response.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl oauth2::ExtraTokenFields for IdTokenField {}

/// A token response, with `id_token` when `openid` was granted.
pub type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// A string that never shows in `Debug`: tokens must not reach logs.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The tokens of one browser session.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// `None` when the server sent no `expires_in` (RFC 6749 §5.1 makes it
    /// optional): the client then learns of expiry from a 401.
    pub expires_at: Option<SystemTime>,
    /// The scopes granted; when the response has no `scope`, what was
    /// requested (RFC 6749 §5.1: omitted means identical).
    pub scopes: Vec<String>,
    /// Always `bearer` (compared case-insensitively, as RFC 6749 §7.1 says).
    pub token_type: String,
    /// Who logged in, from the verified ID token (when `openid` was granted).
    #[serde(default)]
    pub identity: Option<Identity>,
}

impl Tokens {
    /// From a token response; `previous` is what a refresh replaces.
    pub(crate) fn from_response(
        response: &TokenResponse,
        now: SystemTime,
        fallback_scopes: &[String],
        previous_refresh: Option<&Secret>,
    ) -> Result<Self, Error> {
        // oauth2 lowercases token_type while parsing.
        match response.token_type() {
            BasicTokenType::Bearer => {}
            other => return Err(Error::UnsupportedTokenType(other.as_ref().to_owned())),
        }
        let scopes = match response.scopes() {
            Some(s) => s.iter().map(|s| s.to_string()).collect(),
            None => fallback_scopes.to_vec(),
        };
        Ok(Self {
            access_token: Secret::new(response.access_token().secret().clone()),
            // OAuth 2.1 §4.3.2: a new refresh token replaces the old one,
            // which must be discarded; without one, the old one stays.
            refresh_token: response
                .refresh_token()
                .map(|r| Secret::new(r.secret().clone()))
                .or_else(|| previous_refresh.cloned()),
            expires_at: response
                .expires_in()
                .map(|d| now + d.min(Duration::from_secs(u32::MAX.into()))),
            scopes,
            token_type: "bearer".into(),
            identity: None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(json: &str) -> TokenResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn token_type_in_any_case_and_no_expires_in() {
        let old = Secret::new("old-refresh");
        let t = Tokens::from_response(
            &parse(r#"{"access_token":"at","token_type":"BEARER"}"#),
            SystemTime::UNIX_EPOCH,
            &["photos:read".into()],
            Some(&old),
        )
        .unwrap();
        assert_eq!(t.token_type, "bearer");
        assert_eq!(t.expires_at, None);
        assert_eq!(
            t.scopes,
            ["photos:read"],
            "omitted scope means as requested"
        );
        assert_eq!(
            t.refresh_token,
            Some(old),
            "no new refresh token: keep the old"
        );
        assert!(!format!("{t:?}").contains("at\""));
    }

    #[test]
    fn a_new_refresh_token_replaces_the_old_and_scope_is_what_was_granted() {
        let t = Tokens::from_response(
            &parse(
                r#"{"access_token":"at","token_type":"Bearer","expires_in":60,
                   "refresh_token":"new-refresh","scope":"photos:read"}"#,
            ),
            SystemTime::UNIX_EPOCH,
            &["photos:read".into(), "photos:write".into()],
            Some(&Secret::new("old-refresh")),
        )
        .unwrap();
        assert_eq!(t.refresh_token, Some(Secret::new("new-refresh")));
        assert_eq!(t.scopes, ["photos:read"]);
        assert_eq!(
            t.expires_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(60))
        );
    }

    #[test]
    fn other_token_types_are_refused() {
        let r = Tokens::from_response(
            &parse(r#"{"access_token":"at","token_type":"DPoP"}"#),
            SystemTime::UNIX_EPOCH,
            &[],
            None,
        );
        assert!(matches!(r, Err(Error::UnsupportedTokenType(_))));
    }
}
