//! What a use case answers when it does not succeed. The web layer's one
//! error type (`crate::error::WebError`) maps each kind to a response for
//! its audience: OAuth JSON on the back channel, a page in the browser.

use tessera_core::error::OAuthError;
use tessera_core::token_request::AuthenticationError;

/// A use case's failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The protocol refuses the request, with its RFC error code.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// Client authentication failed (401, with `WWW-Authenticate: Basic`
    /// when Basic was tried; RFC 6749 §5.2).
    #[error(transparent)]
    ClientAuthentication(#[from] AuthenticationError),
    /// Too many failed client authentications from this address: locked out
    /// for `retry_after` seconds (429).
    #[error("too many failed authentication attempts; try again later")]
    LockedOut { retry_after: i64 },
    /// A budget is spent (an endpoint's rate per address or per client, a
    /// client's refused grants, anonymous sign-ins): 429 with the wait.
    #[error("too many requests; try again in {retry_after} s")]
    OverBudget { retry_after: i64 },
    /// The client may not use this endpoint at all (403).
    #[error(transparent)]
    Forbidden(OAuthError),
    /// A browser step that cannot go on, shown to the user as a page.
    #[error(transparent)]
    Flow(#[from] FlowRefusal),
    /// The server cannot answer now (storage, keys, randomness). The cause
    /// is logged once by the web layer and never shown.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// An internal failure, kept as text for the log line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// Turns any internal failure into [`AppError::Unavailable`].
pub trait OrUnavailable<T> {
    fn or_unavailable(self) -> Result<T, AppError>;
}

impl<T, E: std::fmt::Display> OrUnavailable<T> for Result<T, E> {
    fn or_unavailable(self) -> Result<T, AppError> {
        self.map_err(|e| AppError::Unavailable(Unavailable(e.to_string())))
    }
}

/// Why a step of the browser flow cannot go on. The texts are the pages'
/// messages: written by us, never copied from the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowRefusal {
    /// The client or the redirect URI is not trusted (never a redirect).
    #[error(transparent)]
    Untrusted(#[from] tessera_core::authorize::UntrustedRequest),
    #[error(
        "This sign-in request has expired or was started in another browser. Go back to the application and start again."
    )]
    RequestExpired,
    #[error("The application is no longer registered.")]
    ClientGone,
    #[error("This request was already answered. Go back to the application and start again.")]
    AlreadyAnswered,
    #[error("You need to sign in first. Go back to the application and start again.")]
    NotSignedIn,
    #[error(
        "The sign-in form did not come from this browser session. Go back to the application and start again."
    )]
    LoginFormForged,
    #[error("The consent form did not come from this browser session. Nothing was granted.")]
    ConsentFormForged,
    #[error("Choose Allow or Deny.")]
    NoDecision,
}

impl FlowRefusal {
    /// Whether the refusal is about who is asking (403) rather than what
    /// was asked (400).
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            Self::NotSignedIn | Self::LoginFormForged | Self::ConsentFormForged
        )
    }
}
