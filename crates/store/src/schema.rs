//! Schema versions: a binary serves only a database whose applied migrations
//! are exactly the ones it knows.
//!
//! A migration the binary does not know means a newer release has been
//! there: its code may rely on columns or rules this binary would break, so
//! it refuses to start rather than guess. Pending migrations are applied, or,
//! when the operator asked to migrate separately (`--no-migrate`), refused.

use sqlx::migrate::{Migrate, MigrateError, Migrator};

use crate::{StoreError, StoreResult};

/// sqlx's bookkeeping table (its default name).
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// What to do with migrations the database lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Migrations {
    /// Apply them (the default: `tessera serve`, `tessera migrate`).
    #[default]
    Apply,
    /// Refuse to open the database until they are applied elsewhere.
    Verify,
}

/// Checks the applied migrations against `migrator`, then applies the
/// pending ones or refuses, as `mode` says.
pub(crate) async fn prepare<C: Migrate>(
    migrator: &Migrator,
    conn: &mut C,
    mode: Migrations,
) -> StoreResult<()> {
    let listed = match mode {
        Migrations::Apply => {
            conn.ensure_migrations_table(MIGRATIONS_TABLE).await?;
            conn.list_applied_migrations(MIGRATIONS_TABLE).await?
        }
        // Verifying writes nothing (the role may be read-only for DDL): a
        // missing bookkeeping table, which the database reports as an error,
        // means nothing was ever applied.
        Migrations::Verify => match conn.list_applied_migrations(MIGRATIONS_TABLE).await {
            Ok(listed) => listed,
            Err(MigrateError::Execute(sqlx::Error::Database(_))) => Vec::new(),
            Err(e) => return Err(e.into()),
        },
    };
    let applied: Vec<i64> = listed.into_iter().map(|m| m.version).collect();
    let unknown: Vec<i64> = applied
        .iter()
        .copied()
        .filter(|v| !migrator.version_exists(*v))
        .collect();
    if !unknown.is_empty() {
        return Err(StoreError::SchemaNewer(unknown));
    }
    let pending: Vec<i64> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .map(|m| m.version)
        .collect();
    match mode {
        _ if pending.is_empty() => Ok(()),
        Migrations::Verify => Err(StoreError::SchemaOlder(pending)),
        // sqlx takes a lock (an advisory lock on PostgreSQL) and looks again,
        // so two nodes starting together apply each migration once.
        Migrations::Apply => Ok(migrator.run_direct(None, conn, false).await?),
    }
}
