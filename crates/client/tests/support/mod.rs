//! The shared loopback AS + photo API (tessera-test-support).
pub use tessera_test_support::*;
