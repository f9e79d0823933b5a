//! Browser sessions at the authorization server.
//!
//! The cookie holds 256 random bits; the store keeps only their hash. The
//! cookie is HttpOnly and SameSite=Lax, and with an https issuer also Secure
//! and `__Host-` prefixed (so no subdomain can set it). A new id is issued on
//! login (session fixation). Each session has its own CSRF token for forms.

use axum::http::{HeaderMap, HeaderValue, header};
use subtle::ConstantTimeEq as _;
use tessera_core::UnixTime;
use tessera_core::secrets::{self, RandomnessUnavailable, SecretString, TokenHash};
use tessera_store::{Session, StoreError};

use crate::state::AppState;

pub fn cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies() {
        "__Host-tessera_session"
    } else {
        "tessera_session"
    }
}

/// The session cookie's value, if the request carries exactly one.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                if found.is_some() {
                    // Two session cookies: trust neither (cookie tossing).
                    return None;
                }
                found = Some(v);
            }
        }
    }
    found
}

/// The session cookie of this request, if it carries exactly one.
pub fn cookie<'h>(state: &AppState, headers: &'h HeaderMap) -> Option<&'h str> {
    cookie_value(headers, cookie_name(state))
}

/// The live session named by the cookie value `raw`, at `now`.
pub async fn find(
    state: &AppState,
    raw: Option<&str>,
    now: UnixTime,
) -> Result<Option<Session>, StoreError> {
    match raw {
        Some(raw) => state.store.session(&TokenHash::of(raw), now).await,
        None => Ok(None),
    }
}

/// The live session of this request, if any.
pub async fn load(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, StoreError> {
    find(state, cookie(state, headers), state.now()).await
}

/// A new session (not yet stored) and the cookie value that names it.
pub fn new_session(
    state: &AppState,
    user: Option<(&str, UnixTime)>,
    now: UnixTime,
) -> Result<(SecretString, Session), RandomnessUnavailable> {
    let raw = secrets::new_opaque_token(state.rng.as_ref())?;
    let csrf = secrets::new_opaque_token(state.rng.as_ref())?;
    let session = Session {
        id_hash: TokenHash::of(raw.expose()),
        csrf_token: csrf.expose().to_owned(),
        user_id: user.map(|(u, _)| u.to_owned()),
        auth_time: user.map(|(_, t)| t),
        created_at: now,
        // A session nobody has signed in to exists only to hold an
        // authorization request: it lasts as long as one (signing in
        // replaces it with a session of `session_ttl`).
        expires_at: now
            + if user.is_some() {
                state.config.session_ttl
            } else {
                state.config.authorization_request_ttl
            },
    };
    Ok((raw, session))
}

/// The `Set-Cookie` header for a session id.
pub fn set_cookie(state: &AppState, raw: &SecretString) -> Option<HeaderValue> {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        cookie_name(state),
        raw.expose(),
        state.config.session_ttl,
        secure
    ))
    .ok()
}

/// Constant-time check of a submitted CSRF token.
pub fn csrf_matches(session: &Session, submitted: Option<&str>) -> bool {
    submitted.is_some_and(|s| bool::from(s.as_bytes().ct_eq(session.csrf_token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_session_cookies_are_trusted_as_none() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera_session=x"),
        );
        assert_eq!(cookie_value(&h, "tessera_session"), Some("x"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("tessera_session=y"),
        );
        assert_eq!(cookie_value(&h, "tessera_session"), None);
    }
}
