//! The SQLite store: the default, embedded backend.
//!
//! WAL mode so readers never block the writer, `synchronous = FULL` so a
//! committed code or token survives a power cut, and `BEGIN IMMEDIATE` for
//! multi-statement writes so two writers never deadlock on a lock upgrade.
//! The statements themselves are shared with PostgreSQL (`shared.rs`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Pool, Sqlite};

use crate::StoreResult;
use crate::dialect::{Dialect, SqlStore};
use crate::schema::{self, Migrations};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The store on SQLite.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or
    /// `sqlite::memory:`) and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::open(url, Migrations::Apply).await
    }

    /// Opens the database at `url`; pending migrations are applied or
    /// refused as `migrations` says, and a schema newer than this binary is
    /// always refused.
    pub async fn open(url: &str, migrations: Migrations) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        let mut conn = pool.acquire().await?;
        schema::prepare(&MIGRATOR, &mut *conn, migrations).await?;
        drop(conn);
        Ok(Self { pool })
    }
}

impl Dialect for Sqlite {
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const SIGNING_KEYS: &'static str = "SELECT * FROM signing_keys ORDER BY rowid";
    const ROW_ID: &'static str = "rowid";

    fn rows_in(select: &str) -> String {
        format!("rowid IN ({select})")
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    /// One node only: any connection will do, no lock needed.
    async fn lock_housekeeping(pool: &Pool<Sqlite>) -> StoreResult<Option<PoolConnection<Sqlite>>> {
        Ok(Some(pool.acquire().await?))
    }

    async fn unlock_housekeeping(_conn: PoolConnection<Sqlite>) {}
}
