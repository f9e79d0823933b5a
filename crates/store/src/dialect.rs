//! The one SQL store both databases share, and the little that differs.
//!
//! The store's statements are the same text in SQLite and PostgreSQL: `$n`
//! placeholders (sqlx's SQLite driver binds `$n` to the n-th argument, as
//! PostgreSQL does), `ON CONFLICT`, `RETURNING`, the same column types on
//! the Rust side. So [`SqlStore`] implements [`Store`](crate::Store) once
//! (in `shared.rs`) for any [`Dialect`], and a backend says only what really
//! differs: how a write transaction begins, which column keeps signing keys
//! in insertion order, how housekeeping addresses physical rows and keeps
//! to one node at a time.

use std::future::Future;

use sqlx::pool::PoolConnection;
use sqlx::{Database, IntoArguments, Pool};

use crate::StoreResult;

/// A store on the database `DB`: [`SqliteStore`](crate::SqliteStore) or
/// [`PostgresStore`](crate::PostgresStore).
#[derive(Debug)]
pub struct SqlStore<DB: Database> {
    pub(crate) pool: Pool<DB>,
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
        }
    }
}

impl<DB: Database> SqlStore<DB> {
    /// The pool, for tests and maintenance that need plain SQL.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

/// A statement with its arguments bound, ready to run on a pool or in a
/// transaction.
pub(crate) type Query<DB> = sqlx::query::Query<'static, DB, <DB as Database>::Arguments>;

/// What differs between the databases behind [`SqlStore`].
pub trait Dialect: Database<Arguments: IntoArguments<Self>> {
    /// Starts every multi-statement write.
    const BEGIN: &'static str;
    /// Every signing key, in insertion order.
    const SIGNING_KEYS: &'static str;
    /// The physical row id housekeeping deletes by, a batch at a time.
    const ROW_ID: &'static str;

    /// The condition "the row is one of those `select` lists", by `ROW_ID`.
    fn rows_in(select: &str) -> String;

    /// How many rows a statement changed.
    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// The connection housekeeping runs on, or `None` when another node is
    /// purging right now.
    fn lock_housekeeping(
        pool: &Pool<Self>,
    ) -> impl Future<Output = StoreResult<Option<PoolConnection<Self>>>> + Send;

    /// Releases what [`lock_housekeeping`](Dialect::lock_housekeeping) took.
    fn unlock_housekeeping(conn: PoolConnection<Self>) -> impl Future<Output = ()> + Send;
}
