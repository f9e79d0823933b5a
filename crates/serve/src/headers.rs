//! Security headers on every response of a server (issue 13 item 7): not
//! only on the pages that set their own, but on JSON answers, redirects,
//! errors, 404s and 405s, whoever built them (a handler, a fallback, an
//! extractor's rejection).
//!
//! - Always: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and
//!   `Referrer-Policy: no-referrer` (RFC 9700 §4.16 clickjacking, §4.2.4
//!   referrer leaks of codes and state).
//! - When the response has none of its own: `Content-Security-Policy:
//!   default-src 'none'; frame-ancestors 'none'` (a JSON or text answer
//!   loads nothing and is framed by nobody; pages keep the policy they
//!   set) and `Cache-Control: no-store` (answers that may be cached, such as
//!   a key set or a stylesheet, say so themselves; everything else may carry
//!   a token, a code or a user's data: RFC 6749 §5.1).
//! - `Strict-Transport-Security: max-age=N` when the server is reached over
//!   https ([`SecurityHeaders::hsts_max_age_secs`]); never on plain http,
//!   where browsers ignore it anyway and a development setup must not be
//!   pinned to https.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;

/// The CSP of a response that sets none: nothing loads, nobody frames it.
pub const DEFAULT_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Default HSTS lifetime: one year, what browsers' preload lists ask for.
pub const DEFAULT_HSTS_MAX_AGE_SECS: u64 = 31_536_000;

/// Which security headers a server adds to every response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecurityHeaders {
    /// `Strict-Transport-Security: max-age=<this>`; `None` sends none (plain
    /// http, or turned off).
    pub hsts_max_age_secs: Option<u64>,
}

impl SecurityHeaders {
    /// HSTS for a server reached over https (served here or by a proxy in
    /// front), unless `max_age_secs` is 0; none for plain http.
    pub fn for_https(https: bool, max_age_secs: u64) -> Self {
        Self {
            hsts_max_age_secs: (https && max_age_secs > 0).then_some(max_age_secs),
        }
    }

    /// `router` with the headers added to every response it gives (as the
    /// outermost layer, so fallbacks and rejections get them too).
    pub fn apply(self, router: Router) -> Router {
        let hsts = self
            .hsts_max_age_secs
            .and_then(|secs| HeaderValue::from_str(&format!("max-age={secs}")).ok());
        router.layer(axum::middleware::map_response(move |response: Response| {
            let hsts = hsts.clone();
            async move { add(response, hsts) }
        }))
    }
}

fn add(mut response: Response, hsts: Option<HeaderValue>) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CONTENT_SECURITY_POLICY),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(hsts) = hsts {
        h.insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    response
}
