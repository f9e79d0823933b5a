//! `FaultyStore`: the [`Gate`] of a [`tessera_store::Gated`] store that
//! fails chosen methods on demand, as a broken database would, to test that
//! failures never read as success. The delegation to the real store is the
//! store crate's (`test-util`), so a new `Store` method needs nothing here.

use tessera_store::Gate;

/// The store methods a storage failure at revocation or introspection goes
/// through: the token lookups and the two revocation writes.
pub const TOKEN_STORE_METHODS: &[&str] = &[
    "refresh_token",
    "access_token_by_jti",
    "access_token_by_hash",
    "revoke_grant",
    "revoke_access_token",
];

/// Lets every call through to the real store, except that while failures
/// are switched on the chosen methods fail as a broken database would
/// (`StoreError::Corrupt("injected failure")`).
pub struct FaultyStore {
    failing: std::sync::atomic::AtomicBool,
    methods: std::sync::Mutex<Vec<&'static str>>,
}

impl FaultyStore {
    pub fn new() -> Self {
        Self {
            failing: std::sync::atomic::AtomicBool::new(false),
            methods: std::sync::Mutex::new(TOKEN_STORE_METHODS.to_vec()),
        }
    }

    /// From now on, `methods` fail (and only they).
    pub fn fail(&self, methods: &[&'static str]) {
        *self.methods.lock().unwrap_or_else(|p| p.into_inner()) = methods.to_vec();
        self.failing
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every method works again.
    pub fn heal(&self) {
        self.failing
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Gate for FaultyStore {
    fn check(&self, method: &'static str) -> tessera_store::StoreResult<()> {
        let failing = self.failing.load(std::sync::atomic::Ordering::SeqCst)
            && self
                .methods
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&method);
        if failing {
            Err(tessera_store::StoreError::Corrupt(
                "injected failure".into(),
            ))
        } else {
            Ok(())
        }
    }
}
