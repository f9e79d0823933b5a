//! Watching the client's HTTP exchanges, for an application that wants to
//! show them (the photo printer's `/dance` view draws them as a sequence
//! diagram).
//!
//! An observer is attached to one piece of work with [`observed`], not to
//! the client: one `OAuthClient` serves every browser session, and each
//! session must see only its own exchanges. The observer lives in a tokio
//! task-local, so every request made while that future runs is reported,
//! however deep in oauth2 it is made.
//!
//! Every value that is a credential (codes, verifiers, tokens, secrets, the
//! `Authorization` header) is cut to a short prefix **before** the observer
//! sees it: an observer cannot leak what it never receives.

use std::future::Future;
use std::sync::Arc;

/// One HTTP request the client made and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub method: String,
    /// The URL without its query (a query could hold anything).
    pub url: String,
    /// `Basic <client credentials>` or `Bearer <prefix>…`.
    pub authorization: Option<String>,
    /// The form fields sent, credentials redacted.
    pub request: Vec<(String, String)>,
    /// `None` when no response arrived (transport failure).
    pub status: Option<u16>,
    /// The top-level fields of a JSON response, credentials redacted.
    pub response: Vec<(String, String)>,
    /// The `WWW-Authenticate` challenge of a 401 or 403.
    pub challenge: Option<String>,
}

/// Receives every exchange made inside [`observed`].
pub trait Observer: Send + Sync {
    fn exchange(&self, exchange: Exchange);
}

tokio::task_local! {
    static OBSERVER: Arc<dyn Observer>;
}

/// Runs `work`, reporting each HTTP exchange it makes to `observer`.
pub async fn observed<F: Future>(observer: Arc<dyn Observer>, work: F) -> F::Output {
    OBSERVER.scope(observer, work).await
}

/// Hands `exchange` to the current observer, if any.
pub(crate) fn report(exchange: impl FnOnce() -> Exchange) {
    let _ = OBSERVER.try_with(|o| o.exchange(exchange()));
}

/// Field names whose values are credentials.
const SECRET_FIELDS: &[&str] = &[
    "code",
    "code_verifier",
    "client_secret",
    "refresh_token",
    "access_token",
    "id_token",
    "token",
    "state",
    "nonce",
    "code_challenge",
    "client_assertion",
];

/// Below this length a value is hidden entirely: six characters of a short
/// value would be most of it.
const SHORTEST_SHOWN: usize = 16;

/// Enough of a credential to tell two apart on screen, never enough to use.
pub fn redact(value: &str) -> String {
    if value.chars().count() < SHORTEST_SHOWN {
        return "…".to_owned();
    }
    let prefix: String = value.chars().take(6).collect();
    format!("{prefix}…")
}

/// How the `Authorization` header of a client-authenticated request shows.
pub const BASIC_CREDENTIALS: &str = "Basic (client_id:client_secret)";

/// `value` as shown for a parameter named `name`: redacted when the name
/// is one of a credential (codes, verifiers, tokens, secrets, `state`,
/// `nonce`).
pub fn redact_field(name: &str, value: &str) -> String {
    if SECRET_FIELDS.contains(&name) {
        redact(value)
    } else {
        value.to_owned()
    }
}

/// The header value as shown: Basic credentials never, a bearer token by
/// prefix.
pub(crate) fn redact_authorization(value: &str) -> String {
    match value.split_once(' ') {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("basic") => BASIC_CREDENTIALS.to_owned(),
        Some((scheme, token)) => format!("{scheme} {}", redact(token)),
        None => "(redacted)".to_owned(),
    }
}

/// The URL without query or fragment.
pub(crate) fn bare_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

pub(crate) fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| {
            let shown = redact_field(&k, &v);
            (k.into_owned(), shown)
        })
        .collect()
}

/// The top-level fields of a JSON object; nested values are summarised.
pub(crate) fn json_fields(body: &[u8]) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return Vec::new();
    };
    map.into_iter()
        .map(|(k, v)| {
            let text = match &v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => format!("[{} items]", a.len()),
                serde_json::Value::Object(_) => "{…}".to_owned(),
                other => other.to_string(),
            };
            let shown = redact_field(&k, &text);
            (k, shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_cut_to_a_prefix() {
        assert_eq!(redact("abcdefghijklmnopq"), "abcdef…");
        assert_eq!(redact("abcdefg"), "…", "a short value is hidden entirely");
        let fields = form_fields(
            b"grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r",
        );
        assert_eq!(
            fields,
            [
                ("grant_type".into(), "authorization_code".into()),
                ("code".into(), "SplxlO…".into()),
                ("code_verifier".into(), "dBjftJ…".into()),
            ]
        );
        assert_eq!(
            redact_authorization("Basic cGhvdG8tcHJpbnRlcjpzZWNyZXQ="),
            "Basic (client_id:client_secret)"
        );
        assert_eq!(
            redact_authorization("Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig"),
            "Bearer eyJhbG…"
        );
    }

    #[test]
    fn json_tokens_are_cut_and_other_fields_kept() {
        let fields = json_fields(
            br#"{"access_token":"eyJhbGciOiJFUzI1NiJ9.e30.sig","token_type":"Bearer","expires_in":600,"refresh_token":"rt-0123456789abcdef"}"#,
        );
        assert!(fields.contains(&("access_token".into(), "eyJhbG…".into())));
        assert!(fields.contains(&("refresh_token".into(), "rt-012…".into())));
        assert!(fields.contains(&("expires_in".into(), "600".into())));
        assert!(fields.contains(&("token_type".into(), "Bearer".into())));
    }

    #[test]
    fn the_query_is_dropped_from_urls() {
        assert_eq!(
            bare_url("http://localhost:9002/photos?access_token=x#f"),
            "http://localhost:9002/photos"
        );
    }
}
