//! Token endpoint, codes, PKCE and refresh tokens (CONFORMANCE.md 1C, 1D, 1E, 1F, 1M).

#[allow(unused_imports)]
use crate::harness::*;
