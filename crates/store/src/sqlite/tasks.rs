//! Task rows.

use dalston_core::{JobId, TaskId, TaskStatus};
use sqlx::{AssertSqlSafe, SqlitePool};

use crate::sql::{self, corrupt, task_columns, task_from_row};
use crate::{StoreError, TaskRecord, TaskUpdate};

pub(super) async fn tasks_for_job(
    pool: &SqlitePool,
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

pub(super) async fn get_task(
    pool: &SqlitePool,
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

pub(super) async fn transition_task(
    pool: &SqlitePool,
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

pub(super) async fn set_task_progress(
    pool: &SqlitePool,
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
