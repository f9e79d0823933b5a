//! Every table's row count, read over a connection of its own, so a test
//! can say "nothing was written" (issue 13 item 5) on either backend.

use std::collections::BTreeMap;

use sqlx::{Connection as _, Row as _};

use super::app::TestApp;

impl TestApp {
    /// Each table of this server's database (migrations' own bookkeeping
    /// aside) and how many rows it holds.
    pub async fn row_counts(&self) -> BTreeMap<String, i64> {
        let mut counts = BTreeMap::new();
        match &self.schema {
            None => {
                let url = format!("sqlite://{}", self.data_dir().join("tessera.db").display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("sqlite");
                let tables: Vec<String> = sqlx::query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
                )
                .fetch_all(&mut conn)
                .await
                .expect("tables")
                .iter()
                .map(|r| r.get(0))
                .collect();
                for table in tables {
                    let sql = format!("SELECT COUNT(*) FROM \"{table}\"");
                    let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .fetch_one(&mut conn)
                        .await
                        .expect("count")
                        .get(0);
                    counts.insert(table, n);
                }
            }
            Some(pg) => {
                let mut conn = sqlx::PgConnection::connect(&pg.url)
                    .await
                    .expect("postgres");
                let tables: Vec<String> = sqlx::query(
                    "SELECT table_name::TEXT FROM information_schema.tables \
                     WHERE table_schema = $1 AND table_type = 'BASE TABLE' \
                     AND table_name <> '_sqlx_migrations'",
                )
                .bind(&pg.schema)
                .fetch_all(&mut conn)
                .await
                .expect("tables")
                .iter()
                .map(|r| r.get(0))
                .collect();
                for table in tables {
                    let sql = format!("SELECT COUNT(*) FROM \"{}\".\"{table}\"", pg.schema);
                    let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .fetch_one(&mut conn)
                        .await
                        .expect("count")
                        .get(0);
                    counts.insert(table, n);
                }
            }
        }
        assert!(!counts.is_empty(), "the database has tables");
        counts
    }
}
