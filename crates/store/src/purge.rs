//! Housekeeping: which rows are dead, shared by both backends, and the
//! batches that delete them. Each backend addresses the rows of a batch by
//! its own physical row id (SQLite `rowid`, PostgreSQL `ctid`), so one
//! statement never locks more than a batch.

use sqlx::{Encode, Executor, Type};
use tessera_core::UnixTime;

use crate::dialect::Dialect;
use crate::{PurgeReport, StoreResult};

/// Which counter of the report a statement adds to.
type Counter = fn(&mut PurgeReport) -> &mut u64;

/// One kind of dead row: the table, the condition (with `$1` for the
/// current time), and the counter it adds to.
struct Dead {
    table: &'static str,
    condition: &'static str,
    counter: Counter,
}

/// Retry copies whose window has passed are wiped (the row stays: it still
/// detects reuse); every other entry is deleted.
const RETRY_COPIES: Dead = Dead {
    table: "refresh_tokens",
    condition: "retry_sealed IS NOT NULL AND retry_until <= $1",
    counter: |r| &mut r.retry_copies,
};

/// Expired rows. Expiry is the same rule the reads apply (`expires_at >
/// now` is live), so nothing still usable goes. A rotated refresh token
/// stays until its own expiry, so a replay detects reuse until then.
const EXPIRED: [Dead; 6] = [
    Dead {
        table: "authorization_codes",
        condition: "expires_at <= $1",
        counter: |r| &mut r.codes,
    },
    Dead {
        table: "refresh_tokens",
        condition: "(idle_expires_at <= $1 OR absolute_expires_at <= $1)",
        counter: |r| &mut r.refresh_tokens,
    },
    // Access tokens, revoked ones (the deny list) included: an expired
    // token is refused for its expiry alone.
    Dead {
        table: "access_tokens",
        condition: "expires_at <= $1",
        counter: |r| &mut r.access_tokens,
    },
    Dead {
        table: "sessions",
        condition: "expires_at <= $1",
        counter: |r| &mut r.sessions,
    },
    Dead {
        table: "authorization_requests",
        condition: "expires_at <= $1",
        counter: |r| &mut r.authorization_requests,
    },
    // Failed-login counts past their window: the next failure would start
    // a new count anyway, and no delay or lockout outlasts the window.
    Dead {
        table: "login_failures",
        condition: "expires_at <= $1",
        counter: |r| &mut r.login_failures,
    },
];

/// The statement wiping retry copies, then one deleting statement per kind
/// of expired row, each on at most `$2` rows.
fn statements<DB: Dialect>() -> Vec<(String, Counter)> {
    let select = |d: &Dead| {
        format!(
            "SELECT {} FROM {} WHERE {} LIMIT $2",
            DB::ROW_ID,
            d.table,
            d.condition
        )
    };
    let mut out = vec![(
        format!(
            "UPDATE refresh_tokens SET retry_sealed = NULL, retry_until = NULL WHERE {}",
            DB::rows_in(&select(&RETRY_COPIES))
        ),
        RETRY_COPIES.counter,
    )];
    for d in &EXPIRED {
        out.push((
            format!("DELETE FROM {} WHERE {}", d.table, DB::rows_in(&select(d))),
            d.counter,
        ));
    }
    out
}

/// Runs every statement on `conn`, a batch at a time, until none is left.
pub(crate) async fn batches<DB: Dialect>(
    conn: &mut DB::Connection,
    now: UnixTime,
    batch: u32,
) -> StoreResult<PurgeReport>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
{
    let mut report = PurgeReport::default();
    for (sql, counter) in statements::<DB>() {
        loop {
            let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(now)
                .bind(i64::from(batch))
                .execute(&mut *conn)
                .await?;
            let done = DB::rows_affected(&done);
            *counter(&mut report) += done;
            if done < u64::from(batch) {
                break;
            }
        }
    }
    Ok(report)
}
