//! The photo database (SQLite, separate from the authorization server's).

use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};
use tessera_runtime::{RandomnessFailed, SystemRandomness};

use crate::images;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum PhotoStoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Randomness(#[from] RandomnessFailed),
}

/// A photo's description, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PhotoInfo {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct PhotoStore {
    pool: SqlitePool,
}

impl PhotoStore {
    pub async fn connect(url: &str) -> Result<Self, PhotoStoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Gives a subject seen for the first time their sample photos, once.
    pub async fn seed_if_new(&self, owner: &str, now: i64) -> Result<(), PhotoStoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let fresh =
            sqlx::query("INSERT INTO seeded_owners (owner) VALUES (?) ON CONFLICT DO NOTHING")
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        if fresh {
            let seed = owner
                .bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
            for (i, (name, bytes)) in images::samples(seed).into_iter().enumerate() {
                sqlx::query(
                    "INSERT INTO photos (id, owner, name, content_type, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(new_id()?)
                .bind(owner)
                .bind(name)
                .bind("image/svg+xml")
                .bind(bytes)
                .bind(now + i as i64)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn list(&self, owner: &str) -> Result<Vec<PhotoInfo>, PhotoStoreError> {
        let rows = sqlx::query(
            "SELECT id, name, content_type, length(bytes) AS size, created_at FROM photos \
             WHERE owner = ? ORDER BY created_at, id",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PhotoInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    content_type: r.try_get("content_type")?,
                    size: r.try_get("size")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// A photo's type and bytes, only if `owner` owns it.
    pub async fn get(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<Option<(String, Vec<u8>)>, PhotoStoreError> {
        let row = sqlx::query("SELECT content_type, bytes FROM photos WHERE owner = ? AND id = ?")
            .bind(owner)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("content_type")?, r.try_get("bytes")?)),
            None => None,
        })
    }

    /// Stores a photo in one statement: nothing is half-written.
    pub async fn insert(
        &self,
        owner: &str,
        name: &str,
        content_type: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<PhotoInfo, PhotoStoreError> {
        let id = new_id()?;
        sqlx::query("INSERT INTO photos (id, owner, name, content_type, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&id)
            .bind(owner)
            .bind(name)
            .bind(content_type)
            .bind(bytes)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(PhotoInfo {
            id,
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            size: bytes.len() as i64,
            created_at: now,
        })
    }

    /// Deletes a photo only if `owner` owns it.
    pub async fn delete(&self, owner: &str, id: &str) -> Result<bool, PhotoStoreError> {
        let done = sqlx::query("DELETE FROM photos WHERE owner = ? AND id = ?")
            .bind(owner)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// A random photo id: 96 bits, base64url. Ids only need to be unique, not
/// secret (access is checked by owner), but a failing system random number
/// generator is an error (a 503), not a reason to make them up from the time.
fn new_id() -> Result<String, PhotoStoreError> {
    let mut bytes = [0u8; 12];
    SystemRandomness.fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
