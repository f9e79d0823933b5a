//! The PostgreSQL store: several Tessera nodes share one database.
//!
//! Connecting (with retries, a statement timeout and an optional schema) and
//! keeping housekeeping to one node by an advisory lock are PostgreSQL's
//! own; the statements are shared with SQLite (`shared.rs`), and single use
//! holds across nodes because the database decides it (see there).

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult};
use sqlx::{Connection as _, PgConnection, Pool, Postgres};

use crate::dialect::{Dialect, SqlStore};
use crate::schema::{self, Migrations};
use crate::{StoreError, StoreResult};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory-lock key of housekeeping, per schema: whichever node of a
/// deployment holds it purges, the others skip their turn, and deployments
/// in other schemas of the same database are not held up (advisory locks
/// are database-wide).
const HOUSEKEEPING_LOCK_KEY: &str =
    "hashtextextended('tessera housekeeping ' || current_schema(), 0)";

/// How to reach the database and how hard to try.
#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database`. May hold a password:
    /// never logged, never in an error.
    pub url: String,
    /// Connections this node keeps at most. Every node has its own pool, so
    /// the sum over nodes must stay under the server's `max_connections`.
    pub max_connections: u32,
    /// How long one statement may run before the server cancels it, so a
    /// stuck query turns into a 503 instead of a hung request.
    pub statement_timeout: Duration,
    /// How long a request waits for a free connection.
    pub acquire_timeout: Duration,
    /// Attempts to reach the database at start before giving up (at least 1).
    pub connect_attempts: u32,
    /// The pause between two attempts.
    pub connect_retry_delay: Duration,
    /// A schema to work in (created if missing) instead of the user's
    /// default `search_path`: lets tests, or several deployments, share one
    /// database. Letters, digits and `_` only.
    pub schema: Option<String>,
    pub migrations: Migrations,
}

impl PostgresOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            statement_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(10),
            connect_attempts: 5,
            connect_retry_delay: Duration::from_secs(2),
            schema: None,
            migrations: Migrations::Apply,
        }
    }
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("max_connections", &self.max_connections)
            .field("statement_timeout", &self.statement_timeout)
            .field("connect_attempts", &self.connect_attempts)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// The store on PostgreSQL.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects (retrying as `options` say), then checks the schema version
    /// and applies or refuses pending migrations.
    pub async fn connect(options: &PostgresOptions) -> StoreResult<Self> {
        // The parse error could quote the URL, password included: say only
        // what is wrong in general.
        let mut connect = PgConnectOptions::from_str(&options.url)
            .map_err(|_| StoreError::InvalidOption("the PostgreSQL URL cannot be parsed".into()))?;
        let mut params = vec![(
            "statement_timeout",
            options.statement_timeout.as_millis().to_string(),
        )];
        if let Some(schema) = &options.schema {
            if schema.is_empty()
                || !schema
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(StoreError::InvalidOption(
                    "a PostgreSQL schema name is letters, digits and `_` only".into(),
                ));
            }
            params.push(("search_path", schema.clone()));
        }
        connect = connect.options(params);
        let attempts = options.connect_attempts.max(1);
        let mut attempt = 0;
        // One plain connection per attempt: the pool would itself retry a
        // refused connection until its acquire timeout, hiding the count.
        loop {
            attempt += 1;
            match PgConnection::connect_with(&connect).await {
                Ok(conn) => {
                    let _ = conn.close().await;
                    break;
                }
                Err(e) if attempt < attempts => {
                    tracing::warn!(attempt, attempts, error = %e, "PostgreSQL not reachable yet; retrying");
                    tokio::time::sleep(options.connect_retry_delay).await;
                }
                Err(e) => {
                    return Err(StoreError::Unreachable {
                        attempts,
                        source: e,
                    });
                }
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        if let Some(schema) = &options.schema {
            // Checked above to be a plain identifier.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
            )))
            .execute(&pool)
            .await?;
        }
        let mut conn = pool.acquire().await?;
        schema::prepare(&MIGRATOR, &mut *conn, options.migrations).await?;
        drop(conn);
        Ok(Self { pool })
    }
}

impl Dialect for Postgres {
    const BEGIN: &'static str = "BEGIN";
    const SIGNING_KEYS: &'static str = "SELECT * FROM signing_keys ORDER BY seq";
    const ROW_ID: &'static str = "ctid";

    fn rows_in(select: &str) -> String {
        format!("ctid = ANY(ARRAY({select}))")
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    /// A session-level advisory lock: one node purges at a time, and a node
    /// that dies mid-way releases it with its connection.
    async fn lock_housekeeping(
        pool: &Pool<Postgres>,
    ) -> StoreResult<Option<PoolConnection<Postgres>>> {
        let mut conn = pool.acquire().await?;
        let locked: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT pg_try_advisory_lock({HOUSEKEEPING_LOCK_KEY})"
        )))
        .fetch_one(&mut *conn)
        .await?;
        Ok(locked.then_some(conn))
    }

    async fn unlock_housekeeping(mut conn: PoolConnection<Postgres>) {
        let unlocked = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT pg_advisory_unlock({HOUSEKEEPING_LOCK_KEY})"
        )))
        .execute(&mut *conn)
        .await;
        if unlocked.is_err() {
            // Never hand a connection that may still hold the lock back to
            // the pool: closing it releases the lock.
            conn.close_on_drop();
        }
    }
}
