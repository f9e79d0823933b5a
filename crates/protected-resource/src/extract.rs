//! Where the token comes from (RFC 6750 §2): the `Authorization: Bearer`
//! header, optionally an `access_token` form field, never the query string.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, header};

use crate::error::GuardError;
use crate::token::BearerToken;

/// What may carry a token besides the header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sources {
    /// Accept an `access_token` field in a form body (RFC 6750 §2.2).
    pub(crate) body: bool,
    /// The largest form body read when looking for it.
    pub(crate) max_body: usize,
}

/// The token of `req`, and the request itself, whose body is put back as
/// it was if it had to be read.
pub(crate) async fn bearer_token(
    req: Request<Body>,
    sources: Sources,
) -> (Request<Body>, Result<BearerToken, GuardError>) {
    let header = match from_header(req.headers()) {
        Ok(h) => h,
        Err(e) => return (req, Err(e)),
    };
    // OAuth 2.1 §5.1: a token in the query is never used. It still counts as
    // a second method next to another one (RFC 6750 §2: clients must not
    // use more than one), but alone it is as good as no token at all.
    let in_query = req
        .uri()
        .query()
        .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token"));
    let (req, body) = if sources.body && may_carry_form_token(&req) {
        match from_body(req, sources.max_body).await {
            (req, Ok(t)) => (req, t),
            (req, Err(e)) => return (req, Err(e)),
        }
    } else {
        (req, None)
    };
    let presented =
        usize::from(header.is_some()) + usize::from(body.is_some()) + usize::from(in_query);
    let token = if presented > 1 {
        Err(GuardError::InvalidRequest(
            "the token is presented in more than one way",
        ))
    } else {
        header.or(body).ok_or(GuardError::MissingToken)
    };
    (req, token)
}

/// The bearer token of the `Authorization` header: `None` without one or
/// for another scheme (that is no bearer credential), an error if malformed.
fn from_header(headers: &HeaderMap) -> Result<Option<BearerToken>, GuardError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(GuardError::InvalidRequest(
            "more than one Authorization header",
        ));
    }
    parse_authorization(value)
}

/// `credentials = "Bearer" 1*SP b64token` (RFC 6750 §2.1), with the scheme
/// matched case-insensitively (RFC 9110 §11.1).
pub(crate) fn parse_authorization(value: &HeaderValue) -> Result<Option<BearerToken>, GuardError> {
    let value = value.to_str().map_err(|_| {
        GuardError::InvalidRequest("the Authorization header is not printable ASCII")
    })?;
    if value.trim().is_empty() {
        return Err(GuardError::InvalidRequest(
            "the Authorization header is empty",
        ));
    }
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(GuardError::InvalidRequest(
            "the Authorization header has no token after Bearer",
        ));
    }
    // `Bearer a b` ends up here, as a token with a space in it.
    BearerToken::parse(token).map(Some)
}

/// RFC 6750 §2.2: only a single-part form body of a method whose body has
/// defined semantics; `GET` in particular must not be used.
fn may_carry_form_token(req: &Request<Body>) -> bool {
    let method_ok = [Method::POST, Method::PUT, Method::PATCH].contains(req.method());
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    method_ok && form
}

/// Reads the form body, finds `access_token`, and puts the body back.
async fn from_body(
    req: Request<Body>,
    max: usize,
) -> (Request<Body>, Result<Option<BearerToken>, GuardError>) {
    let declared_too_large = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > max as u64);
    if declared_too_large {
        return (req, Err(GuardError::BodyTooLarge));
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, max).await {
        Ok(b) => b,
        Err(_) => {
            // Either longer than declared or cut off: the body is gone
            // either way, and the request is refused.
            let req = Request::from_parts(parts, Body::empty());
            return (req, Err(GuardError::BodyTooLarge));
        }
    };
    let mut found = None;
    let mut count = 0usize;
    for (k, v) in form_urlencoded::parse(&bytes) {
        if k == "access_token" {
            count += 1;
            found = Some(v.into_owned());
        }
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let token = match (count, found) {
        (0, _) | (_, None) => Ok(None),
        (1, Some(t)) => BearerToken::parse(&t).map(Some),
        _ => Err(GuardError::InvalidRequest(
            "the body has more than one access_token",
        )),
    };
    (req, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Result<Option<String>, GuardError> {
        parse_authorization(&HeaderValue::from_str(v).unwrap())
            .map(|t| t.map(|t| t.expose().to_owned()))
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR   abc"] {
            assert_eq!(parse(v), Ok(Some("abc".into())), "{v}");
        }
    }

    #[test]
    fn other_schemes_are_no_bearer_credentials() {
        assert_eq!(parse("Basic YTpi"), Ok(None));
        assert_eq!(parse("Bearertoken"), Ok(None));
        assert_eq!(parse("DPoP abc"), Ok(None));
    }

    #[test]
    fn malformed_bearer_headers_are_invalid_requests() {
        for v in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer tok@en",
            "Bearer a,b",
            "Bearer ==",
        ] {
            assert!(
                matches!(parse(v), Err(GuardError::InvalidRequest(_))),
                "{v:?}: {:?}",
                parse(v)
            );
        }
    }
}
