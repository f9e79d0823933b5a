//! Time, injected: every expiry, lifetime, cache age and refetch interval is
//! read from a [`Clock`], so tests move time forward instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in seconds (the same type as `tessera_core::UnixTime`).
pub type UnixTime = i64;

/// Where the time is read from.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixTime;
}

/// The wall clock as a [`SystemTime`], for code that keeps `SystemTime`
/// values (the client library's token expiry). A plain function, so it can
/// be handed over as a clock (`Arc::new(tessera_runtime::system_time)`).
// The one place that reads the wall clock (see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub fn system_time() -> SystemTime {
    SystemTime::now()
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        system_time()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to, for tests. Clones share the time
/// and the count of readings.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
    reads: Arc<AtomicU64>,
}

impl ManualClock {
    pub fn new(start: UnixTime) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(start)),
            reads: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn set(&self, now: UnixTime) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// How many times the time was read: tests use it to check that a
    /// request reads the clock once and decides everything with that time.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::SeqCst)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::new(100);
        let shared = clock.clone();
        assert_eq!(clock.now(), 100);
        clock.advance(5);
        assert_eq!(shared.now(), 105);
        shared.set(7);
        assert_eq!(clock.now(), 7);
        assert_eq!(shared.reads(), 3, "three readings, counted across clones");
    }

    #[test]
    fn the_system_clock_is_past_2020() {
        assert!(SystemClock.now() > 1_577_836_800);
    }
}
