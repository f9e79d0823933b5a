//! The bound on password hashing (issue 13, "a login flood exhausts
//! memory"; issue 14 item 4). Each Argon2 verification holds about 19 MiB
//! for tens of milliseconds, so unbounded concurrent logins (every one in
//! its own `spawn_blocking`) grow memory without limit. Here a login first
//! takes a place ([`PasswordSlots::admit`]): at most `slots + queue` are
//! admitted, and the rest are refused at once ([`Busy`], answered 503 with
//! `Retry-After`). An admitted login then waits for one of `slots` slots and
//! verifies in Argon2 memory kept for reuse; once the last admitted login is
//! done the memory is dropped, so an idle server holds none.
//!
//! The slot and the place are held by the blocking task itself, not by the
//! request: a client that disconnects mid-hash frees nothing early, so the
//! bound holds for the work actually running.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use argon2::Block;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::passwords::{self, PasswordError};

/// The capacity of a new Argon2 buffer, in 1 KiB blocks: just over 32 MiB,
/// of which a default hash touches 19 MiB (only touched pages are
/// resident). Why more than needed: glibc serves an allocation from `mmap`,
/// and gives it back to the system on free, only above its mmap threshold,
/// which rises to the size of the largest block freed so far, up to 32 MiB.
/// A 19 MiB buffer therefore comes from the heap after the first one is
/// freed, and the heap keeps it resident after the flood: measured, 57 →
/// 98 MiB for good. Above 32 MiB it is always mapped and always unmapped.
const RESERVED_BLOCKS: usize = 32 * 1024 + 1;

/// How much password hashing runs at once, and how much may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingPolicy {
    /// Argon2 computations at once (default: one per core).
    pub slots: usize,
    /// Logins that may wait for a slot; any more are refused as busy.
    pub queue: usize,
    /// The wait a refused login is told (`Retry-After`).
    pub busy_retry_after_secs: i64,
}

impl Default for HashingPolicy {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            slots: cores,
            // A short queue: with ~50 ms per hash, four per slot wait at
            // most a fifth of a second.
            queue: 4 * cores,
            busy_retry_after_secs: 2,
        }
    }
}

/// All slots and queue places are taken: try again after `retry_after`
/// seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub retry_after: i64,
}

/// What the hashing has done so far (for tests and, later, metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashingStats {
    /// Argon2 computations running now.
    pub running: usize,
    /// The most that ever ran at once.
    pub peak_running: usize,
    /// Logins admitted now (running or waiting).
    pub admitted: usize,
    /// Argon2 verifications completed.
    pub verifications: u64,
    /// Logins refused as busy.
    pub refused: u64,
    /// Argon2 buffers kept for reuse (none once idle).
    pub kept_buffers: usize,
}

#[derive(Debug, Default)]
struct Shared {
    admitted: AtomicUsize,
    running: AtomicUsize,
    peak_running: AtomicUsize,
    verifications: AtomicU64,
    refused: AtomicU64,
    /// Argon2 memory between two verifications (at most one per slot).
    spare: Mutex<Vec<Vec<Block>>>,
}

impl Shared {
    fn spare(&self) -> MutexGuard<'_, Vec<Vec<Block>>> {
        self.spare
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The server's password-hashing slots.
#[derive(Debug)]
pub struct PasswordSlots {
    policy: HashingPolicy,
    permits: Arc<Semaphore>,
    shared: Arc<Shared>,
}

impl PasswordSlots {
    pub fn new(policy: HashingPolicy) -> Self {
        let policy = HashingPolicy {
            slots: policy.slots.max(1),
            ..policy
        };
        Self {
            permits: Arc::new(Semaphore::new(policy.slots)),
            shared: Arc::default(),
            policy,
        }
    }

    /// A place among the `slots + queue` admitted logins, or [`Busy`] at
    /// once when there is none.
    pub fn admit(&self) -> Result<Admitted, Busy> {
        let limit = self.policy.slots + self.policy.queue;
        let admitted =
            self.shared
                .admitted
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < limit).then_some(n + 1)
                });
        match admitted {
            Ok(_) => Ok(Admitted {
                place: Place(self.shared.clone()),
                permits: self.permits.clone(),
            }),
            Err(_) => {
                self.shared.refused.fetch_add(1, Ordering::Relaxed);
                Err(Busy {
                    retry_after: self.policy.busy_retry_after_secs,
                })
            }
        }
    }

    pub fn stats(&self) -> HashingStats {
        let s = &self.shared;
        HashingStats {
            running: s.running.load(Ordering::Acquire),
            peak_running: s.peak_running.load(Ordering::Acquire),
            admitted: s.admitted.load(Ordering::Acquire),
            verifications: s.verifications.load(Ordering::Acquire),
            refused: s.refused.load(Ordering::Acquire),
            kept_buffers: s.spare().len(),
        }
    }
}

/// One admitted login's place; given back when dropped.
#[derive(Debug)]
struct Place(Arc<Shared>);

impl Drop for Place {
    /// The last admitted login to leave (verified, refused by the throttle
    /// after waiting, or gone with its client) drops the kept memory.
    fn drop(&mut self) {
        if self.0.admitted.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.spare().clear();
        }
    }
}

/// An admitted login, waiting for a slot.
#[derive(Debug)]
pub struct Admitted {
    place: Place,
    permits: Arc<Semaphore>,
}

impl Admitted {
    /// Waits for a free slot.
    pub async fn slot(self) -> Result<Slot, PasswordError> {
        let permit = self
            .permits
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Join)?;
        Ok(Slot {
            place: self.place,
            _permit: permit,
        })
    }
}

/// A slot: one Argon2 computation may run.
#[derive(Debug)]
pub struct Slot {
    place: Place,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    /// Verifies `password` against the PHC string `phc` in this slot
    /// (always one full Argon2 computation for a well-formed hash, as
    /// [`passwords::verify`]).
    pub async fn verify(self, password: String, phc: String) -> Result<bool, PasswordError> {
        tokio::task::spawn_blocking(move || self.verify_here(password.as_bytes(), &phc))
            .await
            .map_err(|_| PasswordError::Join)?
    }

    fn verify_here(self, password: &[u8], phc: &str) -> Result<bool, PasswordError> {
        let shared = &self.place.0;
        let mut memory = shared
            .spare()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(RESERVED_BLOCKS));
        let running = shared.running.fetch_add(1, Ordering::AcqRel) + 1;
        shared.peak_running.fetch_max(running, Ordering::AcqRel);
        let verified = passwords::verify_with_memory(password, phc, &mut memory);
        shared.running.fetch_sub(1, Ordering::AcqRel);
        shared.verifications.fetch_add(1, Ordering::AcqRel);
        // Kept for the next login; dropped when the last admitted login
        // leaves (`Place::drop`), so an idle server holds none.
        shared.spare().push(memory);
        verified
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(slots: usize, queue: usize) -> HashingPolicy {
        HashingPolicy {
            slots,
            queue,
            busy_retry_after_secs: 3,
        }
    }

    #[test]
    fn admits_slots_plus_queue_then_refuses_until_a_place_is_given_back() {
        let slots = PasswordSlots::new(policy(1, 2));
        let held: Vec<_> = (0..3).map(|_| slots.admit().unwrap()).collect();
        assert_eq!(slots.admit().unwrap_err(), Busy { retry_after: 3 });
        assert_eq!(slots.stats().admitted, 3);
        assert_eq!(slots.stats().refused, 1);
        drop(held);
        assert_eq!(slots.stats().admitted, 0);
        assert!(slots.admit().is_ok());
    }

    #[tokio::test]
    async fn the_memory_is_reused_while_busy_and_dropped_when_idle() {
        let slots = PasswordSlots::new(policy(1, 1));
        let phc = passwords::hash("pw".into()).await.unwrap();
        let first = slots.admit().unwrap();
        let second = slots.admit().unwrap();
        let slot = first.slot().await.unwrap();
        assert!(!slot.verify("nope".into(), phc.clone()).await.unwrap());
        assert_eq!(slots.shared.spare().len(), 1, "kept for the waiting login");
        let slot = second.slot().await.unwrap();
        assert!(slot.verify("pw".into(), phc.clone()).await.unwrap());
        assert!(slots.shared.spare().is_empty(), "dropped once idle");
        // A login that leaves without verifying (refused by the throttle
        // after its wait) still drops what the others kept.
        let waiting = slots.admit().unwrap();
        let slot = slots.admit().unwrap().slot().await.unwrap();
        assert!(!slot.verify("nope".into(), phc.clone()).await.unwrap());
        assert_eq!(slots.shared.spare().len(), 1);
        drop(waiting);
        assert!(slots.shared.spare().is_empty());
        let stats = slots.stats();
        assert_eq!((stats.verifications, stats.peak_running), (3, 1));
    }
}
