//! The protocol core of Tessera.
//!
//! Everything here is pure decision logic over values: it parses and validates
//! OAuth 2.0 requests, checks PKCE and redirect URIs, and mints and signs
//! tokens. It owns no HTTP server, no database and no clock: callers pass the
//! current time (`now`, Unix seconds) and a [`secrets::Randomness`] source in,
//! which keeps every rule testable without sleeping or networking (the sans-I/O
//! style of rustls and oxide-auth).

pub mod authorization_request;
pub mod authorize;
pub mod client;
pub mod consent;
pub mod error;
pub mod grant;
pub mod id_token;
pub mod jwt;
pub mod key_schedule;
pub mod params;
pub mod pkce;
pub mod redirect_uri;
pub mod resource;
pub mod scope;
pub mod secrets;
pub mod token_request;
pub mod user_claims;
pub mod utc;

pub use error::{ErrorCode, OAuthError};
pub use scope::Scope;

/// Seconds since the Unix epoch. All lifetimes in Tessera are whole seconds.
pub type UnixTime = i64;
