//! The distributed metadata store: PostgreSQL, shared by every gateway, orchestrator and engine.
//!
//! Many processes write concurrently; each status change is a single guarded `UPDATE` (a
//! compare-and-set on the expected statuses), and the one read-modify-write (adding warnings)
//! locks its row with `SELECT … FOR UPDATE`.

use sqlx::PgPool;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, SqlSafeStr};

use crate::StoreError;

/// The migrations of every PostgreSQL database Dalston opens; the same versions as
/// [`crate::sqlite::migrator`], built at run time for the same reason (no `macros` feature).
pub fn migrator() -> Migrator {
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "initial".into(),
            MigrationType::Simple,
            AssertSqlSafe(include_str!("../../migrations/postgres/0001_initial.sql"))
                .into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "webhooks".into(),
            MigrationType::Simple,
            AssertSqlSafe(include_str!("../../migrations/postgres/0002_webhooks.sql"))
                .into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "engines".into(),
            MigrationType::Simple,
            AssertSqlSafe(include_str!("../../migrations/postgres/0003_engines.sql"))
                .into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "realtime".into(),
            MigrationType::Simple,
            AssertSqlSafe(include_str!("../../migrations/postgres/0004_realtime.sql"))
                .into_sql_str(),
            false,
        ),
    ])
}

/// [`crate::MetadataStore`] on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and
    /// applies migrations. The database must exist.
    ///
    /// # Errors
    /// When the server cannot be reached or refuses the login (the error names the URL with its
    /// password hidden), or a migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact_password(url),
                source,
            })?;
        migrator().run(&pool).await.map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }

    /// The pool, for callers that keep their own tables in the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// `url` with the password of its user info replaced by `***`, fit for errors and logs (any
/// URL with user info: PostgreSQL, Redis).
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match user_info.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn passwords_are_hidden_and_the_rest_is_kept() {
        assert_eq!(
            redact_password("postgres://dalston:s3cr@t@db:5432/dalston?sslmode=disable"),
            "postgres://dalston:***@db:5432/dalston?sslmode=disable"
        );
        assert_eq!(
            redact_password("postgres://dalston@db/dalston"),
            "postgres://dalston@db/dalston"
        );
        assert_eq!(
            redact_password("postgres:///dalston"),
            "postgres:///dalston"
        );
    }
}

crate::webhooks::impl_webhook_store!(PgStore);
crate::engines::impl_engine_registry!(PgStore);
crate::realtime::impl_realtime_store!(PgStore);

crate::metadata_sql::impl_metadata_store!(PgStore, sqlx::PgPool, " FOR UPDATE");
