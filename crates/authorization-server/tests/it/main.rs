//! Integration tests of the authorization server over real HTTP.
//! One binary (faster to link); one module per area, tests named after the
//! items of docs/conformance.md they check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Deadlines and unique names in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

#[allow(dead_code)]
mod harness;

mod audit_trail;
mod authorize_endpoint;
mod budgets;
mod client_credentials;
mod client_secrets;
mod clock_reads;
mod connections;
mod happy_path;
mod hostile_input;
mod housekeeping;
mod interop_apache;
mod interop_node;
mod interop_openidconnect;
mod interop_python;
mod introspection;
mod keys;
mod logging;
mod login_freshness;
mod login_throttling;
mod metadata;
mod oidc;
mod oidc_basic_op;
mod pages;
mod posture;
mod refresh_retry_window;
mod request_edges;
mod resource_indicators;
mod revocation;
mod token_endpoint;
mod trusted_proxies;
