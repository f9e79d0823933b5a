//! Where Tessera meets the real world's time and randomness. Everything else
//! is handed a [`Clock`] and a randomness source, so tests move time and
//! choose bytes instead of sleeping and hoping; this crate holds the real
//! ones (and [`ManualClock`] for tests), and clippy's `disallowed-methods`
//! (in `clippy.toml`) keeps `SystemTime::now`, `Instant::now` and the OS
//! random number generator out of every other crate.
//!
//! It depends on no other Tessera crate unless its `tessera-core` feature is
//! on; then [`SystemRandomness`] also implements the core's `Randomness`
//! trait. The guard uses it without that feature, and so stays independent
//! of the core.

pub mod clock;
pub mod randomness;

pub use clock::{Clock, ManualClock, SystemClock, UnixTime, system_time};
pub use randomness::{RandomnessFailed, SystemRandomness};
