//! Form and query parameters as an ordered list of pairs.
//!
//! `serde_urlencoded` silently rejects or merges duplicate keys, but RFC 6749
//! §3.1 and §3.2 say request parameters MUST NOT be repeated and a repeat must
//! be answered with `invalid_request`; some repeats (`client_id`,
//! `redirect_uri`) must even be answered before anything else. So requests are
//! parsed into pairs first and every lookup says whether a key was repeated.

use crate::error::OAuthError;

/// Parameters names whose repetition we name in error descriptions. Any other
/// name comes from the request and is not echoed back.
const KNOWN: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "nonce",
    "max_age",
    "response_mode",
    "request",
    "request_uri",
    "grant_type",
    "code",
    "code_verifier",
    "refresh_token",
    "client_secret",
    "token",
    "token_type_hint",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

/// A parameter that cannot be used: sent more than once, or holding a NUL
/// character (which no OAuth value may contain, RFC 6749 Appendix A, and
/// which PostgreSQL refuses in text: refused here, at the edge, on every
/// backend alike).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter {0} was repeated")]
    Repeated(String),
    #[error("parameter {0} contains a NUL character")]
    Nul(String),
}

impl From<ParamError> for OAuthError {
    fn from(e: ParamError) -> Self {
        let (ParamError::Repeated(name) | ParamError::Nul(name)) = &e;
        let known = KNOWN.contains(&name.as_str());
        match (&e, known) {
            (ParamError::Repeated(_), true) => {
                OAuthError::invalid_request(format!("the {name} parameter was repeated"))
            }
            (ParamError::Repeated(_), false) => {
                OAuthError::invalid_request("a request parameter was repeated")
            }
            (ParamError::Nul(_), true) => OAuthError::invalid_request(format!(
                "the {name} parameter contains a NUL character"
            )),
            (ParamError::Nul(_), false) => {
                OAuthError::invalid_request("a request parameter contains a NUL character")
            }
        }
    }
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes (a query string or a
    /// form body). Never fails: malformed percent-escapes decode leniently, as
    /// browsers do, and every pair is kept.
    pub fn parse(input: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(input).into_owned().collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The single value of `name`. A parameter sent with an empty value counts
    /// as omitted (RFC 6749 §3.1); one sent twice is an error, even when one of
    /// the two is empty.
    pub fn single(&self, name: &str) -> Result<Option<&str>, ParamError> {
        let mut found = None;
        for (k, v) in &self.pairs {
            if k == name {
                if found.is_some() {
                    return Err(ParamError::Repeated(name.to_owned()));
                }
                if v.contains('\0') {
                    return Err(ParamError::Nul(name.to_owned()));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }

    /// Every value of `name`, for fields that may legitimately repeat (the
    /// scope checkboxes of the consent form).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` appears at all, even with an empty value.
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// The first parameter whose name or value holds a NUL, if any.
    pub fn first_nul(&self) -> Option<ParamError> {
        self.pairs
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
            .map(|(k, _)| ParamError::Nul(k.clone()))
    }

    /// The first parameter name that appears more than once, if any.
    pub fn first_repeated(&self) -> Option<ParamError> {
        let mut seen = std::collections::HashSet::new();
        self.pairs
            .iter()
            .find(|(k, _)| !seen.insert(k.as_str()))
            .map(|(k, _)| ParamError::Repeated(k.clone()))
    }

    /// Fails with `invalid_request` if any parameter is repeated or any
    /// name or value holds a NUL character.
    pub fn reject_repeats(&self) -> Result<(), OAuthError> {
        if let Some(nul) = self.first_nul() {
            return Err(nul.into());
        }
        match self.first_repeated() {
            Some(r) => Err(r.into()),
            None => Ok(()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Issue 13: a NUL in any value is refused at parsing, for every
    /// backend, with `invalid_request`.
    #[test]
    fn issue13_a_nul_is_refused_at_the_edge() {
        let p = Params::parse(b"client_id=c%001&scope=a");
        assert_eq!(
            p.single("client_id"),
            Err(ParamError::Nul("client_id".into()))
        );
        assert_eq!(p.single("scope"), Ok(Some("a")));
        let e = p.reject_repeats().err().map(|e| e.code);
        assert_eq!(e, Some(crate::error::ErrorCode::InvalidRequest));
        assert!(Params::parse(b"x%00=1").reject_repeats().is_err());
    }

    #[test]
    fn empty_values_count_as_omitted() {
        let p = Params::parse(b"a=&b=1");
        assert_eq!(p.single("a"), Ok(None));
        assert_eq!(p.single("b"), Ok(Some("1")));
        assert!(p.contains("a"));
    }

    #[test]
    fn repeats_are_reported_even_with_an_empty_twin() {
        let p = Params::parse(b"state=a&state=");
        assert_eq!(p.single("state"), Err(ParamError::Repeated("state".into())));
        assert!(p.reject_repeats().is_err());
    }

    #[test]
    fn unknown_repeated_names_are_not_echoed() {
        let e: OAuthError = ParamError::Repeated("<script>".into()).into();
        assert!(!e.description.contains("script"));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_keeps_every_pair(input in proptest::collection::vec(any::<u8>(), 0..256)) {
            let p = Params::parse(&input);
            let expected = form_urlencoded::parse(&input).count();
            prop_assert_eq!(p.pairs.len(), expected);
        }

        #[test]
        fn single_finds_what_was_encoded(key in "[a-z_]{1,12}", value in ".{1,40}") {
            let encoded = form_urlencoded::Serializer::new(String::new()).append_pair(&key, &value).finish();
            let p = Params::parse(encoded.as_bytes());
            if value.contains('\0') {
                prop_assert_eq!(p.single(&key), Err(ParamError::Nul(key.clone())));
            } else {
                prop_assert_eq!(p.single(&key), Ok(Some(value.as_str())));
            }
        }
    }
}
