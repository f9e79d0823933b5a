//! Choosing the backend from the configured `database` URL.

use std::sync::Arc;

use crate::{
    Migrations, PostgresOptions, PostgresStore, SqliteStore, Store, StoreError, StoreResult,
};

/// Which backend a `database` URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(database: &str) -> Option<Self> {
        if database.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if database.starts_with("postgres://") || database.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// Opens the store `database` names: `sqlite://path` or
/// `postgres://…` (then `postgres` gives the pool and retry settings; its
/// `url` is replaced by `database`).
pub async fn open(
    database: &str,
    migrations: Migrations,
    postgres: PostgresOptions,
) -> StoreResult<Arc<dyn Store>> {
    match Backend::of(database) {
        Some(Backend::Sqlite) => Ok(Arc::new(SqliteStore::open(database, migrations).await?)),
        Some(Backend::Postgres) => {
            let options = PostgresOptions {
                url: database.to_owned(),
                migrations,
                ..postgres
            };
            Ok(Arc::new(PostgresStore::connect(&options).await?))
        }
        None => Err(StoreError::InvalidOption(
            "the database must be a sqlite:// or postgres:// URL".into(),
        )),
    }
}
