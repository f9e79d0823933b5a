//! Browser sessions of the photo printer, kept in memory.
//!
//! A session holds the authorization request in flight (its `state` and
//! PKCE verifier), the tokens, and the dance log. The browser holds only a
//! random id in an HttpOnly cookie; tokens never reach it. Memory is
//! bounded: idle sessions expire, and when full the oldest session without
//! tokens makes room (a sign-in in flight can start again); a signed-in
//! user's session is never evicted for a newcomer (issue 13: anonymous
//! traffic signed users out), who is told to come back instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use tessera_client::{Clock, PendingAuthorization, Tokens};
use tessera_runtime::SystemRandomness;

use crate::dance::DanceLog;
use crate::error::PrinterError;

/// The cookie's name over http (development on loopback) and over https,
/// where the `__Host-` prefix makes browsers refuse it unless it is Secure,
/// host-only and for `/`, so a sibling host cannot plant one.
const COOKIE: &str = "tessera_printer_session";
const SECURE_COOKIE: &str = "__Host-tessera_printer_session";
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
    /// "Revoke" was pressed: the grant has ended at the AS. The tokens are
    /// kept only so the next call shows the refused refresh; the token
    /// panel says they are revoked.
    pub revoked: bool,
    /// A message for the next page (why the user is asked to authorize again).
    pub notice: Option<String>,
    /// The outcome page a callback redirected to (`GET /result`).
    pub outcome: Option<Outcome>,
}

/// A page to show after a redirect, so the callback's URL (with its code)
/// never stays in the address bar.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: u16,
    pub heading: String,
    pub message: String,
    pub action: Option<String>,
}

/// A session: its lockable state, its dance log and its CSRF token.
#[derive(Debug)]
pub struct SessionHandle {
    pub id: String,
    pub state: tokio::sync::Mutex<BrowserSession>,
    pub dance: Arc<DanceLog>,
    /// Sent with every form that changes something; compared on submit.
    pub csrf: String,
    last_seen: Mutex<SystemTime>,
}

pub struct Sessions {
    map: Mutex<HashMap<String, Arc<SessionHandle>>>,
    /// Sessions kept at most.
    capacity: usize,
    /// https: the cookie is Secure with the `__Host-` prefix.
    secure: bool,
    /// The printer's clock: idle sessions expire by it.
    clock: Clock,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

/// Idle for longer than [`IDLE_TIMEOUT`] at `now`. A clock set back makes
/// no session idle.
fn idle(last_seen: SystemTime, now: SystemTime) -> bool {
    now.duration_since(last_seen)
        .is_ok_and(|idle| idle > IDLE_TIMEOUT)
}

impl Sessions {
    pub fn new(secure: bool, clock: Clock) -> Self {
        Self::with_capacity(secure, clock, MAX_SESSIONS)
    }

    /// As [`Sessions::new`], keeping at most `capacity` sessions.
    pub fn with_capacity(secure: bool, clock: Clock, capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            secure,
            clock,
        }
    }

    fn cookie_name(&self) -> &'static str {
        if self.secure { SECURE_COOKIE } else { COOKIE }
    }

    fn set_cookie(&self, id: &str) -> Option<HeaderValue> {
        // SameSite=Lax: the callback is a top-level navigation from the AS
        // and must carry the cookie (that is how `state` is bound to this
        // browser); cross-site form posts do not carry it.
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={id}; Path=/; HttpOnly; SameSite=Lax{secure}",
            self.cookie_name()
        ))
        .ok()
    }

    /// The request's session, if its cookie names a live one.
    pub fn find(&self, headers: &HeaderMap) -> Option<Arc<SessionHandle>> {
        let id = cookie_value(headers, self.cookie_name())?;
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let handle = map.get(id)?.clone();
        let mut last = handle.last_seen.lock().unwrap_or_else(|p| p.into_inner());
        let now = (self.clock)();
        if idle(*last, now) {
            return None;
        }
        *last = now;
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
        let handle = self.insert(BrowserSession::default(), Arc::new(DanceLog::default()))?;
        let cookie = self.set_cookie(&handle.id);
        Ok((handle, cookie))
    }

    /// After a login: the session's content moves to a new id and CSRF
    /// token, and the old id stops working, so an id planted in the
    /// browser before the login (session fixation) never holds tokens.
    /// `state` is the old session's locked content, taken out.
    pub fn rotate(
        &self,
        old: &SessionHandle,
        state: &mut BrowserSession,
    ) -> Result<(Arc<SessionHandle>, Option<HeaderValue>), PrinterError> {
        // The old id goes first: a rotation replaces an entry, so it never
        // meets the capacity check (which would drop the fresh tokens).
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&old.id);
        let moved = std::mem::take(state);
        let handle = self.insert(moved, old.dance.clone())?;
        let cookie = self.set_cookie(&handle.id);
        Ok((handle, cookie))
    }

    fn insert(
        &self,
        state: BrowserSession,
        dance: Arc<DanceLog>,
    ) -> Result<Arc<SessionHandle>, PrinterError> {
        let handle = Arc::new(SessionHandle {
            id: random_token()?,
            state: tokio::sync::Mutex::new(state),
            dance,
            csrf: random_token()?,
            last_seen: Mutex::new((self.clock)()),
        });
        let now = (self.clock)();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.last_seen.lock().is_ok_and(|t| !idle(*t, now)));
        if map.len() >= self.capacity {
            // Only a session without tokens may go (a sign-in in flight
            // may: it can start again); one in use right now (its state
            // locked) stays.
            let oldest = map
                .iter()
                .filter(|(_, s)| s.state.try_lock().is_ok_and(|b| b.tokens.is_none()))
                .min_by_key(|(_, s)| *s.last_seen.lock().unwrap_or_else(|p| p.into_inner()))
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    map.remove(&k);
                }
                None => return Err(PrinterError::Busy),
            }
        }
        map.insert(handle.id.clone(), handle.clone());
        Ok(handle)
    }
}

/// 256 random bits, URL-safe.
pub fn random_token() -> Result<String, PrinterError> {
    let mut bytes = [0u8; 32];
    SystemRandomness
        .fill(&mut bytes)
        .map_err(|_| PrinterError::Randomness)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The session cookie, if the request has exactly one.
fn cookie_value<'h>(headers: &'h HeaderMap, cookie: &str) -> Option<&'h str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=')
                && name == cookie
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13 (low, demo printer): a flood of cookieless visitors evicts
    /// only anonymous sessions; a signed-in user's session survives, and
    /// when only signed-in sessions are left a newcomer gets `Busy`.
    #[tokio::test]
    async fn issue13_anonymous_traffic_never_evicts_a_signed_in_session() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let sessions = Sessions::with_capacity(false, Arc::new(move || t0), 3);
        let none = HeaderMap::new();
        let (alice, _) = sessions
            .find_or_create(&none)
            .unwrap_or_else(|e| panic!("{e}"));
        alice.state.lock().await.tokens = Some(Tokens {
            access_token: tessera_client::Secret::new("at"),
            refresh_token: None,
            expires_at: None,
            scopes: vec!["photos:read".into()],
            token_type: "bearer".into(),
            identity: None,
        });
        for _ in 0..1000 {
            sessions
                .find_or_create(&none)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let mut cookie = HeaderMap::new();
        let value = format!("{COOKIE}={}", alice.id);
        cookie.insert(
            header::COOKIE,
            HeaderValue::from_str(&value).unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(sessions.find(&cookie).is_some(), "alice is still signed in");

        // Only signed-in sessions left: a newcomer is turned away.
        let full = Sessions::with_capacity(false, Arc::new(move || t0), 1);
        let (bob, _) = full.find_or_create(&none).unwrap_or_else(|e| panic!("{e}"));
        bob.state.lock().await.tokens = alice.state.lock().await.tokens.clone();
        assert!(matches!(
            full.find_or_create(&none),
            Err(PrinterError::Busy)
        ));
    }

    /// The session id changes at sign-in even when the store is full of
    /// signed-in users: a rotation replaces its entry, so the fresh tokens
    /// are never dropped for want of room.
    #[tokio::test]
    async fn a_full_store_still_rotates_a_session_at_sign_in() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let sessions = Sessions::with_capacity(false, Arc::new(move || t0), 2);
        let none = HeaderMap::new();
        let (signed_in, _) = sessions
            .find_or_create(&none)
            .unwrap_or_else(|e| panic!("{e}"));
        let (carol, _) = sessions
            .find_or_create(&none)
            .unwrap_or_else(|e| panic!("{e}"));
        let tokens = Tokens {
            access_token: tessera_client::Secret::new("at"),
            refresh_token: None,
            expires_at: None,
            scopes: vec![],
            token_type: "bearer".into(),
            identity: None,
        };
        signed_in.state.lock().await.tokens = Some(tokens.clone());
        let mut state = carol.state.lock().await;
        state.tokens = Some(tokens);
        let rotated = sessions.rotate(&carol, &mut state);
        assert!(rotated.is_ok(), "{:?}", rotated.err());
    }

    #[test]
    fn sessions_go_idle_by_the_injected_clock() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(!idle(t0, t0 + IDLE_TIMEOUT));
        assert!(idle(t0, t0 + IDLE_TIMEOUT + Duration::from_secs(1)));
        assert!(
            !idle(t0, t0 - Duration::from_secs(60)),
            "a clock set back makes no session idle"
        );
    }
}
