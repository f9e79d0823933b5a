//! Housekeeping: which rows are dead, shared by both backends. Each backend
//! wraps these conditions in its own batched statement (SQLite by `rowid`,
//! PostgreSQL by `ctid`), so one statement never locks more than a batch.

use crate::PurgeReport;

/// Which counter of the report a statement adds to.
pub(crate) type Counter = fn(&mut PurgeReport) -> &mut u64;

/// One kind of dead row: the table, the condition (with `{now}` for the
/// current time), and the counter it adds to.
pub(crate) struct Dead {
    pub table: &'static str,
    pub condition: &'static str,
    pub counter: Counter,
}

/// Retry copies whose window has passed are wiped (the row stays: it still
/// detects reuse); every other entry is deleted.
pub(crate) const RETRY_COPIES: Dead = Dead {
    table: "refresh_tokens",
    condition: "retry_sealed IS NOT NULL AND retry_until <= {now}",
    counter: |r| &mut r.retry_copies,
};

/// Expired rows. Expiry is the same rule the reads apply (`expires_at >
/// now` is live), so nothing still usable goes. A rotated refresh token
/// stays until its own expiry, so a replay detects reuse until then.
pub(crate) const EXPIRED: [Dead; 5] = [
    Dead {
        table: "authorization_codes",
        condition: "expires_at <= {now}",
        counter: |r| &mut r.codes,
    },
    Dead {
        table: "refresh_tokens",
        condition: "(idle_expires_at <= {now} OR absolute_expires_at <= {now})",
        counter: |r| &mut r.refresh_tokens,
    },
    // Access tokens, revoked ones (the deny list) included: an expired
    // token is refused for its expiry alone.
    Dead {
        table: "access_tokens",
        condition: "expires_at <= {now}",
        counter: |r| &mut r.access_tokens,
    },
    Dead {
        table: "sessions",
        condition: "expires_at <= {now}",
        counter: |r| &mut r.sessions,
    },
    Dead {
        table: "authorization_requests",
        condition: "expires_at <= {now}",
        counter: |r| &mut r.authorization_requests,
    },
];

/// The statement wiping retry copies, then one deleting statement per kind
/// of expired row, with `row_id` the backend's physical row id and `now` /
/// `limit` its placeholders.
pub(crate) fn statements(
    row_id: &str,
    now: &str,
    limit: &str,
    delete_in: impl Fn(&str, &str) -> String,
) -> Vec<(String, Counter)> {
    let select = |d: &Dead| {
        format!(
            "SELECT {row_id} FROM {} WHERE {} LIMIT {limit}",
            d.table,
            d.condition.replace("{now}", now)
        )
    };
    let mut out = vec![(
        format!(
            "UPDATE refresh_tokens SET retry_sealed = NULL, retry_until = NULL WHERE {}",
            delete_in(row_id, &select(&RETRY_COPIES))
        ),
        RETRY_COPIES.counter,
    )];
    for d in &EXPIRED {
        out.push((
            format!(
                "DELETE FROM {} WHERE {}",
                d.table,
                delete_in(row_id, &select(d))
            ),
            d.counter,
        ));
    }
    out
}
