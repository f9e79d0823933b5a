//! Failed logins per throttle key, for the login throttle: read while they
//! count, and counted by one `INSERT … ON CONFLICT DO UPDATE … RETURNING`,
//! so concurrent failures (on one node or several sharing PostgreSQL) each
//! add exactly one and never overwrite each other.

use sqlx::{ColumnIndex, Decode, Encode, Executor, Row, Type};
use tessera_core::UnixTime;

use crate::dialect::{Dialect, SqlStore};
use crate::{LoginFailures, StoreError, StoreResult};

/// Decodes a `login_failures` row.
fn decode<DB: Dialect>(row: &DB::Row) -> StoreResult<LoginFailures>
where
    for<'a> &'a str: ColumnIndex<DB::Row>,
    for<'a> i64: Decode<'a, DB> + Type<DB>,
{
    let failures: i64 = row.try_get("failures")?;
    Ok(LoginFailures {
        failures: u32::try_from(failures)
            .map_err(|_| StoreError::Corrupt(format!("failed-login count {failures}")))?,
        last_failure_at: row.try_get("last_failure_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

impl<DB: Dialect> SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
{
    pub(crate) async fn failures_of(
        &self,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<LoginFailures>> {
        sqlx::query(
            "SELECT failures, last_failure_at, expires_at FROM login_failures \
             WHERE throttle_key = $1 AND expires_at > $2",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(decode::<DB>)
        .transpose()
    }

    /// An expired count starts again at one; `last_failure_at` never moves
    /// back (nodes' clocks may differ by a little).
    pub(crate) async fn count_failure(
        &self,
        key: &str,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<LoginFailures> {
        let row = sqlx::query(
            "INSERT INTO login_failures (throttle_key, failures, last_failure_at, expires_at) \
             VALUES ($1, 1, $2, $3) \
             ON CONFLICT (throttle_key) DO UPDATE SET \
               failures = CASE WHEN login_failures.expires_at <= $2 THEN 1 \
                               ELSE login_failures.failures + 1 END, \
               last_failure_at = CASE WHEN login_failures.last_failure_at > $2 \
                               THEN login_failures.last_failure_at ELSE $2 END, \
               expires_at = CASE WHEN login_failures.expires_at > $3 \
                               AND login_failures.expires_at > $2 \
                               THEN login_failures.expires_at ELSE $3 END \
             RETURNING failures, last_failure_at, expires_at",
        )
        .bind(key)
        .bind(now)
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await?;
        decode::<DB>(&row)
    }
}
