//! The flows of the dance view: what the user set off (a sign-in, a
//! refresh, a revocation, …), each drawn as one collapsible group of steps,
//! so a long session reads as a handful of stories instead of a list of
//! seventy arrows.

use serde::Serialize;

use crate::dance::Step;

/// What the user set off: each flow is one collapsible group of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The first authorization of this browser session.
    SignIn,
    /// An authorization after an earlier one (or a refusal) in this session.
    AuthorizeAgain,
    /// The photo list, read with the access token.
    Photos,
    /// The print page, which reads the photo list for its captions.
    Print,
    Refresh(RefreshCause),
    Forget,
    Revoke,
    /// The refresh token was refused: the authorization is over.
    Ended,
    /// Steps outside any flow the printer knows (a stray callback).
    Other,
}

/// Why the printer refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshCause {
    /// The user pressed “Refresh now”.
    Button,
    /// The user made the printer forget its access token.
    Forgotten,
    /// The photo API refused the access token (401 `invalid_token`).
    Refused,
}

impl Flow {
    pub fn title(self) -> &'static str {
        match self {
            Flow::SignIn => "Sign-in",
            Flow::AuthorizeAgain => "Authorize again",
            Flow::Photos => "Photos read with the access token",
            Flow::Print => "Print page",
            Flow::Refresh(RefreshCause::Button) => "Refresh (“Refresh now”)",
            Flow::Refresh(RefreshCause::Forgotten) => "Refresh (the access token was forgotten)",
            Flow::Refresh(RefreshCause::Refused) => {
                "Refresh (the photo API refused the access token)"
            }
            Flow::Forget => "Forget the access token",
            Flow::Revoke => "Revoke",
            Flow::Ended => "Refresh refused: the authorization has ended",
            Flow::Other => "Other steps",
        }
    }

    /// For the page's styles and for tests.
    pub fn kind(self) -> &'static str {
        match self {
            Flow::SignIn => "sign_in",
            Flow::AuthorizeAgain => "authorize_again",
            Flow::Photos => "photos",
            Flow::Print => "print",
            Flow::Refresh(_) => "refresh",
            Flow::Forget => "forget",
            Flow::Revoke => "revoke",
            Flow::Ended => "ended",
            Flow::Other => "other",
        }
    }
}

#[derive(Debug)]
pub(crate) struct FlowRecord {
    pub(crate) id: u64,
    pub(crate) flow: Flow,
    /// Ended with a redirect to `/photos` (see `DanceLog::begin_or_continue`).
    pub(crate) continues_with_photos: bool,
}

/// One flow as the view draws it.
#[derive(Debug, Clone, Serialize)]
pub struct FlowView {
    pub id: u64,
    pub title: &'static str,
    pub kind: &'static str,
    /// When its first step happened.
    pub time: String,
    /// A step of it failed.
    pub failed: bool,
    /// Drawn open: the newest flow.
    pub open: bool,
    pub steps: Vec<Step>,
}
