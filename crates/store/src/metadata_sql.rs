//! The metadata store's SQL, written once for both backends.
//!
//! The statements are portable (`$n` placeholders, the shared schema), but sqlx's query results
//! are not generic over the database (no backend-neutral `rows_affected`), so
//! [`impl_metadata_store!`] expands the same code for each pool type instead of keeping two
//! copies. The one difference is the row lock taken while merging a job's warnings.

/// Implements [`crate::MetadataStore`] for `$store` (which has a `pool: $pool` field);
/// `$lock` is appended to the warnings read (`" FOR UPDATE"` on PostgreSQL).
macro_rules! impl_metadata_store {
    ($store:ident, $pool:ty, $lock:literal) => {
        mod jobs {
        //! Job rows.

        use async_trait::async_trait;
        use dalston_core::dag::PlannedTask;
        use dalston_core::{JobId, JobStatus, KeyId, TaskId, TaskStatus};
        use sqlx::{AssertSqlSafe, Row};

        use super::super::$store;
        use crate::sql::{self, corrupt, job_columns, job_from_row, job_id_from_row};
        use crate::{
            ApiKeyRecord, AudioMetadata, JobCounts, JobFilter, JobRecord, JobUpdate, MetadataStore,
            StoreError, TaskRecord, TaskUpdate,
        };

        #[async_trait]
        impl MetadataStore for $store {
            async fn create_job(&self, job: &JobRecord, tasks: &[PlannedTask]) -> Result<(), StoreError> {
                let parameters = serde_json::to_string(&job.parameters).map_err(corrupt)?;
                let warnings = serde_json::to_string(&job.warnings).map_err(corrupt)?;
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO jobs (id, status, display_name, parameters, owner_key_id, original_blob_key, \
                     original_size_bytes, warnings, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(job.id.as_str())
                .bind(job.status.as_str())
                .bind(&job.display_name)
                .bind(parameters)
                .bind(job.owner_key_id.as_ref().map(KeyId::as_str))
                .bind(&job.original_blob_key)
                .bind(job.original_size_bytes)
                .bind(warnings)
                .bind(job.created_at_ms)
                .execute(&mut *tx)
                .await?;
                for (position, task) in tasks.iter().enumerate() {
                    let depends_on: Vec<&str> = task.depends_on.iter().map(TaskId::as_str).collect();
                    sqlx::query(
                        "INSERT INTO tasks (id, job_id, stage, status, required, depends_on, position) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(task.id.as_str())
                    .bind(job.id.as_str())
                    .bind(task.stage.as_str())
                    .bind(TaskStatus::Pending.as_str())
                    .bind(i64::from(task.required))
                    .bind(serde_json::to_string(&depends_on).map_err(corrupt)?)
                    .bind(i64::try_from(position).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    job_columns!(),
                    " FROM jobs WHERE id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(job_from_row).transpose()
            }

            async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    job_columns!(),
                    " FROM jobs WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR owner_key_id = $2) \
                     AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
                ))
                .bind(filter.status.map(JobStatus::as_str))
                .bind(filter.owner_key_id.as_ref().map(KeyId::as_str))
                .bind(filter.before.as_ref().map(JobId::as_str))
                .bind(i64::from(filter.limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(job_from_row).collect()
            }

            async fn active_job_ids(&self) -> Result<Vec<JobId>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id FROM jobs WHERE status IN ('pending', 'running', 'cancelling') ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(job_id_from_row).collect()
            }

            async fn transition_job(
                &self,
                id: &JobId,
                from: &[JobStatus],
                to: JobStatus,
                update: &JobUpdate,
            ) -> Result<bool, StoreError> {
                let sql = sql::transition_job_sql(from.len());
                let mut query = sqlx::query(AssertSqlSafe(sql))
                    .bind(to.as_str())
                    .bind(&update.error)
                    .bind(&update.transcript_blob_key)
                    .bind(update.started_at_ms)
                    .bind(update.completed_at_ms)
                    .bind(update.purge_after_ms)
                    .bind(id.as_str());
                for status in from {
                    query = query.bind(status.as_str());
                }
                Ok(query.execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn set_job_audio(&self, id: &JobId, audio: &AudioMetadata) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE jobs SET audio_duration_secs = $1, audio_channels = $2, audio_sample_rate = $3, audio_format = $4 \
                     WHERE id = $5",
                )
                .bind(audio.duration_secs)
                .bind(audio.channels.map(i64::from))
                .bind(audio.sample_rate_hz.map(i64::from))
                .bind(&audio.format)
                .bind(id.as_str())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn add_job_warnings(&self, id: &JobId, warnings: &[String]) -> Result<(), StoreError> {
                if warnings.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                // On PostgreSQL the row lock keeps a concurrent writer from losing these warnings or its
                // own; SQLite has a single writer and no `FOR UPDATE`.
                let current: Option<String> = sqlx::query_scalar(concat!("SELECT warnings FROM jobs WHERE id = $1", $lock))
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(current) = current else {
                    return Ok(());
                };
                let mut all: Vec<String> = serde_json::from_str(&current).map_err(corrupt)?;
                for warning in warnings {
                    if !all.contains(warning) {
                        all.push(warning.clone());
                    }
                }
                sqlx::query("UPDATE jobs SET warnings = $1 WHERE id = $2")
                    .bind(serde_json::to_string(&all).map_err(corrupt)?)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn clear_original_audio(&self, id: &JobId) -> Result<(), StoreError> {
                sqlx::query("UPDATE jobs SET original_blob_key = NULL WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_job(&self, id: &JobId) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM tasks WHERE job_id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let deleted = sqlx::query("DELETE FROM jobs WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(deleted.rows_affected() == 1)
            }

            async fn count_active_jobs(&self, owner: Option<&KeyId>) -> Result<u64, StoreError> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'running', 'cancelling') \
                     AND ($1 IS NULL OR owner_key_id = $1)",
                )
                .bind(owner.map(KeyId::as_str))
                .fetch_one(&self.pool)
                .await?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn expired_job_ids(&self, now_ms: i64) -> Result<Vec<JobId>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id FROM jobs WHERE purge_after IS NOT NULL AND purge_after <= $1 \
                     AND status IN ('completed', 'failed', 'cancelled') ORDER BY id",
                )
                .bind(now_ms)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(job_id_from_row).collect()
            }

            async fn count_jobs(&self) -> Result<JobCounts, StoreError> {
                let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
                    .fetch_all(&self.pool)
                    .await?;
                let mut counts = JobCounts::default();
                for row in rows {
                    let n: i64 = row.try_get("n")?;
                    counts
                        .by_status
                        .insert(row.try_get("status")?, u64::try_from(n).unwrap_or(0));
                }
                Ok(counts)
            }

            async fn tasks_for_job(&self, job_id: &JobId) -> Result<Vec<TaskRecord>, StoreError> {
                super::tasks::tasks_for_job(&self.pool, job_id).await
            }

            async fn get_task(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError> {
                super::tasks::get_task(&self.pool, id).await
            }

            async fn transition_task(
                &self,
                id: &TaskId,
                from: &[TaskStatus],
                to: TaskStatus,
                update: &TaskUpdate,
            ) -> Result<bool, StoreError> {
                super::tasks::transition_task(&self.pool, id, from, to, update).await
            }

            async fn set_task_progress(&self, id: &TaskId, fraction: f32) -> Result<(), StoreError> {
                super::tasks::set_task_progress(&self.pool, id, fraction).await
            }

            async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
                super::keys::insert_key(&self.pool, key).await
            }

            async fn find_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
                super::keys::find_key_by_hash(&self.pool, key_hash).await
            }

            async fn get_key(&self, id: &KeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
                super::keys::get_key(&self.pool, id).await
            }

            async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
                super::keys::list_keys(&self.pool).await
            }

            async fn revoke_key(&self, id: &KeyId, at_ms: i64) -> Result<bool, StoreError> {
                super::keys::revoke_key(&self.pool, id, at_ms).await
            }

            async fn touch_key(&self, id: &KeyId, at_ms: i64) -> Result<(), StoreError> {
                super::keys::touch_key(&self.pool, id, at_ms).await
            }

            async fn count_active_keys(&self) -> Result<u64, StoreError> {
                super::keys::count_active_keys(&self.pool).await
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
        }

        mod tasks {
        //! Task rows.

        use dalston_core::{JobId, TaskId, TaskStatus};
        use sqlx::AssertSqlSafe;

        use crate::sql::{self, corrupt, task_columns, task_from_row};
        use crate::{StoreError, TaskRecord, TaskUpdate};

        pub(in super::super) async fn tasks_for_job(
            pool: &$pool,
            job_id: &JobId,
        ) -> Result<Vec<TaskRecord>, StoreError> {
            let rows = sqlx::query(concat!(
                "SELECT ",
                task_columns!(),
                " FROM tasks WHERE job_id = $1 ORDER BY position"
            ))
            .bind(job_id.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter().map(task_from_row).collect()
        }

        pub(in super::super) async fn get_task(
            pool: &$pool,
            id: &TaskId,
        ) -> Result<Option<TaskRecord>, StoreError> {
            let row = sqlx::query(concat!(
                "SELECT ",
                task_columns!(),
                " FROM tasks WHERE id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(task_from_row).transpose()
        }

        pub(in super::super) async fn transition_task(
            pool: &$pool,
            id: &TaskId,
            from: &[TaskStatus],
            to: TaskStatus,
            update: &TaskUpdate,
        ) -> Result<bool, StoreError> {
            let output = update
                .output
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(corrupt)?;
            let sql = sql::transition_task_sql(from.len());
            let mut query = sqlx::query(AssertSqlSafe(sql))
                .bind(to.as_str())
                .bind(&update.worker_id)
                .bind(output)
                .bind(&update.error)
                .bind(i64::from(update.increment_attempts))
                .bind(update.ready_at_ms)
                .bind(update.started_at_ms)
                .bind(update.completed_at_ms)
                .bind(id.as_str());
            for status in from {
                query = query.bind(status.as_str());
            }
            Ok(query.execute(pool).await?.rows_affected() == 1)
        }

        pub(in super::super) async fn set_task_progress(
            pool: &$pool,
            id: &TaskId,
            fraction: f32,
        ) -> Result<(), StoreError> {
            sqlx::query("UPDATE tasks SET progress = $1 WHERE id = $2 AND status = 'running'")
                .bind(f64::from(fraction.clamp(0.0, 1.0)))
                .bind(id.as_str())
                .execute(pool)
                .await?;
            Ok(())
        }
        }

        mod keys {
        //! API key rows. Only the SHA-256 of a secret is stored.

        use dalston_core::KeyId;


        use crate::sql::{corrupt, key_columns, key_from_row};
        use crate::{ApiKeyRecord, StoreError};

        pub(in super::super) async fn insert_key(pool: &$pool, key: &ApiKeyRecord) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO api_keys (id, name, prefix, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(key.id.as_str())
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(&key.key_hash)
            .bind(serde_json::to_string(&key.scopes).map_err(corrupt)?)
            .bind(key.created_at_ms)
            .execute(pool)
            .await?;
            Ok(())
        }

        pub(in super::super) async fn find_key_by_hash(
            pool: &$pool,
            key_hash: &str,
        ) -> Result<Option<ApiKeyRecord>, StoreError> {
            let row = sqlx::query(concat!(
                "SELECT ",
                key_columns!(),
                " FROM api_keys WHERE key_hash = $1"
            ))
            .bind(key_hash)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(key_from_row).transpose()
        }

        pub(in super::super) async fn get_key(
            pool: &$pool,
            id: &KeyId,
        ) -> Result<Option<ApiKeyRecord>, StoreError> {
            let row = sqlx::query(concat!(
                "SELECT ",
                key_columns!(),
                " FROM api_keys WHERE id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(key_from_row).transpose()
        }

        pub(in super::super) async fn list_keys(pool: &$pool) -> Result<Vec<ApiKeyRecord>, StoreError> {
            let rows = sqlx::query(concat!(
                "SELECT ",
                key_columns!(),
                " FROM api_keys ORDER BY created_at, id"
            ))
            .fetch_all(pool)
            .await?;
            rows.iter().map(key_from_row).collect()
        }

        pub(in super::super) async fn revoke_key(
            pool: &$pool,
            id: &KeyId,
            at_ms: i64,
        ) -> Result<bool, StoreError> {
            let result =
                sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(at_ms)
                    .bind(id.as_str())
                    .execute(pool)
                    .await?;
            Ok(result.rows_affected() == 1)
        }

        pub(in super::super) async fn touch_key(pool: &$pool, id: &KeyId, at_ms: i64) -> Result<(), StoreError> {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(at_ms)
                .bind(id.as_str())
                .execute(pool)
                .await?;
            Ok(())
        }

        pub(in super::super) async fn count_active_keys(pool: &$pool) -> Result<u64, StoreError> {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")
                .fetch_one(pool)
                .await?;
            Ok(u64::try_from(n).unwrap_or(0))
        }
        }
    };
}
pub(crate) use impl_metadata_store;
