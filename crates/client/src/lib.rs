//! Tessera's client role: discover the authorization server, send the user
//! there with `state` and PKCE S256, check the callback (state, RFC 9207
//! `iss`) before any token request, trade the code with HTTP Basic, call
//! resources with `Authorization: Bearer`, refresh once on `invalid_token`,
//! and ask for reauthorization when the refresh token stops working.
//!
//! The protocol requests are made by the `oauth2` crate (bridged to the
//! workspace's reqwest in `http.rs`); discovery and the callback checks,
//! which oauth2 does not do, are written here.

mod callback;
mod client;
mod discovery;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod id_token;
mod identity;
mod jwks;
#[cfg(feature = "native")]
pub mod native;
pub mod observe;
mod resource;
mod tokens;

pub use callback::{PendingAuthorization, check_callback};
pub use client::{Clock, OAuthClient, TokenKind};
pub use discovery::{Metadata, check as check_metadata, require_secure};
pub use error::{CallbackError, Error};
pub use http::TransportError;
pub use identity::Identity;
pub use tokens::{Secret, Tokens};
