//! Which database a test server runs on: SQLite in the test's temp dir, or a
//! PostgreSQL schema of its own that is dropped when the test ends.

use std::path::Path;
use std::sync::Arc;

use tessera_store::{SqliteStore, Store};

use super::app::TestApp;

/// Which store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// SQLite, unless `TESSERA_TEST_BACKEND=postgres` asks for the whole
    /// suite on PostgreSQL (then `TESSERA_TEST_POSTGRES_URL` is required).
    pub fn from_env() -> Self {
        match std::env::var("TESSERA_TEST_BACKEND").as_deref() {
            Ok("postgres") => {
                assert!(
                    postgres_url().is_some(),
                    "TESSERA_TEST_BACKEND=postgres needs TESSERA_TEST_POSTGRES_URL"
                );
                Self::Postgres
            }
            _ => Self::Sqlite,
        }
    }

    /// Whether this backend can run here: PostgreSQL needs
    /// `TESSERA_TEST_POSTGRES_URL`.
    pub fn available(self) -> bool {
        self == Self::Sqlite || postgres_url().is_some()
    }

    /// A fresh, migrated store: `tessera.db` in `dir`, or a new PostgreSQL
    /// schema (with the guard that drops it).
    pub(super) async fn open(self, dir: &Path) -> (Arc<dyn Store>, Option<DropSchema>) {
        match self {
            Self::Sqlite => (Arc::new(sqlite_store(dir).await), None),
            Self::Postgres => {
                let url = postgres_url().expect("checked before the server starts");
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_nanos();
                let schema = format!("it_{}_{nanos}", std::process::id());
                let guard = DropSchema {
                    url: url.clone(),
                    schema: schema.clone(),
                };
                let options = tessera_store::PostgresOptions {
                    // A schema of its own: the tests run in parallel.
                    schema: Some(schema),
                    connect_attempts: 3,
                    connect_retry_delay: std::time::Duration::from_millis(300),
                    ..tessera_store::PostgresOptions::new(url)
                };
                let store = tessera_store::PostgresStore::connect(&options)
                    .await
                    .expect("TESSERA_TEST_POSTGRES_URL is set but PostgreSQL is not usable");
                (Arc::new(store), Some(guard))
            }
        }
    }
}

/// The PostgreSQL database of the tests, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("TESSERA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

async fn sqlite_store(dir: &Path) -> SqliteStore {
    let url = format!("sqlite://{}", dir.join("tessera.db").display());
    SqliteStore::connect(&url).await.expect("store")
}

/// Drops a test's PostgreSQL schema when the test ends (on a thread and
/// connection of its own: the test's runtime is going away).
pub struct DropSchema {
    pub url: String,
    pub schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection as _;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test schema {}", self.schema);
        }
    }
}

impl TestApp {
    /// A second, independent connection to this server's database, as
    /// another process (the CLI, another node) would open it.
    pub async fn second_store(&self) -> Arc<dyn Store> {
        match &self.schema {
            None => Arc::new(sqlite_store(self.data_dir()).await),
            Some(pg) => {
                let options = tessera_store::PostgresOptions {
                    schema: Some(pg.schema.clone()),
                    ..tessera_store::PostgresOptions::new(pg.url.clone())
                };
                Arc::new(
                    tessera_store::PostgresStore::connect(&options)
                        .await
                        .expect("second store"),
                )
            }
        }
    }

    /// The directory holding the SQLite database (`tessera.db` and its WAL).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}
