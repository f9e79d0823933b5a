//! The HTTP answer to a refused request (RFC 6750 §3): the status, the
//! `WWW-Authenticate: Bearer` challenge and a small JSON body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::GuardError;

/// How long a client should wait before retrying after a `503`.
const RETRY_AFTER_SECS: &str = "5";

/// Builds the answer for `error` under `realm`.
///
/// Every attribute appears at most once, in a fixed order, as a quoted
/// string; values are forced into the RFC 6750 character set, so nothing
/// (a quote, a backslash, a control character) can break out of the header.
pub fn response(error: &GuardError, realm: &str) -> Response {
    let status = error.status();
    let mut r = match error {
        GuardError::MissingToken => status.into_response(),
        _ => {
            let mut body = json!({
                "error": error.code().map_or_else(|| fallback_code(status), |c| c.as_str()),
                "error_description": error.description(),
            });
            if let GuardError::InsufficientScope { scope } = error {
                body["scope"] = quotable(scope).into();
            }
            (status, axum::Json(body)).into_response()
        }
    };
    let headers = r.headers_mut();
    if let Some(value) = challenge(error, realm) {
        headers.insert(header::WWW_AUTHENTICATE, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    r
}

/// The error member of the JSON body for answers without an RFC 6750 code.
fn fallback_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
        StatusCode::PAYLOAD_TOO_LARGE => "invalid_request",
        _ => "server_error",
    }
}

/// The `WWW-Authenticate` value, for the answers RFC 6750 §3 asks one of:
/// no credentials, and credentials that do not allow access.
pub fn challenge(error: &GuardError, realm: &str) -> Option<HeaderValue> {
    let mut v = format!("Bearer realm=\"{}\"", quotable(realm));
    match error {
        GuardError::MissingToken => {}
        GuardError::InvalidRequest(_)
        | GuardError::InvalidToken(_)
        | GuardError::InsufficientScope { .. } => {
            let code = error.code()?;
            v.push_str(&format!(
                ", error=\"{}\", error_description=\"{}\"",
                code.as_str(),
                quotable(error.description())
            ));
            if let GuardError::InsufficientScope { scope } = error {
                v.push_str(&format!(", scope=\"{}\"", quotable(scope)));
            }
        }
        GuardError::BodyTooLarge | GuardError::Unavailable(_) | GuardError::Misconfigured(_) => {
            return None;
        }
    }
    HeaderValue::from_str(&v).ok()
}

/// Whether `s` fits the character set RFC 6750 §3 allows in attribute
/// values: `%x20-21 / %x23-5B / %x5D-7E` (printable ASCII without `"` and
/// `\`).
pub fn is_quotable(s: &str) -> bool {
    s.bytes().all(allowed)
}

fn allowed(b: u8) -> bool {
    matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// `s` with every character outside the allowed set dropped. Our values are
/// checked when configured; this is the belt to those braces.
fn quotable(s: &str) -> String {
    s.chars()
        .filter(|&c| u8::try_from(c).is_ok_and(allowed))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(error: &GuardError) -> String {
        challenge(error, "api")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn no_token_gets_a_bare_challenge() {
        assert_eq!(header(&GuardError::MissingToken), r#"Bearer realm="api""#);
    }

    #[test]
    fn refusals_carry_the_code_and_description() {
        assert_eq!(
            header(&GuardError::InvalidToken("the token has expired")),
            r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#
        );
        assert_eq!(
            header(&GuardError::InsufficientScope {
                scope: "photos:write".into()
            }),
            r#"Bearer realm="api", error="insufficient_scope", error_description="the token lacks a scope this request requires", scope="photos:write""#
        );
    }

    #[test]
    fn values_cannot_break_out_of_their_quotes() {
        let v = header(&GuardError::InsufficientScope {
            scope: "a\" error=\"x\\\r\n".into(),
        });
        // Four attributes, eight quotes: nothing was opened or closed early.
        assert_eq!(v.matches('"').count(), 8, "{v}");
        assert!(v.ends_with(r#"scope="a error=x""#), "{v}");
    }

    #[test]
    fn outages_have_no_challenge_and_a_retry_after() {
        let r = response(&GuardError::Unavailable("down".into()), "api");
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
    }
}
