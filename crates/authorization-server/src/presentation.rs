//! How the server presents itself to people: its display name (so a user
//! can see that the login and consent pages are the authorization server's,
//! not the client's) and what each scope means in words on the consent
//! page. Configured per server (`display_name`, `[scope_descriptions]`), with
//! built-in words for the OpenID Connect scopes.

use std::collections::BTreeMap;

use tessera_core::scope::Scope;

/// What the consent page says for the OpenID Connect scopes (OIDC Core §5.4,
/// §11) unless the configuration says otherwise.
pub const DEFAULT_DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "openid",
        "Sign you in with your account here, and learn an identifier for you that stays the same",
    ),
    ("profile", "See your name and basic profile"),
    ("email", "See your email address"),
    ("address", "See your postal address"),
    ("phone", "See your phone number"),
    (
        "offline_access",
        "Keep access when you are not using it (until you revoke it)",
    ),
];

/// The longest display name or scope description accepted: these are short
/// lines on a page.
pub const MAX_TEXT_CHARS: usize = 200;

/// Why a display name or a scope description cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PresentationError {
    #[error("display_name must be 1 to {MAX_TEXT_CHARS} characters, without control characters")]
    DisplayName,
    #[error("scope_descriptions: `{0}` is not a scope (RFC 6749 §3.3 characters, no spaces)")]
    ScopeName(String),
    #[error(
        "scope_descriptions: the description of `{0}` must be 1 to {MAX_TEXT_CHARS} characters, without control characters"
    )]
    Description(String),
}

/// The server's display name and scope descriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    display_name: String,
    /// Configured descriptions; they win over [`DEFAULT_DESCRIPTIONS`].
    descriptions: BTreeMap<String, String>,
}

/// One scope as the consent page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DescribedScope {
    /// The scope token, shown small beside the words (and the form value).
    pub name: String,
    /// The words; `None` when nobody described this scope.
    pub description: Option<String>,
}

fn acceptable(text: &str) -> bool {
    let n = text.trim().chars().count();
    (1..=MAX_TEXT_CHARS).contains(&n) && !text.chars().any(char::is_control)
}

impl Presentation {
    /// The default for `issuer`: "Tessera at" its host (and port).
    pub fn for_issuer(issuer: &str) -> Self {
        let host = url::Url::parse(issuer)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_owned(),
                })
            })
            .unwrap_or_default();
        Self {
            display_name: if host.is_empty() {
                "Tessera".to_owned()
            } else {
                format!("Tessera at {host}")
            },
            descriptions: BTreeMap::new(),
        }
    }

    /// Replaces the display name.
    pub fn set_display_name(&mut self, name: &str) -> Result<(), PresentationError> {
        if !acceptable(name) {
            return Err(PresentationError::DisplayName);
        }
        name.trim().clone_into(&mut self.display_name);
        Ok(())
    }

    /// Describes `scope` (replacing a built-in description).
    pub fn describe(&mut self, scope: &str, description: &str) -> Result<(), PresentationError> {
        // Exactly one scope token, as a client would send it.
        if Scope::parse(scope).map_or(true, |s| s.iter().count() != 1) || scope.contains(' ') {
            return Err(PresentationError::ScopeName(scope.to_owned()));
        }
        if !acceptable(description) {
            return Err(PresentationError::Description(scope.to_owned()));
        }
        self.descriptions
            .insert(scope.to_owned(), description.trim().to_owned());
        Ok(())
    }

    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The words for `scope`: configured, else built in, else none.
    pub fn description(&self, scope: &str) -> Option<&str> {
        self.descriptions
            .get(scope)
            .map(String::as_str)
            .or_else(|| {
                DEFAULT_DESCRIPTIONS
                    .iter()
                    .find(|(name, _)| *name == scope)
                    .map(|(_, text)| *text)
            })
    }

    /// `scope`'s tokens with their words, in the scope's order.
    pub fn described<'a>(&self, scopes: impl Iterator<Item = &'a str>) -> Vec<DescribedScope> {
        scopes
            .map(|name| DescribedScope {
                name: name.to_owned(),
                description: self.description(name).map(str::to_owned),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_name_is_tessera_at_the_issuers_host() {
        assert_eq!(
            Presentation::for_issuer("http://localhost:9001").display_name(),
            "Tessera at localhost:9001"
        );
        assert_eq!(
            Presentation::for_issuer("https://login.example.com/tenant").display_name(),
            "Tessera at login.example.com"
        );
    }

    #[test]
    fn configured_descriptions_win_over_the_built_in_ones() {
        let mut p = Presentation::for_issuer("https://as.example");
        assert_eq!(p.description("email"), Some("See your email address"));
        assert_eq!(p.description("photos:read"), None);
        p.describe("photos:read", "See your photos").unwrap();
        p.describe("email", "Read your work email").unwrap();
        assert_eq!(p.description("photos:read"), Some("See your photos"));
        assert_eq!(p.description("email"), Some("Read your work email"));
    }

    #[test]
    fn bad_names_and_descriptions_are_refused() {
        let mut p = Presentation::for_issuer("https://as.example");
        assert_eq!(
            p.describe("two words", "x"),
            Err(PresentationError::ScopeName("two words".into()))
        );
        assert_eq!(
            p.describe("", "x"),
            Err(PresentationError::ScopeName(String::new()))
        );
        assert_eq!(
            p.describe("a", " "),
            Err(PresentationError::Description("a".into()))
        );
        assert_eq!(
            p.describe("a", &"x".repeat(MAX_TEXT_CHARS + 1)),
            Err(PresentationError::Description("a".into()))
        );
        assert_eq!(
            p.set_display_name("line\nbreak"),
            Err(PresentationError::DisplayName)
        );
    }
}
