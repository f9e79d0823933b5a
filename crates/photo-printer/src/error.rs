//! The printer's errors, each shown to the browser as a readable page. No
//! variant carries a token or a code: messages come from the client
//! library's errors, which are built without response bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::pages;

#[derive(Debug, thiserror::Error)]
pub enum PrinterError {
    #[error("the system random generator failed")]
    Randomness,
    #[error("the authorization server cannot be reached or is misconfigured: {0}")]
    Discovery(tessera_client::Error),
    /// A refresh or revocation the authorization server did not complete.
    #[error("the authorization server did not complete the request: {0}")]
    AuthorizationServer(tessera_client::Error),
    #[error("the photo API cannot be reached: {0}")]
    Resource(String),
    #[error("the form is stale or was not sent by this site; go back and try again")]
    Csrf,
    /// Every session slot holds a signed-in user; none is evicted for a
    /// newcomer.
    #[error("the printer has too many visitors right now; try again in a minute")]
    Busy,
}

impl IntoResponse for PrinterError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            PrinterError::Randomness => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
            PrinterError::Discovery(_)
            | PrinterError::AuthorizationServer(_)
            | PrinterError::Resource(_) => (StatusCode::BAD_GATEWAY, "A server is not answering"),
            PrinterError::Csrf => (StatusCode::FORBIDDEN, "Request refused"),
            PrinterError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "Busy"),
        };
        tracing::warn!(error = %self, "request failed");
        pages::message(status, title, &self.to_string())
    }
}
