//! The application layer: one module per use case, between the HTTP routes
//! and the protocol core (Kanidm's shape). A use case reads the clock once
//! (or takes the time its request was received), asks the core for every
//! decision, performs the store calls, and returns a typed outcome; the
//! route only parses the request, calls one use case and shapes the answer.
//! Nothing here knows about HTTP status codes, headers or cookies.

pub mod authorization;
pub mod budgets;
pub mod client_auth;
pub mod error;
pub mod events;
pub mod grants;
pub mod introspection;
pub mod logout;
pub mod revocation;
pub mod token_status;
pub mod userinfo;

pub use error::{AppError, FlowRefusal, Unavailable};
