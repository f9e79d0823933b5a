//! Authorization endpoint, redirect URIs and browser pages (CONFORMANCE.md 1A, 1B, 1K, 1M-98/100).

#[allow(unused_imports)]
use crate::harness::*;
