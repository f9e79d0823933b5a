//! Fresh databases for the store tests: a SQLite file in a temp dir, or a
//! new schema in the PostgreSQL database of `TESSERA_TEST_POSTGRES_URL`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tessera_store::{PostgresOptions, PostgresStore, SqliteStore, Store};

pub const POSTGRES_URL_VAR: &str = "TESSERA_TEST_POSTGRES_URL";

pub struct Sqlite {
    _dir: tempfile::TempDir,
    pub url: String,
    pub store: Arc<dyn Store>,
}

impl Sqlite {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
        Self {
            _dir: dir,
            url,
            store,
        }
    }
}

/// The PostgreSQL URL, or `None` (after saying so) when the suite is not to
/// run here.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("PostgreSQL suite not run: set {POSTGRES_URL_VAR}");
            None
        }
    }
}

/// A schema name no other test (in this run or a concurrent one) uses.
pub fn unique_schema(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let short: String = test.chars().take(30).collect();
    format!(
        "t_{short}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Options for a test schema: few retries, so an unreachable server fails
/// the test quickly instead of hanging it.
pub fn options(url: &str, schema: &str) -> PostgresOptions {
    PostgresOptions {
        schema: Some(schema.to_owned()),
        connect_attempts: 3,
        connect_retry_delay: Duration::from_millis(300),
        max_connections: 8,
        ..PostgresOptions::new(url)
    }
}

pub struct Postgres {
    pub pg: PostgresStore,
    pub store: Arc<dyn Store>,
    pub schema: String,
}

impl Postgres {
    pub async fn new(test: &str) -> Option<Self> {
        let url = postgres_url()?;
        let schema = unique_schema(test);
        let pg = PostgresStore::connect(&options(&url, &schema))
            .await
            .unwrap_or_else(|e| {
                panic!("{POSTGRES_URL_VAR} is set but PostgreSQL is not usable: {e}")
            });
        Some(Self {
            store: Arc::new(pg.clone()),
            pg,
            schema,
        })
    }

    /// Removes the test's schema (left behind if the test failed, to look at).
    pub async fn drop_schema(self) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{}\" CASCADE",
            self.schema
        )))
        .execute(self.pg.pool())
        .await
        .unwrap();
    }
}
