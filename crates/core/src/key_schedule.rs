//! The signing-key schedule: where each key is in its life at a given time,
//! when it may be retired and when a chain is due for rotation. Pure
//! decisions over the stored key rows and `now`; the server's key manager
//! reads the rows and acts on the answers.
//!
//! ```text
//! created_at ───────▶ activates_at ──────────▶ (next key activates) ──────▶ retired_at
//!   pending: in the     active: signs new        superseded: still in the      gone from
//!   JWKS, signs nothing  tokens                   JWKS for the tokens it        the JWKS
//!                                                 signed                        and the ring
//! ```
//!
//! The store keeps `created_at`, `activates_at` and `retired_at`. When a key
//! was superseded is not stored: it is the `activates_at` of the next live key
//! that has activated, so every process derives the same answer from the same
//! rows with its own clock, and no write is needed when time passes. The
//! active key is the newest live key (by `activates_at`, then `created_at`,
//! then insertion order) whose `activates_at` has passed.

use std::collections::HashMap;
use std::fmt;

use crate::UnixTime;
use crate::utc::format_utc;

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    AccessToken,
    IdToken,
}

impl KeyPurpose {
    /// The same words as the store's `purpose` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::IdToken => "id_token",
        }
    }

    /// The purpose of a stored key: anything but `id_token` signs access
    /// tokens (every key stored before OpenID Connect has that purpose).
    pub fn from_stored(purpose: &str) -> Self {
        if purpose == Self::IdToken.as_str() {
            Self::IdToken
        } else {
            Self::AccessToken
        }
    }
}

impl fmt::Display for KeyPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for KeyPurpose {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Which chain a key belongs to: one key of each chain is active. Access
/// tokens have one chain (rotating to another algorithm is a rotation); ID
/// tokens one per algorithm, since each client picks its own algorithm and
/// OIDC requires RS256 whatever signs access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyChain<'a> {
    AccessToken,
    IdToken { algorithm: &'a str },
}

impl<'a> KeyChain<'a> {
    fn of(purpose: KeyPurpose, algorithm: &'a str) -> Self {
        match purpose {
            KeyPurpose::AccessToken => Self::AccessToken,
            KeyPurpose::IdToken => Self::IdToken { algorithm },
        }
    }
}

/// A stored key's times, as the schedule needs them (no private part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub kid: String,
    pub algorithm: String,
    pub purpose: KeyPurpose,
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    pub retired_at: Option<UnixTime>,
}

impl KeyRecord {
    pub fn chain(&self) -> KeyChain<'_> {
        KeyChain::of(self.purpose, &self.algorithm)
    }
}

/// Where a key is in its life at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not yet signing.
    Pending,
    /// Signing new tokens.
    Active,
    /// Published for the tokens it signed; signs nothing new.
    Superseded,
    /// Neither published nor used.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Superseded => "superseded",
            Self::Retired => "retired",
        }
    }
}

/// A key as an operator sees it (no private part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub algorithm: String,
    pub purpose: KeyPurpose,
    pub state: KeyState,
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    /// When the next key activated (superseded keys only).
    pub superseded_at: Option<UnixTime>,
    /// When [`check_retirable`] accepts it (superseded keys only).
    pub retirable_at: Option<UnixTime>,
    pub retired_at: Option<UnixTime>,
}

impl KeyInfo {
    pub fn chain(&self) -> KeyChain<'_> {
        KeyChain::of(self.purpose, &self.algorithm)
    }
}

/// The order in which keys take over: the active key is the last live key
/// in this order whose `activates_at` has passed. Sorts are stable and the
/// store lists keys in insertion order, so of two keys made in the same
/// second the one made last wins, the same on every node.
pub fn activation_order(activates_at: UnixTime, created_at: UnixTime) -> (UnixTime, UnixTime) {
    (activates_at, created_at)
}

/// Each key's state at `now`, in activation order. `records` are in the
/// store's insertion order. `retire_margin` is how long after a key stops
/// signing it must stay published.
pub fn schedule(records: &[KeyRecord], now: UnixTime, retire_margin: i64) -> Vec<KeyInfo> {
    let mut chains: Vec<KeyChain<'_>> = records.iter().map(KeyRecord::chain).collect();
    chains.sort_unstable();
    chains.dedup();
    let mut all: Vec<KeyInfo> = Vec::new();
    for chain in chains {
        let members: Vec<&KeyRecord> = records.iter().filter(|k| k.chain() == chain).collect();
        all.extend(schedule_chain(&members, now, retire_margin));
    }
    // Stable: within a chain the order computed above is kept.
    all.sort_by_key(|k| activation_order(k.activates_at, k.created_at));
    all
}

/// [`schedule`] for the keys of one chain.
fn schedule_chain(records: &[&KeyRecord], now: UnixTime, retire_margin: i64) -> Vec<KeyInfo> {
    let mut sorted: Vec<&KeyRecord> = records.to_vec();
    sorted.sort_by_key(|k| activation_order(k.activates_at, k.created_at));
    // Retired keys take no part: a key withdrawn while pending never
    // superseded anything. (A retired key that did sign for a while was
    // superseded itself, so leaving it out only makes its predecessor's
    // supersession look later: the safe direction.)
    let live: Vec<&KeyRecord> = sorted
        .iter()
        .copied()
        .filter(|k| k.retired_at.is_none())
        .collect();
    let active = live.iter().rposition(|k| k.activates_at <= now);
    let mut live_states: HashMap<&str, (KeyState, Option<UnixTime>)> = HashMap::new();
    for (i, k) in live.iter().enumerate() {
        let state = if Some(i) == active {
            KeyState::Active
        } else if k.activates_at > now {
            KeyState::Pending
        } else {
            KeyState::Superseded
        };
        // Only a key that activated before the active one can be superseded,
        // so a later live key has activated.
        let superseded_at = (state == KeyState::Superseded)
            .then(|| {
                live[i + 1..]
                    .iter()
                    .find(|n| n.activates_at <= now)
                    .map(|n| n.activates_at)
            })
            .flatten();
        live_states.insert(k.kid.as_str(), (state, superseded_at));
    }
    sorted
        .iter()
        .map(|k| {
            let (state, superseded_at) = live_states
                .get(k.kid.as_str())
                .copied()
                .unwrap_or((KeyState::Retired, None));
            KeyInfo {
                kid: k.kid.clone(),
                algorithm: k.algorithm.clone(),
                purpose: k.purpose,
                state,
                created_at: k.created_at,
                activates_at: k.activates_at,
                superseded_at,
                retirable_at: superseded_at.map(|at| at.saturating_add(retire_margin)),
                retired_at: k.retired_at,
            }
        })
        .collect()
}

/// Why a key may not be retired (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetireRefused {
    #[error("signing key `{0}` is already retired")]
    AlreadyRetired(String),
    #[error(
        "signing key `{0}` is the active signing key: rotate first, then retire it once the tokens it signed have expired"
    )]
    StillActive(String),
    #[error(
        "signing key `{kid}` may have signed access tokens that are still valid: it can be retired from {} (when it stopped signing plus the access-token lifetime and the key reload interval)",
        format_utc(*retirable_at)
    )]
    StillVerifying { kid: String, retirable_at: UnixTime },
    #[error(
        "signing key `{kid}` activates at {}, too soon to withdraw: a server may already be signing with it; let it activate, rotate again, and retire it once its tokens have expired",
        format_utc(*activates_at)
    )]
    ActivatesSoon { kid: String, activates_at: UnixTime },
}

/// Whether `info` may be retired at `now`: never the active key, a
/// superseded key only from its `retirable_at`, a pending key only while no
/// server can be signing with it yet (`reload_interval` is how long a
/// server may go before it sees the withdrawal).
pub fn check_retirable(
    info: &KeyInfo,
    now: UnixTime,
    reload_interval: i64,
) -> Result<(), RetireRefused> {
    let kid = info.kid.clone();
    match info.state {
        KeyState::Retired => Err(RetireRefused::AlreadyRetired(kid)),
        KeyState::Active => Err(RetireRefused::StillActive(kid)),
        // A pending key has signed nothing, so withdrawing it is safe, unless
        // it activates before every server has reloaded and seen it go.
        KeyState::Pending if info.activates_at <= now.saturating_add(reload_interval) => {
            Err(RetireRefused::ActivatesSoon {
                kid,
                activates_at: info.activates_at,
            })
        }
        KeyState::Pending => Ok(()),
        KeyState::Superseded => match info.retirable_at {
            Some(at) if at <= now => Ok(()),
            at => Err(RetireRefused::StillVerifying {
                kid,
                retirable_at: at.unwrap_or(UnixTime::MAX),
            }),
        },
    }
}

/// Whether `chain` is due for a scheduled rotation at `now`: its newest live
/// key (pending or not, so a rotation already under way is not repeated) was
/// created at least `interval` seconds ago, or it has no live key at all.
/// `keys` is a [`schedule`] (activation order).
pub fn rotation_due(keys: &[KeyInfo], chain: KeyChain<'_>, interval: i64, now: UnixTime) -> bool {
    keys.iter()
        .rfind(|k| k.state != KeyState::Retired && k.chain() == chain)
        .is_none_or(|k| k.created_at.saturating_add(interval) <= now)
}

/// The keys of a [`schedule`] that no live token needs any more: superseded
/// and past their `retirable_at`.
pub fn due_for_retirement(keys: &[KeyInfo], now: UnixTime) -> impl Iterator<Item = &KeyInfo> {
    keys.iter().filter(move |k| {
        k.state == KeyState::Superseded && k.retirable_at.is_some_and(|at| at <= now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        kid: &str,
        created_at: UnixTime,
        activates_at: UnixTime,
        retired_at: Option<UnixTime>,
    ) -> KeyRecord {
        KeyRecord {
            kid: kid.into(),
            algorithm: "ES256".into(),
            purpose: KeyPurpose::AccessToken,
            created_at,
            activates_at,
            retired_at,
        }
    }

    fn states(keys: &[KeyRecord], now: UnixTime) -> Vec<(String, KeyState, Option<UnixTime>)> {
        schedule(keys, now, 100)
            .into_iter()
            .map(|k| (k.kid, k.state, k.superseded_at))
            .collect()
    }

    fn s(
        kid: &str,
        state: KeyState,
        superseded_at: Option<UnixTime>,
    ) -> (String, KeyState, Option<UnixTime>) {
        (kid.into(), state, superseded_at)
    }

    #[test]
    fn a_pre_published_key_takes_over_at_its_activation_time() {
        use KeyState::*;
        let keys = [record("k1", 0, 0, None), record("k2", 1000, 4600, None)];
        assert_eq!(
            states(&keys, 4599),
            [s("k1", Active, None), s("k2", Pending, None)]
        );
        assert_eq!(
            states(&keys, 4600),
            [s("k1", Superseded, Some(4600)), s("k2", Active, None)]
        );
        let k1 = &schedule(&keys, 4600, 100)[0];
        assert_eq!(k1.retirable_at, Some(4700));
    }

    #[test]
    fn a_withdrawn_pending_key_supersedes_nothing() {
        use KeyState::*;
        let keys = [record("k1", 0, 0, None), record("k2", 10, 100, Some(50))];
        assert_eq!(
            states(&keys, 200),
            [s("k1", Active, None), s("k2", Retired, None)]
        );
    }

    #[test]
    fn supersession_is_when_the_next_live_key_activated() {
        use KeyState::*;
        // k2 signed from 100 to 200 and was retired; k1 counts as signing
        // until 200 (later than it did): the safe direction.
        let keys = [
            record("k1", 0, 0, None),
            record("k2", 50, 100, Some(900)),
            record("k3", 150, 200, None),
        ];
        assert_eq!(
            states(&keys, 1000),
            [
                s("k1", Superseded, Some(200)),
                s("k2", Retired, None),
                s("k3", Active, None)
            ]
        );
    }

    #[test]
    fn an_immediate_key_created_after_a_pending_one_signs_until_the_pending_one_activates() {
        use KeyState::*;
        let keys = [
            record("k1", 0, 0, None),
            record("pending", 100, 3700, None),
            record("now", 200, 200, None),
        ];
        assert_eq!(
            states(&keys, 300),
            [
                s("k1", Superseded, Some(200)),
                s("now", Active, None),
                s("pending", Pending, None)
            ]
        );
        assert_eq!(
            states(&keys, 3700),
            [
                s("k1", Superseded, Some(200)),
                s("now", Superseded, Some(3700)),
                s("pending", Active, None)
            ]
        );
    }

    #[test]
    fn of_two_keys_made_in_the_same_second_the_later_one_wins() {
        use KeyState::*;
        // As the store lists them: insertion order.
        let keys = [record("b", 5, 10, None), record("a", 5, 10, None)];
        assert_eq!(
            states(&keys, 10),
            [s("b", Superseded, Some(10)), s("a", Active, None)]
        );
        // An earlier activation still comes first whatever the insertion order.
        let keys = [record("b", 5, 20, None), record("a", 6, 10, None)];
        assert_eq!(
            states(&keys, 20),
            [s("a", Superseded, Some(20)), s("b", Active, None)]
        );
    }

    #[test]
    fn retirement_rules() {
        let keys = [
            record("old", 0, 0, None),
            record("cur", 100, 1000, None),
            record("next", 2000, 5000, None),
            record("gone", 0, 0, Some(10)),
        ];
        let at = |now: UnixTime, kid: &str| {
            let info = schedule(&keys, now, 600 + 30)
                .into_iter()
                .find(|k| k.kid == kid)
                .map(|k| check_retirable(&k, now, 30));
            info.map(|r| r.map_err(|e| e.to_string()))
        };
        // Superseded at 1000: retirable from 1000 + 600 + 30.
        assert!(matches!(at(1629, "old"), Some(Err(e)) if e.contains("can be retired from")));
        assert!(matches!(at(1630, "old"), Some(Ok(()))));
        assert!(matches!(at(1630, "cur"), Some(Err(e)) if e.contains("active signing key")));
        assert!(
            matches!(at(2000, "next"), Some(Ok(()))),
            "far from activation: withdrawn"
        );
        assert!(matches!(at(4970, "next"), Some(Err(e)) if e.contains("too soon")));
        assert!(matches!(at(1630, "gone"), Some(Err(e)) if e.contains("already retired")));
    }

    #[test]
    fn each_chain_rotates_when_its_newest_live_key_is_old_enough() {
        let mut id_rs = record("rs", 0, 0, None);
        id_rs.purpose = KeyPurpose::IdToken;
        id_rs.algorithm = "RS256".into();
        let keys = [
            record("k1", 0, 0, None),
            record("k2", 500, 4100, None),
            id_rs,
        ];
        let list = schedule(&keys, 1000, 100);
        let rs256 = KeyChain::IdToken { algorithm: "RS256" };
        let es256 = KeyChain::IdToken { algorithm: "ES256" };
        // The pending k2 is the newest: not due until it is `interval` old.
        assert!(!rotation_due(&list, KeyChain::AccessToken, 1000, 1000));
        assert!(rotation_due(&list, KeyChain::AccessToken, 500, 1000));
        assert!(rotation_due(&list, rs256, 1000, 1000));
        assert!(!rotation_due(&list, rs256, 1001, 1000));
        assert!(rotation_due(&list, es256, 1_000_000, 1000), "no key at all");
    }

    #[test]
    fn superseded_keys_are_due_for_retirement_from_their_retirable_time() {
        let keys = [record("k1", 0, 0, None), record("k2", 10, 100, None)];
        let list = schedule(&keys, 199, 100);
        assert_eq!(due_for_retirement(&list, 199).count(), 0);
        let list = schedule(&keys, 200, 100);
        let due: Vec<&str> = due_for_retirement(&list, 200)
            .map(|k| k.kid.as_str())
            .collect();
        assert_eq!(due, ["k1"]);
    }

    #[test]
    fn purposes_read_as_stored() {
        assert_eq!(KeyPurpose::from_stored("id_token"), KeyPurpose::IdToken);
        assert_eq!(
            KeyPurpose::from_stored("access_token"),
            KeyPurpose::AccessToken
        );
        assert!(KeyPurpose::IdToken == "id_token");
    }
}
