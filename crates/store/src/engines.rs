//! The engine registry: every engine process of the distributed mode upserts a row on a timer
//! (its stage, models, capacity and current load), so gateways on other machines can list the
//! engines (`GET /v1/engines`) and plan for the stages that have one. A row whose heartbeat
//! stopped belongs to a process that died; readers ask only for recent ones.
//! [`impl_engine_registry!`] writes the one implementation for each pool type.

use async_trait::async_trait;
use dalston_core::Stage;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::StoreError;
use crate::sql::corrupt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineRecord {
    /// Unique per process (`<host>-<pid>-<start ms>-<stage>`).
    pub id: String,
    pub stage: Stage,
    /// Models it serves (empty for stages without models).
    pub models: Vec<String>,
    /// Tasks it runs at once.
    pub capacity: u32,
    /// Tasks it is running now.
    pub active_tasks: u32,
    pub started_at_ms: i64,
    pub last_heartbeat_at_ms: i64,
}

#[async_trait]
pub trait EngineRegistry: Send + Sync + 'static {
    /// Inserts or refreshes the engine's row.
    async fn record_engine_heartbeat(&self, engine: &EngineRecord) -> Result<(), StoreError>;
    /// Engines that heartbeated at or after `since_ms`, by stage then id.
    async fn live_engines(&self, since_ms: i64) -> Result<Vec<EngineRecord>, StoreError>;
    /// Forgets an engine (a clean shutdown).
    async fn remove_engine(&self, id: &str) -> Result<(), StoreError>;
}

pub(crate) fn engine_from_row<R>(row: &R) -> Result<EngineRecord, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
{
    let stage: String = row.try_get("stage")?;
    let models: String = row.try_get("models")?;
    let capacity: i32 = row.try_get("capacity")?;
    let active: i32 = row.try_get("active_tasks")?;
    Ok(EngineRecord {
        id: row.try_get("id")?,
        stage: stage.parse().map_err(corrupt)?,
        models: serde_json::from_str(&models).map_err(corrupt)?,
        capacity: u32::try_from(capacity).unwrap_or(0),
        active_tasks: u32::try_from(active).unwrap_or(0),
        started_at_ms: row.try_get("started_at")?,
        last_heartbeat_at_ms: row.try_get("last_heartbeat_at")?,
    })
}

/// Implements [`EngineRegistry`] for a store type with a `pool` field.
macro_rules! impl_engine_registry {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::engines::EngineRegistry for $store {
            async fn record_engine_heartbeat(
                &self,
                engine: &$crate::engines::EngineRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO engines (id, stage, models, capacity, active_tasks, started_at, last_heartbeat_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
                     models = excluded.models, capacity = excluded.capacity, \
                     active_tasks = excluded.active_tasks, last_heartbeat_at = excluded.last_heartbeat_at",
                )
                .bind(&engine.id)
                .bind(engine.stage.as_str())
                .bind(serde_json::to_string(&engine.models).map_err($crate::sql::corrupt)?)
                .bind(i32::try_from(engine.capacity).unwrap_or(i32::MAX))
                .bind(i32::try_from(engine.active_tasks).unwrap_or(i32::MAX))
                .bind(engine.started_at_ms)
                .bind(engine.last_heartbeat_at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn live_engines(
                &self,
                since_ms: i64,
            ) -> Result<Vec<$crate::engines::EngineRecord>, $crate::StoreError> {
                let rows = sqlx::query(
                    "SELECT id, stage, models, capacity, active_tasks, started_at, last_heartbeat_at \
                     FROM engines WHERE last_heartbeat_at >= $1 ORDER BY stage, id",
                )
                .bind(since_ms)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map($crate::engines::engine_from_row).collect()
            }

            async fn remove_engine(&self, id: &str) -> Result<(), $crate::StoreError> {
                sqlx::query("DELETE FROM engines WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_engine_registry;
