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
    pairs: Vec<Pair>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    name: String,
    value: String,
    /// The name or value did not decode to UTF-8: what `name` and `value`
    /// hold is the lossy reading (U+FFFD for each bad sequence), which must
    /// not be used as if it had been sent.
    invalid_utf8: bool,
}

/// A parameter that cannot be used: sent more than once, holding a NUL
/// character (which no OAuth value may contain, RFC 6749 Appendix A, and
/// which PostgreSQL refuses in text: refused here, at the edge, on every
/// backend alike), or whose percent-decoded bytes are not UTF-8 (its value
/// could only be used rewritten, e.g. a `state` echoed with U+FFFD in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter {0} was repeated")]
    Repeated(String),
    #[error("parameter {0} contains a NUL character")]
    Nul(String),
    #[error("parameter {0} is not valid UTF-8")]
    InvalidUtf8(String),
}

impl From<ParamError> for OAuthError {
    fn from(e: ParamError) -> Self {
        let (ParamError::Repeated(name) | ParamError::Nul(name) | ParamError::InvalidUtf8(name)) =
            &e;
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
            (ParamError::InvalidUtf8(_), true) => {
                OAuthError::invalid_request(format!("the {name} parameter is not valid UTF-8"))
            }
            (ParamError::InvalidUtf8(_), false) => {
                OAuthError::invalid_request("a request parameter is not valid UTF-8")
            }
        }
    }
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes (a query string or a
    /// form body) exactly as `form_urlencoded::parse` does (a proptest holds
    /// the two together): pairs split on `&`, empty ones skipped, the name
    /// ending at the first `=`, `+` a space, malformed percent-escapes kept
    /// literally, as browsers do. Never fails and keeps every pair; a name or
    /// value whose decoded bytes are not UTF-8 is remembered, and refused by
    /// every lookup of it ([`ParamError::InvalidUtf8`]).
    pub fn parse(input: &[u8]) -> Self {
        let pairs = input
            .split(|&b| b == b'&')
            .filter(|segment| !segment.is_empty())
            .map(|segment| {
                let (name, value) = match segment.iter().position(|&b| b == b'=') {
                    Some(i) => (&segment[..i], &segment[i + 1..]),
                    None => (segment, &[][..]),
                };
                let (name, bad_name) = decode(name);
                let (value, bad_value) = decode(value);
                Pair {
                    name,
                    value,
                    invalid_utf8: bad_name || bad_value,
                }
            })
            .collect();
        Self { pairs }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| Pair {
                    name: k.into(),
                    value: v.into(),
                    invalid_utf8: false,
                })
                .collect(),
        }
    }

    /// The single value of `name`. A parameter sent with an empty value counts
    /// as omitted (RFC 6749 §3.1); one sent twice is an error, even when one of
    /// the two is empty; so is one holding a NUL or bytes that are not UTF-8.
    pub fn single(&self, name: &str) -> Result<Option<&str>, ParamError> {
        let mut found = None;
        for pair in &self.pairs {
            if pair.name == name {
                if found.is_some() {
                    return Err(ParamError::Repeated(name.to_owned()));
                }
                found = Some(pair);
            }
        }
        match found {
            Some(p) if p.value.contains('\0') => Err(ParamError::Nul(name.to_owned())),
            Some(p) if p.invalid_utf8 => Err(ParamError::InvalidUtf8(name.to_owned())),
            Some(p) => Ok(Some(p.value.as_str()).filter(|v| !v.is_empty())),
            None => Ok(None),
        }
    }

    /// Every value of `name`, for fields that may legitimately repeat (the
    /// scope checkboxes of the consent form). A value that was not UTF-8
    /// comes as its lossy reading (with U+FFFD, which no scope holds).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |p| p.name == name)
            .map(|p| p.value.as_str())
    }

    /// Whether `name` appears at all, even with an empty value.
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|p| p.name == name)
    }

    /// The first parameter whose name or value holds a NUL or is not UTF-8,
    /// if any.
    pub fn first_malformed(&self) -> Option<ParamError> {
        self.pairs.iter().find_map(|p| {
            if p.name.contains('\0') || p.value.contains('\0') {
                Some(ParamError::Nul(p.name.clone()))
            } else if p.invalid_utf8 {
                Some(ParamError::InvalidUtf8(p.name.clone()))
            } else {
                None
            }
        })
    }

    /// The first parameter name that appears more than once, if any.
    pub fn first_repeated(&self) -> Option<ParamError> {
        let mut seen = std::collections::HashSet::new();
        self.pairs
            .iter()
            .find(|p| !seen.insert(p.name.as_str()))
            .map(|p| ParamError::Repeated(p.name.clone()))
    }

    /// Fails with `invalid_request` if any parameter is repeated, or any
    /// name or value holds a NUL character or is not UTF-8.
    pub fn reject_malformed(&self) -> Result<(), OAuthError> {
        if let Some(bad) = self.first_malformed() {
            return Err(bad.into());
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

/// Percent-decodes one name or value (`+` is a space; a `%` not followed
/// by two hex digits stays as it is), then reads the bytes as UTF-8: the
/// string, and whether it had to be read lossily. Also how the parts of
/// HTTP Basic client credentials are decoded (RFC 6749 §2.3.1).
pub(crate) fn decode(raw: &[u8]) -> (String, bool) {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'+' => bytes.push(b' '),
            b'%' => match (tail.first().and_then(hex), tail.get(1).and_then(hex)) {
                (Some(high), Some(low)) => {
                    bytes.push(high << 4 | low);
                    rest = &tail[2..];
                }
                _ => bytes.push(b'%'),
            },
            b => bytes.push(b),
        }
    }
    match String::from_utf8(bytes) {
        Ok(s) => (s, false),
        Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), true),
    }
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
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
        let e = p.reject_malformed().err().map(|e| e.code);
        assert_eq!(e, Some(crate::error::ErrorCode::InvalidRequest));
        assert!(Params::parse(b"x%00=1").reject_malformed().is_err());
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
        assert!(p.reject_malformed().is_err());
    }

    #[test]
    fn unknown_repeated_names_are_not_echoed() {
        let e: OAuthError = ParamError::Repeated("<script>".into()).into();
        assert!(!e.description.contains("script"));
    }

    /// Issue 13 item 5: percent-decoded bytes that are not UTF-8 are
    /// refused wherever the parameter is read, never used rewritten.
    #[test]
    fn issue13_invalid_utf8_is_refused_not_rewritten() {
        let p = Params::parse(b"state=a%FFb&scope=x&%C3=1");
        assert_eq!(
            p.single("state"),
            Err(ParamError::InvalidUtf8("state".into()))
        );
        assert_eq!(p.single("scope"), Ok(Some("x")));
        assert_eq!(
            p.first_malformed(),
            Some(ParamError::InvalidUtf8("state".into()))
        );
        let e: OAuthError = ParamError::InvalidUtf8("state".into()).into();
        assert_eq!(e.description, "the state parameter is not valid UTF-8");
        // A U+FFFD that was sent as such is a character like any other.
        let p = Params::parse(b"state=%EF%BF%BD");
        assert_eq!(p.single("state"), Ok(Some("\u{FFFD}")));
        assert_eq!(p.first_malformed(), None);
        // Malformed percent-escapes are kept as they were sent.
        let p = Params::parse(b"state=%zz%4&x=%");
        assert_eq!(p.single("state"), Ok(Some("%zz%4")));
        assert_eq!(p.single("x"), Ok(Some("%")));
    }

    /// Bytes biased towards what makes form decoding interesting.
    fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
        let interesting = prop::sample::select(vec![
            b'%', b'=', b'&', b'+', b'0', b'a', b'F', b'f', b'g', b'C', b'3', 0xFF, 0xC3, 0xA9,
            0x00, b' ',
        ]);
        proptest::collection::vec(prop_oneof![any::<u8>(), interesting], 0..64)
    }

    proptest! {
        #[test]
        fn parse_agrees_with_form_urlencoded(input in form_bytes()) {
            let p = Params::parse(&input);
            let theirs: Vec<(String, String)> = form_urlencoded::parse(&input).into_owned().collect();
            let ours: Vec<(String, String)> = p.pairs.iter().map(|q| (q.name.clone(), q.value.clone())).collect();
            prop_assert_eq!(ours, theirs);
            for q in &p.pairs {
                // Only a lossy reading has U+FFFD where none was sent; a
                // clean one re-encodes to itself.
                if q.invalid_utf8 {
                    let replaced = q.name.contains('\u{FFFD}') || q.value.contains('\u{FFFD}');
                    prop_assert!(replaced, "a lossy reading without a replacement character");
                } else {
                    let again = form_urlencoded::Serializer::new(String::new()).append_pair(&q.name, &q.value).finish();
                    let reparsed = Params::parse(again.as_bytes());
                    prop_assert_eq!(reparsed.pairs.len(), 1);
                    prop_assert_eq!(&reparsed.pairs[0], q);
                }
            }
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

        /// RFC 6749 §3.1: a repeat is reported by every lookup of the name
        /// and by `reject_malformed`, whatever the values and the other
        /// parameters.
        #[test]
        fn repeats_are_always_reported(
            key in "[a-z_]{1,8}",
            values in proptest::collection::vec("[ -~]{0,8}", 1..4),
            other in "[a-z]{1,4}=[a-z]{0,4}",
        ) {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for v in &values {
                form.append_pair(&key, v);
            }
            let input = format!("{other}&{}", form.finish());
            let p = Params::parse(input.as_bytes());
            let other_name = other.split('=').next().unwrap_or_default();
            let repeated = values.len() > 1 || other_name == key;
            prop_assert_eq!(p.single(&key).is_err(), repeated);
            prop_assert_eq!(p.reject_malformed().is_err(), repeated);
            prop_assert_eq!(p.all(&key).count(), values.len() + usize::from(other_name == key));
        }

        /// A value whose bytes are not UTF-8 is never handed out.
        #[test]
        fn invalid_utf8_values_are_never_handed_out(key in "[a-z]{1,8}", before in "[a-z]{0,4}", bad in 0x80u8..=0xFF) {
            let input = format!("{key}={before}%{bad:02X}");
            let p = Params::parse(input.as_bytes());
            prop_assert_eq!(p.single(&key), Err(ParamError::InvalidUtf8(key.clone())));
            prop_assert!(p.reject_malformed().is_err());
        }
    }
}
