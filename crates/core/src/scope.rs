//! Scopes (RFC 6749 §3.3): a set of case-sensitive tokens whose order does not
//! matter.

use std::collections::BTreeSet;
use std::fmt;

/// A set of scope tokens. Kept sorted so two requests that list the same
/// tokens in another order produce the same grant (RFC 6749 §3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(BTreeSet<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope contains a character outside the RFC 6749 scope-token set")]
pub struct InvalidScopeSyntax;

impl Scope {
    /// Parses a space-delimited scope string. Runs of spaces are tolerated;
    /// any character outside `%x21 / %x23-5B / %x5D-7E` is an error.
    pub fn parse(s: &str) -> Result<Self, InvalidScopeSyntax> {
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            if !token.chars().all(is_scope_char) {
                return Err(InvalidScopeSyntax);
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    pub fn from_tokens<I: IntoIterator<Item = S>, S: Into<String>>(
        tokens: I,
    ) -> Result<Self, InvalidScopeSyntax> {
        let mut set = BTreeSet::new();
        for t in tokens {
            let t = t.into();
            if t.is_empty() || !t.chars().all(is_scope_char) {
                return Err(InvalidScopeSyntax);
            }
            set.insert(t);
        }
        Ok(Self(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn union(&self, other: &Scope) -> Scope {
        Scope(self.0.union(&other.0).cloned().collect())
    }

    /// Tokens of `self` that are not in `other`.
    pub fn difference(&self, other: &Scope) -> Scope {
        Scope(self.0.difference(&other.0).cloned().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

fn is_scope_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for t in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(t)?;
            first = false;
        }
        Ok(())
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Scope::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn order_does_not_matter() {
        assert_eq!(Scope::parse("b a").ok(), Scope::parse("a b").ok());
        assert_eq!(
            Scope::parse("b  a").map(|s| s.to_string()),
            Ok("a b".into())
        );
    }

    #[test]
    fn quotes_and_backslashes_are_not_scope_characters() {
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("é").is_err());
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(tokens in proptest::collection::btree_set("[!#-\\[\\]-~]{1,10}", 0..6)) {
            let scope = Scope::from_tokens(tokens.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let again = Scope::parse(&scope.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(again, scope);
        }

        /// Any string parses or is refused, never panics; what parses
        /// prints in the RFC's form (sorted, single spaces) and parses back
        /// to itself, and holds only scope-token characters.
        #[test]
        fn parse_never_panics_and_printing_is_canonical(input in "\\PC{0,40}|[ !#-\\[\\]-~]{0,40}") {
            if let Ok(scope) = Scope::parse(&input) {
                let printed = scope.to_string();
                prop_assert!(!printed.starts_with(' ') && !printed.ends_with(' ') && !printed.contains("  "));
                prop_assert!(printed.chars().all(|c| c == ' ' || is_scope_char(c)));
                prop_assert_eq!(Scope::parse(&printed), Ok(scope.clone()));
                let tokens: Vec<&str> = input.split(' ').filter(|t| !t.is_empty()).collect();
                prop_assert!(tokens.iter().all(|t| scope.contains(t)));
            } else {
                prop_assert!(input.chars().any(|c| c != ' ' && !is_scope_char(c)));
            }
        }
    }
}
