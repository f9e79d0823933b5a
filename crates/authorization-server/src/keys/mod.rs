//! Signing keys over time: generated, sealed at rest, published ahead of use,
//! active, superseded, retired. The schedule itself (which key is in which
//! state at a given time, when one may be retired, when a chain is due for
//! rotation) is pure and lives in [`tessera_core::key_schedule`]; this module
//! acts on it.
//!
//! The rules, and who enforces them:
//! - **Encrypted at rest**: a private key reaches the store only sealed with
//!   AES-256-GCM under the key-encryption key, the kid as associated data (so
//!   a sealed key cannot be moved to another row; see [`crate::sealing`]).
//!   [`KeyManager::rotate`] first proves the key-encryption key opens every
//!   live key, so a process with the wrong key cannot add one the others
//!   cannot read.
//! - **Published before use**: [`KeyManager::rotate`] sets `activates_at` a
//!   pre-publication window ahead (unless told to activate at once), and the
//!   JWKS lists every live key, pending ones included.
//! - **Kept until the tokens it signed expire**: [`KeyManager::retire`]
//!   refuses the active key and any key superseded less than the access-token
//!   lifetime plus the reload interval ago (the reload interval bounds how
//!   long a server that has not yet seen an immediate rotation may go on
//!   signing with the old key).
//! - **Every node agrees without talking**: the active key is the newest live
//!   key (by `activates_at`, then `created_at`, then insertion order) whose
//!   `activates_at` has passed. A [`KeyRing`] computes it from its cached key
//!   set and the clock at each signature, so a pre-published successor takes
//!   over at the same second everywhere; the cache itself is reloaded every
//!   reload interval and as soon as a cached successor activates.
//!
//! - `policy.rs`: [`KeyPolicy`], how keys are made, published, rotated and
//!   reloaded (part of the server configuration).
//! - `manager.rs`: [`KeyManager`], the operations against the store (shared
//!   by the server and `tessera keys`).
//! - `ring.rs`: [`KeyRing`], the server's cached key set and its background
//!   maintenance task.
//! - `error.rs`: [`KeysError`].

mod error;
mod manager;
mod policy;
mod ring;

pub use error::KeysError;
pub use manager::{DEV_KEK_SETTING, KeyManager};
pub use policy::{DEFAULT_PREPUBLICATION_SECS, DEFAULT_RELOAD_INTERVAL_SECS, KeyPolicy};
pub use ring::KeyRing;
pub use tessera_core::key_schedule::{KeyInfo, KeyPurpose, KeyState, RetireRefused};
pub use tessera_core::utc::format_utc;

pub use crate::sealing::KeyEncryptionKey;
