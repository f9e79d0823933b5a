//! [`KeyRing`]: the server's signing keys in memory. A cached key set,
//! reloaded from the store in the background, from which the key to sign
//! with is chosen by the clock at each signature; its maintenance task also
//! runs scheduled rotation and retirement.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tessera_core::UnixTime;
use tessera_core::jwt::{SigningAlgorithm, SigningKey};
use tessera_core::key_schedule::{self, KeyChain, KeyInfo, RetireRefused};
use tokio::sync::{Mutex, Notify, watch};

use super::manager::LiveKey;
use super::{KeyManager, KeysError, format_utc};
use tessera_runtime::Clock;

/// The key set a server holds in memory: live keys in activation order.
#[derive(Debug)]
struct Snapshot {
    keys: Vec<LiveKey>,
    /// The key active when loaded: what signs should the clock ever read
    /// earlier than that.
    loaded_active: Arc<SigningKey>,
    loaded_at: UnixTime,
}

impl Snapshot {
    fn new(keys: Vec<LiveKey>, now: UnixTime) -> Result<Self, KeysError> {
        let loaded_active = keys
            .iter()
            .rev()
            .find(|k| !k.id_token && k.activates_at <= now)
            .map(|k| k.key.clone())
            .ok_or(KeysError::NoActiveKey)?;
        Ok(Self {
            keys,
            loaded_active,
            loaded_at: now,
        })
    }

    fn active(&self, now: UnixTime) -> Arc<SigningKey> {
        self.keys
            .iter()
            .rev()
            .find(|k| !k.id_token && k.activates_at <= now)
            .map(|k| k.key.clone())
            .unwrap_or_else(|| self.loaded_active.clone())
    }

    /// The active ID-token key of `algorithm`, if there is one.
    fn id_token_key(&self, algorithm: SigningAlgorithm, now: UnixTime) -> Option<Arc<SigningKey>> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.id_token && k.key.algorithm() == algorithm && k.activates_at <= now)
            .map(|k| k.key.clone())
    }

    /// Due for a reload: old, or a key that was pending when loaded has
    /// activated since (the store may know more about it, such as its
    /// withdrawal, or newer keys).
    fn stale(&self, now: UnixTime, reload_interval: i64) -> bool {
        now >= self.loaded_at.saturating_add(reload_interval)
            || self
                .keys
                .iter()
                .any(|k| k.activates_at > self.loaded_at && k.activates_at <= now)
    }
}

/// The server's signing keys: a cached key set, reloaded from the store in
/// the background, from which the key to sign with is chosen by the clock.
#[derive(Clone)]
pub struct KeyRing(Arc<RingInner>);

struct RingInner {
    manager: KeyManager,
    clock: Arc<dyn Clock>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises reloads, so an older read never overwrites a newer one.
    reloading: Mutex<()>,
    /// Serialises maintenance, so two rounds never both decide to rotate.
    maintaining: Mutex<()>,
    /// Wakes the maintenance task for an early reload.
    wake: Notify,
    /// Counts completed reloads (tests wait on it instead of sleeping).
    reloads: watch::Sender<u64>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.signing_key().kid())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Loads the key set, creating a first key if none is active. Fails,
    /// rather than starting, without a key-encryption key in production mode
    /// or with one that does not open the stored keys.
    pub async fn open(manager: KeyManager, clock: Arc<dyn Clock>) -> Result<Self, KeysError> {
        let now = clock.now();
        let mut keys = manager.load(&HashMap::new()).await?;
        if !keys.iter().any(|k| !k.id_token && k.activates_at <= now) {
            let algorithm = manager.policy().algorithm;
            let kid = manager.create(algorithm, false, now, now).await?;
            tracing::info!(%kid, %algorithm, "generated a new signing key");
            keys = manager.load(&HashMap::new()).await?;
        }
        // An ID-token key of every algorithm a client may choose, RS256
        // first of all (OIDC Core §15.1: RS256 must be supported).
        let mut created = false;
        for algorithm in [
            SigningAlgorithm::Rs256,
            SigningAlgorithm::Es256,
            SigningAlgorithm::EdDsa,
        ] {
            let present = keys
                .iter()
                .any(|k| k.id_token && k.key.algorithm() == algorithm && k.activates_at <= now);
            if !present {
                let kid = manager.create(algorithm, true, now, now).await?;
                tracing::info!(%kid, %algorithm, "generated a new ID-token signing key");
                created = true;
            }
        }
        if created {
            keys = manager.load(&HashMap::new()).await?;
        }
        let snapshot = Snapshot::new(keys, now)?;
        Ok(Self(Arc::new(RingInner {
            manager,
            clock,
            snapshot: RwLock::new(Arc::new(snapshot)),
            reloading: Mutex::new(()),
            maintaining: Mutex::new(()),
            wake: Notify::new(),
            reloads: watch::Sender::new(0),
        })))
    }

    pub fn manager(&self) -> &KeyManager {
        &self.0.manager
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        match self.0.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The current snapshot, asking the background task for a reload first
    /// if it is due (the answer does not wait for it).
    fn current(&self, now: UnixTime) -> Arc<Snapshot> {
        let snapshot = self.snapshot();
        if snapshot.stale(now, self.0.manager.policy().reload_interval_secs) {
            self.0.wake.notify_one();
        }
        snapshot
    }

    /// The key to sign with now (by the ring's clock).
    pub fn signing_key(&self) -> Arc<SigningKey> {
        self.signing_key_at(self.0.clock.now())
    }

    /// The key to sign with at `now`: a request passes the time it read
    /// once, so the key and the token's `iat` agree.
    pub fn signing_key_at(&self, now: UnixTime) -> Arc<SigningKey> {
        self.current(now).active(now)
    }

    /// The key that signs ID tokens of `algorithm` at `now`. Every algorithm
    /// has one from the start ([`KeyRing::open`]); `NoActiveKey` only if an
    /// operator withdrew it.
    pub fn id_token_key_at(
        &self,
        algorithm: SigningAlgorithm,
        now: UnixTime,
    ) -> Result<Arc<SigningKey>, KeysError> {
        self.current(now)
            .id_token_key(algorithm, now)
            .ok_or(KeysError::NoActiveKey)
    }

    /// The public JWKs of every live key, pending ones included.
    pub fn public_jwks(&self) -> Vec<serde_json::Value> {
        self.public_jwks_at(self.0.clock.now())
    }

    /// [`KeyRing::public_jwks`] at `now`.
    pub fn public_jwks_at(&self, now: UnixTime) -> Vec<serde_json::Value> {
        self.current(now)
            .keys
            .iter()
            .map(|k| k.key.public_jwk().clone())
            .collect()
    }

    /// Reloads the key set from the store. On failure the loaded set stays.
    pub async fn reload(&self) -> Result<(), KeysError> {
        let _one_at_a_time = self.0.reloading.lock().await;
        let cache: HashMap<String, Arc<SigningKey>> = self
            .snapshot()
            .keys
            .iter()
            .map(|k| (k.key.kid().to_owned(), k.key.clone()))
            .collect();
        let keys = self.0.manager.load(&cache).await?;
        let snapshot = Snapshot::new(keys, self.0.clock.now())?;
        match self.0.snapshot.write() {
            Ok(mut s) => *s = Arc::new(snapshot),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(snapshot),
        }
        self.0.reloads.send_modify(|n| *n += 1);
        Ok(())
    }

    /// A receiver that changes after every completed reload.
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.0.reloads.subscribe()
    }

    /// Rotates (see [`KeyManager::rotate`]) and reloads.
    pub async fn rotate(
        &self,
        algorithm: Option<SigningAlgorithm>,
        immediately: bool,
    ) -> Result<KeyInfo, KeysError> {
        let info = self
            .0
            .manager
            .rotate(algorithm, immediately, self.0.clock.now())
            .await?;
        self.reload().await?;
        Ok(info)
    }

    /// Retires (see [`KeyManager::retire`]) and reloads.
    pub async fn retire(&self, kid: &str) -> Result<KeyInfo, KeysError> {
        let info = self.0.manager.retire(kid, self.0.clock.now()).await?;
        self.reload().await?;
        Ok(info)
    }

    /// One round of maintenance: with a rotation interval configured, rotate
    /// each chain whose newest key is that old and retire what no live token
    /// needs; then reload.
    pub async fn maintain(&self) -> Result<(), KeysError> {
        let _one_at_a_time = self.0.maintaining.lock().await;
        let manager = &self.0.manager;
        if let Some(interval) = manager.policy().rotation_interval_secs {
            let now = self.0.clock.now();
            let keys = manager.list(now).await?;
            if key_schedule::rotation_due(&keys, KeyChain::AccessToken, interval, now) {
                let info = manager.rotate(None, false, now).await?;
                tracing::info!(
                    kid = %info.kid,
                    algorithm = %info.algorithm,
                    activates_at = %format_utc(info.activates_at),
                    "scheduled rotation: new signing key published"
                );
            }
            // Each ID-token chain rotates on the same schedule.
            for algorithm in SigningAlgorithm::ALL {
                let chain = KeyChain::IdToken {
                    algorithm: algorithm.as_str(),
                };
                if key_schedule::rotation_due(&keys, chain, interval, now) {
                    let info = manager.rotate_id_token_key(algorithm, false, now).await?;
                    tracing::info!(
                        kid = %info.kid,
                        algorithm = %info.algorithm,
                        activates_at = %format_utc(info.activates_at),
                        "scheduled rotation: new ID-token signing key published"
                    );
                }
            }
            for key in key_schedule::due_for_retirement(&keys, now) {
                match manager.retire(&key.kid, now).await {
                    Ok(_) => tracing::info!(
                        kid = %key.kid,
                        "retired a signing key whose tokens have all expired"
                    ),
                    // Another process got there first.
                    Err(KeysError::Refused(RetireRefused::AlreadyRetired(_))) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.reload().await
    }

    /// Runs maintenance every reload interval, and sooner when a request
    /// finds the key set due for a reload. Runs until dropped (aborted).
    pub async fn run(self) {
        let secs = self.0.manager.policy().reload_interval_secs.max(1);
        let period = Duration::from_secs(u64::try_from(secs).unwrap_or(1));
        // Scheduling, not a timestamp: the first round one period from now.
        #[allow(clippy::disallowed_methods)]
        let start = tokio::time::Instant::now() + period;
        let mut tick = tokio::time::interval_at(start, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.0.wake.notified() => {}
            }
            if let Err(e) = self.maintain().await {
                tracing::error!(error = %e, "signing-key maintenance failed; the keys loaded before stay in use");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_choose_by_the_clock_and_know_when_to_reload() -> Result<(), KeysError> {
        let live = |kid: &str, activates_at| -> Result<LiveKey, KeysError> {
            Ok(LiveKey {
                activates_at,
                created_at: 0,
                id_token: false,
                key: Arc::new(SigningKey::generate(kid.into(), SigningAlgorithm::Es256)?.0),
            })
        };
        let snapshot = Snapshot::new(vec![live("k1", 0)?, live("k2", 500)?], 100)?;
        assert_eq!(snapshot.active(499).kid(), "k1");
        assert_eq!(snapshot.active(500).kid(), "k2");
        assert_eq!(
            snapshot.active(-5).kid(),
            "k1",
            "a clock set back keeps the loaded key"
        );
        assert!(!snapshot.stale(129, 30));
        assert!(snapshot.stale(130, 30), "reload interval");
        let snapshot = Snapshot::new(vec![live("k1", 0)?, live("k2", 110)?], 100)?;
        assert!(snapshot.stale(110, 30), "a cached successor activated");
        assert!(matches!(
            Snapshot::new(vec![live("k2", 500)?], 100),
            Err(KeysError::NoActiveKey)
        ));
        Ok(())
    }
}
