//! The front channel of a native app (RFC 8252): a loopback listener for the
//! one callback, and the system browser.
//!
//! A native app cannot keep a client secret (§8.5) and has no web server of
//! its own, so it listens on a loopback IP literal for the duration of one
//! sign-in (§7.3): `127.0.0.1` (or `[::1]` where only IPv6 is available),
//! never `localhost` (§8.3: a name may resolve elsewhere, and a firewall may
//! treat it differently), on a port the operating system picks. The
//! authorization server accepts any port for a registered loopback IP
//! redirect URI. The listener answers `GET /callback` only, only for the
//! `state` of this sign-in, and closes after the first such callback: a
//! second or a foreign one finds the port closed or is refused.
//!
//! ```no_run
//! # async fn sign_in() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use tessera_client::OAuthClient;
//! use tessera_client::native::{LoopbackListener, open_browser};
//!
//! let listener = LoopbackListener::bind().await?;
//! // A public client: no secret. The redirect URI carries this port.
//! let client = OAuthClient::discover(
//!     "https://login.example.com", "photo-cli", None, &listener.redirect_uri(),
//! ).await?;
//! let (url, pending) = client.begin(&["photos:read"]);
//! println!("Sign in at {url}");
//! let _ = open_browser(url.as_str());
//! let query = listener.wait(&pending, Duration::from_secs(300)).await?;
//! let tokens = client.complete(pending, &query).await?;
//! # let _ = tokens; Ok(()) }
//! ```

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::callback::PendingAuthorization;

/// Why no callback arrived.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error("could not listen on a loopback address: {0}")]
    Bind(std::io::Error),
    #[error("no sign-in callback arrived within {} seconds", .0.as_secs())]
    TimedOut(Duration),
    #[error("the loopback listener stopped: {0}")]
    Listener(std::io::Error),
    #[error("could not open a browser: {0}")]
    Browser(String),
}

/// A listener on a loopback IP literal and an ephemeral port, for one
/// sign-in's callback.
pub struct LoopbackListener {
    listener: TcpListener,
    address: SocketAddr,
}

impl LoopbackListener {
    /// Binds `127.0.0.1` on a port the system picks, or `[::1]` when IPv4
    /// loopback is not available.
    pub async fn bind() -> Result<Self, NativeError> {
        let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await {
            Ok(l) => l,
            Err(_) => TcpListener::bind((Ipv6Addr::LOCALHOST, 0))
                .await
                .map_err(NativeError::Bind)?,
        };
        let address = listener.local_addr().map_err(NativeError::Bind)?;
        Ok(Self { listener, address })
    }

    /// `http://127.0.0.1:PORT/callback` (or `http://[::1]:PORT/callback`):
    /// the redirect URI of this sign-in.
    pub fn redirect_uri(&self) -> String {
        format!("http://{}/callback", self.address)
    }

    /// Serves until the callback of `pending` (its `state`) arrives or
    /// `timeout` passes, then closes the port. Returns the callback's query
    /// string, for [`crate::OAuthClient::complete`], which checks `iss`,
    /// errors and the code. The browser tab is told to go back to the
    /// terminal (or what went wrong).
    pub async fn wait(
        self,
        pending: &PendingAuthorization,
        timeout: Duration,
    ) -> Result<String, NativeError> {
        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(Waiting {
            state: pending.state.expose().to_owned(),
            deliver: Mutex::new(Some(tx)),
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = Router::new()
            .route("/callback", get(callback))
            .fallback(|| async { (StatusCode::NOT_FOUND, Html(page("Not found", NOT_FOUND))) })
            .with_state(shared);
        let server = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            let _ = stop_rx.await;
        });
        let server = tokio::spawn(async move { server.await });
        let outcome = tokio::time::timeout(timeout, rx).await;
        // Stop accepting at once; the answer to the callback is already
        // on its way (graceful shutdown lets it finish).
        let _ = stop_tx.send(());
        let stopped = server.await;
        match outcome {
            Ok(Ok(query)) => Ok(query),
            Ok(Err(_)) | Err(_) => match stopped {
                Ok(Err(e)) => Err(NativeError::Listener(e)),
                _ => Err(NativeError::TimedOut(timeout)),
            },
        }
    }
}

/// What the callback handler shares with [`LoopbackListener::wait`].
struct Waiting {
    state: String,
    deliver: Mutex<Option<oneshot::Sender<String>>>,
}

async fn callback(State(waiting): State<Arc<Waiting>>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let state = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !bool::from(state.as_bytes().ct_eq(waiting.state.as_bytes())) {
        // Not this sign-in's callback (or a forged one): refused, and the
        // listener keeps waiting for the real one.
        return (
            StatusCode::BAD_REQUEST,
            Html(page("Not this sign-in", FOREIGN)),
        )
            .into_response();
    }
    let sender = waiting
        .deliver
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    let Some(sender) = sender else {
        return (StatusCode::GONE, Html(page("Already used", USED))).into_response();
    };
    let error = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "error")
        .map(|(_, v)| v.into_owned());
    let _ = sender.send(query);
    match error {
        None => Html(page("Back to the terminal", DONE)).into_response(),
        Some(code) => {
            let text = format!(
                "<p>The authorization server answered <code>{}</code>. The terminal says more.</p>",
                escape(&code)
            );
            Html(page("Sign-in did not complete", &text)).into_response()
        }
    }
}

const DONE: &str = "<p>You can close this tab and return to the terminal.</p>";
const FOREIGN: &str =
    "<p>This callback does not belong to the sign-in the terminal is waiting for.</p>";
const USED: &str = "<p>This sign-in has already completed. You can close this tab.</p>";
const NOT_FOUND: &str = "<p>Nothing here: this listener only takes the sign-in callback.</p>";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    )
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Opens `url` in the user's browser (`xdg-open`, `open` or `start`,
/// through the `open` crate), without waiting for it. On Linux without a
/// display (an SSH session) it does not try, since a text-mode browser
/// would take over the terminal: print the URL instead.
pub fn open_browser(url: &str) -> Result<(), NativeError> {
    if cfg!(all(unix, not(target_os = "macos")))
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        return Err(NativeError::Browser("no graphical display".into()));
    }
    open::that_detached(url).map_err(|e| NativeError::Browser(e.to_string()))
}
