//! Who logged in: the claims of the first ID token and UserInfo, kept for
//! the whole session. A refreshed ID token (OIDC Core §12.2) must be about
//! the same user at the same issuer; it adds or updates claims and never
//! takes one away (it usually carries fewer: no `name` without UserInfo).

use serde::Deserialize;

use crate::error::Error;

/// Who logged in, from a verified ID token (and UserInfo).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The ID token's `iss`: with `subject`, what identifies the user.
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    pub email: Option<String>,
    /// When the user last logged in at the AS (seconds since the epoch).
    pub auth_time: Option<i64>,
}

impl Identity {
    /// The best name to show.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.preferred_username.as_deref())
            .or(self.email.as_deref())
            .unwrap_or(&self.subject)
    }

    /// The identity after a refresh that brought the verified ID token
    /// `newer`. OIDC Core §12.2: its `iss` and `sub` must be this one's,
    /// otherwise the refresh result is refused ([`Error::IdentityChanged`]).
    /// A claim the newer token carries replaces the older value; one it
    /// lacks keeps the older value. `auth_time` stays the first one's: it is
    /// the time of the original authentication, which a refresh is not.
    pub(crate) fn merge_refreshed(&self, newer: Identity) -> Result<Identity, Error> {
        if newer.issuer != self.issuer {
            return Err(Error::IdentityChanged { claim: "iss" });
        }
        if newer.subject != self.subject {
            return Err(Error::IdentityChanged { claim: "sub" });
        }
        Ok(Identity {
            issuer: newer.issuer,
            subject: newer.subject,
            name: newer.name.or_else(|| self.name.clone()),
            preferred_username: newer
                .preferred_username
                .or_else(|| self.preferred_username.clone()),
            email: newer.email.or_else(|| self.email.clone()),
            auth_time: self.auth_time.or(newer.auth_time),
        })
    }
}

/// The UserInfo answer's claims that the client shows.
#[derive(Debug, Deserialize)]
struct UserInfo {
    sub: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// Adds the user's name from UserInfo (OIDC Core §5.3) to `identity`. The
/// answer's `sub` must be the ID token's (§5.3.2: otherwise it is someone
/// else's answer and is refused).
pub(crate) async fn add_userinfo(
    http: &reqwest::Client,
    endpoint: &str,
    access_token: &str,
    identity: &mut Identity,
) -> Result<(), Error> {
    let response = http
        .get(endpoint)
        .bearer_auth(access_token)
        .header("accept", "application/json")
        .send()
        .await;
    crate::observe::report(|| crate::observe::Exchange {
        method: "GET".into(),
        url: crate::observe::bare_url(endpoint),
        authorization: Some(crate::observe::redact_authorization(&format!(
            "Bearer {access_token}"
        ))),
        request: Vec::new(),
        status: response.as_ref().ok().map(|r| r.status().as_u16()),
        response: Vec::new(),
        challenge: None,
    });
    let response = response?;
    if !response.status().is_success() {
        return Err(Error::Transport(format!(
            "UserInfo answered {}",
            response.status()
        )));
    }
    let info: UserInfo = response.json().await.map_err(|_| Error::BadResponse)?;
    if info.sub != identity.subject {
        return Err(Error::InvalidIdToken("UserInfo is about another subject"));
    }
    identity.name = info.name.or(identity.name.take());
    identity.preferred_username = info
        .preferred_username
        .or(identity.preferred_username.take());
    identity.email = info.email.or(identity.email.take());
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Alice as the first ID token and UserInfo described her.
    fn alice() -> Identity {
        Identity {
            issuer: "https://as.example".into(),
            subject: "fCD6TKFMUma1fwE7Z31Taw".into(),
            name: Some("Alice Liddell".into()),
            preferred_username: Some("alice".into()),
            email: Some("alice@example.com".into()),
            auth_time: Some(1_800_000_000),
        }
    }

    /// What a refreshed ID token says: who, and no profile claims.
    fn refreshed() -> Identity {
        Identity {
            name: None,
            preferred_username: None,
            email: None,
            auth_time: Some(1_800_000_900),
            ..alice()
        }
    }

    /// Issue 12 item 5: a refreshed ID token without `name` keeps the name.
    #[test]
    fn issue12_item5_a_refresh_keeps_the_claims_it_does_not_carry() {
        let merged = alice().merge_refreshed(refreshed()).unwrap();
        assert_eq!(merged.display_name(), "Alice Liddell");
        assert_eq!(merged.email.as_deref(), Some("alice@example.com"));
        assert_eq!(
            merged.auth_time,
            Some(1_800_000_000),
            "auth_time is the original authentication's"
        );
    }

    #[test]
    fn issue12_item5_newer_claims_replace_older_ones() {
        let newer = Identity {
            email: Some("alice@wonderland.example".into()),
            ..refreshed()
        };
        let merged = alice().merge_refreshed(newer).unwrap();
        assert_eq!(merged.email.as_deref(), Some("alice@wonderland.example"));
        assert_eq!(merged.name.as_deref(), Some("Alice Liddell"));
    }

    /// Issue 12 item 5, OIDC Core §12.2: another `sub` or `iss` is refused.
    #[test]
    fn issue12_item5_another_subject_or_issuer_is_refused() {
        let other_user = Identity {
            subject: "someone-else".into(),
            ..refreshed()
        };
        let r = alice().merge_refreshed(other_user);
        assert!(
            matches!(r, Err(Error::IdentityChanged { claim: "sub" })),
            "{r:?}"
        );
        let other_issuer = Identity {
            issuer: "https://evil.example".into(),
            ..refreshed()
        };
        let r = alice().merge_refreshed(other_issuer);
        assert!(
            matches!(r, Err(Error::IdentityChanged { claim: "iss" })),
            "{r:?}"
        );
        assert!(
            Error::IdentityChanged { claim: "sub" }
                .to_string()
                .contains("another user"),
        );
    }
}
