//! The guard against a mock authorization server on loopback ports.
//! One binary (faster to link), one module per area.
// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod extraction;
mod fail_closed;
mod introspection;
mod jwt;
mod keys;
mod secrets;
mod support;
