//! Browser sessions of the photo printer, kept in memory.
//!
//! A session holds the authorization request in flight (its `state` and
//! PKCE verifier), the tokens, and the dance log. The browser holds only a
//! random id in an HttpOnly cookie; tokens never reach it. Memory is
//! bounded: idle sessions expire and the oldest is evicted when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use tessera_client::{PendingAuthorization, Tokens};

use crate::dance::DanceLog;
use crate::error::PrinterError;

pub const COOKIE: &str = "tessera_printer_session";
const IDLE_TIMEOUT: Duration = Duration::from_secs(8 * 3600);
const MAX_SESSIONS: usize = 10_000;

/// What one browser's session knows. Locked for the whole of a request that
/// uses its tokens, so two tabs cannot refresh the same refresh token at
/// once (the second would look like a replay and end the grant).
#[derive(Debug, Default)]
pub struct BrowserSession {
    /// The authorization request in flight; taken out (single use) by the
    /// callback before anything else happens.
    pub pending: Option<PendingAuthorization>,
    pub tokens: Option<Tokens>,
    /// "Forget the access token" was pressed: the next call refreshes first.
    pub access_token_forgotten: bool,
    /// A message for the next page (why the user is asked to authorize again).
    pub notice: Option<String>,
}

/// A session: its lockable state, its dance log and its CSRF token.
#[derive(Debug)]
pub struct SessionHandle {
    pub id: String,
    pub state: tokio::sync::Mutex<BrowserSession>,
    pub dance: Arc<DanceLog>,
    /// Sent with every form that changes something; compared on submit.
    pub csrf: String,
    last_seen: Mutex<Instant>,
}

#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<SessionHandle>>>,
}

impl Sessions {
    /// The request's session, if its cookie names a live one.
    pub fn find(&self, headers: &HeaderMap) -> Option<Arc<SessionHandle>> {
        let id = cookie_value(headers)?;
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let handle = map.get(id)?.clone();
        let mut last = handle.last_seen.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() > IDLE_TIMEOUT {
            return None;
        }
        *last = Instant::now();
        drop(last);
        Some(handle)
    }

    /// The request's session, or a new one with the cookie to set.
    pub fn find_or_create(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Arc<SessionHandle>, Option<HeaderValue>), PrinterError> {
        if let Some(s) = self.find(headers) {
            return Ok((s, None));
        }
        let handle = Arc::new(SessionHandle {
            id: random_token()?,
            state: tokio::sync::Mutex::new(BrowserSession::default()),
            dance: Arc::new(DanceLog::default()),
            csrf: random_token()?,
            last_seen: Mutex::new(Instant::now()),
        });
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| {
            s.last_seen
                .lock()
                .map(|t| t.elapsed() <= IDLE_TIMEOUT)
                .unwrap_or(false)
        });
        if map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| *s.last_seen.lock().unwrap_or_else(|p| p.into_inner()))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(handle.id.clone(), handle.clone());
        drop(map);
        // SameSite=Lax: the callback is a top-level navigation from the AS
        // and must carry the cookie (that is how `state` is bound to this
        // browser); cross-site form posts do not carry it.
        let cookie = HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax",
            handle.id
        ))
        .ok();
        Ok((handle, cookie))
    }
}

/// 256 random bits, URL-safe.
pub fn random_token() -> Result<String, PrinterError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| PrinterError::Randomness)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The session cookie, if the request has exactly one.
fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=')
                && name == COOKIE
            {
                if found.is_some() {
                    // Two session cookies: trust neither (cookie tossing).
                    return None;
                }
                found = Some(value);
            }
        }
    }
    found
}
