//! Test-only support for the workspace's test suites (never a dependency
//! of a shipped crate): the real authorization server and photo API on
//! loopback ([`servers`]), and the one cookie-keeping browser that fills in
//! the AS's login and consent forms ([`browser`], [`urls`]). It panics on
//! any failure, as a test should.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod browser;
pub mod servers;
pub mod urls;

pub use browser::{Browser, Form};
pub use servers::*;
pub use urls::{location, param, query_params, with_param};
