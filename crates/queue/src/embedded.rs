//! The embedded queue: rows in the SQLite file, leases as expiry timestamps.

use std::time::Duration;

use async_trait::async_trait;
use dalston_core::{JobId, Stage, TaskId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};
use tokio::sync::Notify;

use crate::{DeadLetter, Lease, QueueError, TaskMessage, TaskQueue};

/// Deliveries after which a message is dead-lettered, unless configured otherwise.
pub const DEFAULT_MAX_DELIVERIES: u32 = 5;

#[derive(Debug)]
pub struct EmbeddedQueue {
    pool: SqlitePool,
    notify: Notify,
    max_deliveries: u32,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn corrupt(what: impl std::fmt::Display) -> QueueError {
    QueueError::Corrupt(what.to_string())
}

fn message_from_row(row: &SqliteRow) -> Result<(TaskMessage, u32), QueueError> {
    let task_id: String = row.try_get("task_id")?;
    let job_id: String = row.try_get("job_id")?;
    let stage: String = row.try_get("stage")?;
    let deliveries: i64 = row.try_get("deliveries")?;
    let message = TaskMessage {
        task_id: TaskId::parse(&task_id).map_err(corrupt)?,
        job_id: JobId::parse(&job_id).map_err(corrupt)?,
        stage: stage.parse().map_err(corrupt)?,
        delay: Duration::ZERO,
    };
    Ok((message, u32::try_from(deliveries).unwrap_or(u32::MAX)))
}

impl EmbeddedQueue {
    /// A queue over the `queue_messages` table of an already migrated database.
    pub fn new(pool: SqlitePool, max_deliveries: u32) -> Self {
        Self {
            pool,
            notify: Notify::new(),
            max_deliveries: max_deliveries.max(1),
        }
    }

    /// Releases every lease. The embedded queue has one process as its only consumer, so at
    /// start-up any lease still held belongs to a previous run that died: its tasks can run again
    /// at once instead of waiting for the lease to expire.
    ///
    /// # Errors
    /// A database error.
    pub async fn release_all_leases(&self) -> Result<u64, QueueError> {
        let released = sqlx::query(
            "UPDATE queue_messages SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner IS NOT NULL",
        )
        .execute(&self.pool)
        .await?;
        Ok(released.rows_affected())
    }

    async fn dead_letter_exhausted(&self, now: i64) -> Result<(), QueueError> {
        let result = sqlx::query(
            "UPDATE queue_messages SET dead = 1, lease_owner = NULL, lease_expires_at = NULL \
             WHERE dead = 0 AND deliveries >= $1 AND lease_expires_at IS NOT NULL AND lease_expires_at <= $2",
        )
        .bind(i64::from(self.max_deliveries))
        .bind(now)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() > 0 {
            tracing::warn!(
                count = result.rows_affected(),
                "dead-lettered tasks whose workers kept dying"
            );
        }
        Ok(())
    }
}

#[async_trait]
impl TaskQueue for EmbeddedQueue {
    async fn enqueue(&self, message: TaskMessage) -> Result<(), QueueError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO queue_messages (task_id, job_id, stage, available_at, enqueued_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (task_id) DO NOTHING",
        )
        .bind(message.task_id.as_str())
        .bind(message.job_id.as_str())
        .bind(message.stage.as_str())
        .bind(now.saturating_add(millis(message.delay)))
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.notify.notify_waiters();
        Ok(())
    }

    async fn claim(
        &self,
        worker_id: &str,
        stages: &[Stage],
        lease_for: Duration,
    ) -> Result<Option<Lease>, QueueError> {
        if stages.is_empty() {
            return Ok(None);
        }
        let now = now_ms();
        self.dead_letter_exhausted(now).await?;
        let stage_names: Vec<&str> = stages.iter().map(|stage| stage.as_str()).collect();
        let stage_json = serde_json_array(&stage_names);
        // One statement: SQLite serialises writers, so two workers cannot claim the same row.
        let row = sqlx::query(
            "UPDATE queue_messages SET lease_owner = $1, lease_expires_at = $2, deliveries = deliveries + 1 \
             WHERE task_id = (SELECT task_id FROM queue_messages \
                 WHERE dead = 0 AND available_at <= $3 AND stage IN (SELECT value FROM json_each($4)) \
                 AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
                 ORDER BY available_at, enqueued_at LIMIT 1) \
             RETURNING task_id, job_id, stage, deliveries",
        )
        .bind(worker_id)
        .bind(now.saturating_add(millis(lease_for)))
        .bind(now)
        .bind(stage_json)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(|row| {
                let (message, deliveries) = message_from_row(row)?;
                Ok(Lease {
                    message,
                    worker_id: worker_id.to_owned(),
                    deliveries,
                })
            })
            .transpose()
    }

    async fn heartbeat(&self, lease: &Lease, extend_by: Duration) -> Result<bool, QueueError> {
        let result = sqlx::query(
            "UPDATE queue_messages SET lease_expires_at = $1 WHERE task_id = $2 AND lease_owner = $3 AND deliveries = $4",
        )
        .bind(now_ms().saturating_add(millis(extend_by)))
        .bind(lease.message.task_id.as_str())
        .bind(&lease.worker_id)
        .bind(i64::from(lease.deliveries))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn ack(&self, lease: &Lease) -> Result<(), QueueError> {
        sqlx::query("DELETE FROM queue_messages WHERE task_id = $1 AND lease_owner = $2 AND deliveries = $3")
            .bind(lease.message.task_id.as_str())
            .bind(&lease.worker_id)
            .bind(i64::from(lease.deliveries))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry(&self, lease: &Lease, delay: Duration) -> Result<(), QueueError> {
        // A retry is a new attempt decided by the runner, not a crash: reset the delivery count
        // so dead-lettering only counts deliveries lost to dying workers.
        sqlx::query(
            "UPDATE queue_messages SET lease_owner = NULL, lease_expires_at = NULL, available_at = $1, deliveries = 0 \
             WHERE task_id = $2 AND lease_owner = $3 AND deliveries = $4",
        )
        .bind(now_ms().saturating_add(millis(delay)))
        .bind(lease.message.task_id.as_str())
        .bind(&lease.worker_id)
        .bind(i64::from(lease.deliveries))
        .execute(&self.pool)
        .await?;
        self.notify.notify_waiters();
        Ok(())
    }

    async fn remove_job(&self, job_id: &JobId) -> Result<(), QueueError> {
        sqlx::query("DELETE FROM queue_messages WHERE job_id = $1")
            .bind(job_id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn take_dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError> {
        self.dead_letter_exhausted(now_ms()).await?;
        let rows = sqlx::query("DELETE FROM queue_messages WHERE dead = 1 RETURNING task_id, job_id, stage, deliveries")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let (message, deliveries) = message_from_row(row)?;
                Ok(DeadLetter {
                    task_id: message.task_id,
                    job_id: message.job_id,
                    stage: message.stage,
                    deliveries,
                })
            })
            .collect()
    }

    async fn depth(&self) -> Result<Vec<(Stage, u64)>, QueueError> {
        let rows = sqlx::query(
            "SELECT stage, COUNT(*) AS n FROM queue_messages WHERE dead = 0 AND lease_owner IS NULL GROUP BY stage",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut depth = Vec::new();
        for row in rows {
            let stage: String = row.try_get("stage")?;
            let n: i64 = row.try_get("n")?;
            depth.push((
                stage.parse().map_err(corrupt)?,
                u64::try_from(n).unwrap_or(0),
            ));
        }
        Ok(depth)
    }

    async fn wait_for_work(&self, _stages: &[Stage], timeout: Duration) {
        // Delayed retries and expired leases make work available without a notification, so
        // waiting is always bounded by `timeout`.
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }
}

/// A JSON array of plain identifiers (stage names), for `json_each`.
fn serde_json_array(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
    format!("[{}]", quoted.join(","))
}

#[cfg(test)]
mod tests;
