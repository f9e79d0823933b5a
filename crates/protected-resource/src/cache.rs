//! A cache of answers keyed by token fingerprint, where concurrent lookups
//! of the same key share one computation (single flight).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::clock::UnixTime;
use crate::token::TokenFingerprint;

/// One key's answer, or the flight computing it.
struct Slot<V> {
    /// The value and the time until which it may be reused.
    cell: OnceCell<(V, UnixTime)>,
}

impl<V> Slot<V> {
    /// In flight, or answered and still good at `now`.
    fn usable(&self, now: UnixTime) -> bool {
        self.cell.get().is_none_or(|(_, until)| now < *until)
    }
}

pub(crate) struct FlightCache<V> {
    slots: Mutex<HashMap<TokenFingerprint, Arc<Slot<V>>>>,
    capacity: usize,
}

impl<V: Clone> FlightCache<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The cached answer for `key`, or the answer of `compute`, which
    /// returns the value and until when it may be reused (`until <= now`:
    /// not at all). Callers that arrive while `compute` runs wait for it
    /// instead of running their own; if the computing caller is dropped,
    /// one of the waiters takes over.
    pub(crate) async fn get_or_compute<F, Fut>(
        &self,
        key: TokenFingerprint,
        now: UnixTime,
        compute: F,
    ) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (V, UnixTime)>,
    {
        let slot = self.slot(key, now);
        let (value, until) = slot.cell.get_or_init(compute).await.clone();
        if until <= now {
            // Not to be reused: forget it, unless a newer flight replaced it.
            let mut slots = self.lock();
            if slots.get(&key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                slots.remove(&key);
            }
        }
        value
    }

    fn slot(&self, key: TokenFingerprint, now: UnixTime) -> Arc<Slot<V>> {
        let mut slots = self.lock();
        if let Some(s) = slots.get(&key)
            && s.usable(now)
        {
            return s.clone();
        }
        if slots.len() >= self.capacity {
            // Expired answers go first; if the cache is full of live ones
            // (a flood of distinct tokens), the answers go and only flights
            // stay, so memory stays bounded and nobody waits twice.
            slots.retain(|_, s| s.usable(now));
            if slots.len() >= self.capacity {
                slots.retain(|_, s| s.cell.get().is_none());
            }
        }
        let s = Arc::new(Slot {
            cell: OnceCell::new(),
        });
        slots.insert(key, s.clone());
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenFingerprint, Arc<Slot<V>>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn key(i: u8) -> TokenFingerprint {
        TokenFingerprint([i; 32])
    }

    #[tokio::test]
    async fn answers_are_reused_until_their_time() {
        let cache = FlightCache::new(10);
        let calls = AtomicUsize::new(0);
        let compute = |v: u32, until| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { (v, until) }
        };
        assert_eq!(
            cache.get_or_compute(key(1), 100, || compute(1, 105)).await,
            1
        );
        assert_eq!(
            cache.get_or_compute(key(1), 104, || compute(2, 110)).await,
            1
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            cache.get_or_compute(key(1), 105, || compute(3, 110)).await,
            3
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Another key is another answer.
        assert_eq!(
            cache.get_or_compute(key(2), 105, || compute(4, 110)).await,
            4
        );
    }

    #[tokio::test]
    async fn answers_not_to_be_reused_are_not_kept() {
        let cache = FlightCache::new(10);
        assert_eq!(
            cache
                .get_or_compute(key(1), 100, || async { (1, 100) })
                .await,
            1
        );
        assert_eq!(cache.len(), 0);
        assert_eq!(
            cache
                .get_or_compute(key(1), 100, || async { (2, 100) })
                .await,
            2
        );
    }

    #[tokio::test]
    async fn concurrent_lookups_share_one_computation() {
        let cache = Arc::new(FlightCache::new(10));
        let calls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, calls, gate) = (cache.clone(), calls.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_compute(key(7), 100, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        let _permit = gate.acquire().await;
                        (42u32, 130)
                    })
                    .await
            }));
        }
        // Let every task reach the cache before the computation may finish
        // (the test runtime is single-threaded, so they run in turn).
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1);
        for t in tasks {
            assert_eq!(t.await.unwrap(), 42);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_capacity() {
        let cache = FlightCache::new(3);
        for i in 0..10 {
            cache
                .get_or_compute(key(i), 100, || async { (i, 200) })
                .await;
            assert!(cache.len() <= 3, "{}", cache.len());
        }
    }
}
