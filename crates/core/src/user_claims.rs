//! What Tessera knows about a user beyond the login, and which of it each
//! OpenID Connect scope releases (OIDC Core §5.1, §5.4).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::scope::Scope;

/// The scopes OIDC defines. Every client with the authorization code grant
/// may ask for them: what they release is about the user, who consents.
pub const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "address", "phone"];

/// The claims this server can release (for `claims_supported`).
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "amr",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "email",
    "email_verified",
    "address",
    "phone_number",
    "phone_number_verified",
];

/// The OIDC scopes as a [`Scope`].
pub fn oidc_scopes() -> Scope {
    Scope::from_tokens(OIDC_SCOPES.iter().copied()).unwrap_or_default()
}

/// A user's standard claims (OIDC Core §5.1), all optional. Stored with the
/// user as JSON; set by configuration and `tessera user`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Defaults to the username when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
}

/// The `address` claim (OIDC Core §5.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl UserClaims {
    /// Sets every field that `other` sets, keeping the rest.
    pub fn merge(&mut self, other: UserClaims) {
        let mut mine = serde_json::to_value(&*self).unwrap_or_default();
        if let (Some(m), Ok(Value::Object(o))) = (mine.as_object_mut(), serde_json::to_value(other))
        {
            m.extend(o);
        }
        if let Ok(merged) = serde_json::from_value(mine) {
            *self = merged;
        }
    }
}

const PROFILE: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
];
const EMAIL: &[&str] = &["email", "email_verified"];
const ADDRESS: &[&str] = &["address"];
const PHONE: &[&str] = &["phone_number", "phone_number_verified"];

/// The UserInfo claims (OIDC Core §5.3.2, §5.4) of user `sub` for a token
/// with `scope`: `sub` always, then the claims of each scope the user has
/// values for. Claims without a value are left out, never sent as null.
pub fn released(
    sub: &str,
    username: &str,
    claims: &UserClaims,
    scope: &Scope,
) -> Map<String, Value> {
    let mut all = match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    all.entry("preferred_username")
        .or_insert_with(|| Value::String(username.to_owned()));
    let mut out = Map::new();
    out.insert("sub".into(), Value::String(sub.to_owned()));
    for (scope_name, names) in [
        ("profile", PROFILE),
        ("email", EMAIL),
        ("address", ADDRESS),
        ("phone", PHONE),
    ] {
        if !scope.contains(scope_name) {
            continue;
        }
        for name in names {
            if let Some(v) = all.get(*name) {
                out.insert((*name).to_owned(), v.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> UserClaims {
        UserClaims {
            name: Some("Alice Liddell".into()),
            email: Some("alice@example.com".into()),
            email_verified: Some(true),
            phone_number: Some("+44 20 7946 0000".into()),
            address: Some(Address {
                country: Some("GB".into()),
                ..Address::default()
            }),
            ..UserClaims::default()
        }
    }

    fn scope(s: &str) -> Scope {
        Scope::parse(s).unwrap_or_default()
    }

    #[test]
    fn each_scope_releases_its_claims_only() {
        let c = alice();
        let only_openid = released("u1", "alice", &c, &scope("openid"));
        assert_eq!(only_openid.keys().collect::<Vec<_>>(), vec!["sub"]);
        let email = released("u1", "alice", &c, &scope("openid email"));
        assert_eq!(email["email"], "alice@example.com");
        assert_eq!(email["email_verified"], true);
        assert!(email.get("name").is_none());
        let profile = released("u1", "alice", &c, &scope("openid profile"));
        assert_eq!(profile["name"], "Alice Liddell");
        assert_eq!(profile["preferred_username"], "alice");
        assert!(profile.get("given_name").is_none(), "absent, not null");
        let all = released(
            "u1",
            "alice",
            &c,
            &scope("openid profile email address phone"),
        );
        assert_eq!(all["address"]["country"], "GB");
        assert_eq!(all["phone_number"], "+44 20 7946 0000");
        assert!(all.get("phone_number_verified").is_none());
    }

    #[test]
    fn merging_keeps_what_is_not_set_again() {
        let mut c = alice();
        c.merge(UserClaims {
            email: Some("a@example.org".into()),
            ..UserClaims::default()
        });
        assert_eq!(c.email.as_deref(), Some("a@example.org"));
        assert_eq!(c.name.as_deref(), Some("Alice Liddell"));
    }
}
