//! What can go wrong, each with a message a person can act on.

use tessera_client::native::NativeError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not signed in: run `tessera photos login`")]
    NotSignedIn,
    #[error("sign-in failed: {0}")]
    SignIn(#[from] tessera_client::CallbackError),
    #[error("{0}")]
    Native(#[from] NativeError),
    #[error("{0}")]
    Client(#[from] tessera_client::Error),
    #[error("the photo API answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("could not reach the photo API: {0}")]
    Http(#[from] reqwest::Error),
    #[error("this sign-in does not allow {0}: run `tessera photos login` and allow it")]
    ScopeMissing(&'static str),
    #[error("the OS keyring: {0}")]
    Keyring(String),
    #[error("{what} {path}: {source}")]
    File {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("the stored sign-in is unreadable ({0}): run `tessera photos login`")]
    Corrupt(String),
    #[error("{0}")]
    Input(String),
}
