//! Integration tests of the authorization server over real HTTP.
//! One binary (faster to link); one module per area, tests named after the
//! CONFORMANCE.md items they check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod harness;

mod authorize_endpoint;
mod happy_path;
mod keys;
mod logging;
mod request_edges;
mod token_endpoint;
