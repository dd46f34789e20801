//! The embedded metadata store: one SQLite file (WAL mode) in the data dir.
//!
//! SQLite has a single writer; every write here is one short statement or transaction, and the
//! pool's busy timeout absorbs contention between the gateway, orchestrator and engine tasks of
//! one process.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlitePool};

use crate::StoreError;

/// The migrations shared by every SQLite database Dalston opens.
///
/// Built at run time from files embedded with `include_str!` rather than with `sqlx::migrate!`:
/// the macro needs sqlx's `macros` feature, which compiles a second copy of sqlx and SQLite for the
/// host and costs minutes of build on two cores.
pub fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "initial".into(),
            MigrationType::Simple,
            AssertSqlSafe(include_str!("../../migrations/sqlite/0001_initial.sql")).into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "webhooks".into(),
            MigrationType::Simple,
            AssertSqlSafe(include_str!("../../migrations/sqlite/0002_webhooks.sql")).into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "engines".into(),
            MigrationType::Simple,
            AssertSqlSafe(include_str!("../../migrations/sqlite/0003_engines.sql")).into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "realtime".into(),
            MigrationType::Simple,
            AssertSqlSafe(include_str!("../../migrations/sqlite/0004_realtime.sql")).into_sql_str(),
            false,
        ),
    ])
}

/// [`crate::MetadataStore`] on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path`) and applies migrations.
    ///
    /// # Errors
    /// When the file cannot be opened or a migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let connect_error = |source| StoreError::Connect {
            url: url.to_owned(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(connect_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        migrator().run(&pool).await.map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }

    /// The pool, shared with the embedded task queue which keeps its table in the same file.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

crate::webhooks::impl_webhook_store!(SqliteStore);
crate::engines::impl_engine_registry!(SqliteStore);
crate::realtime::impl_realtime_store!(SqliteStore);

crate::metadata_sql::impl_metadata_store!(SqliteStore, sqlx::SqlitePool, "");
