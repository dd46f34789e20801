//! Task rows.

use dalston_core::{JobId, TaskId, TaskStatus};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, SqlitePool};

use super::{corrupt, placeholders};
use crate::{StoreError, TaskRecord, TaskUpdate};

macro_rules! task_columns {
    () => {
        "id, job_id, stage, status, required, depends_on, attempts, progress, worker_id, \
    output, error, ready_at, started_at, completed_at"
    };
}

fn task_from_row(row: &SqliteRow) -> Result<TaskRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let job_id: String = row.try_get("job_id")?;
    let stage: String = row.try_get("stage")?;
    let status: String = row.try_get("status")?;
    let depends_on: String = row.try_get("depends_on")?;
    let depends_on: Vec<String> = serde_json::from_str(&depends_on).map_err(corrupt)?;
    let output: Option<String> = row.try_get("output")?;
    let attempts: i64 = row.try_get("attempts")?;
    let progress: f64 = row.try_get("progress")?;
    let required: i64 = row.try_get("required")?;
    Ok(TaskRecord {
        id: TaskId::parse(&id).map_err(corrupt)?,
        job_id: JobId::parse(&job_id).map_err(corrupt)?,
        stage: stage.parse().map_err(corrupt)?,
        status: status.parse().map_err(corrupt)?,
        required: required != 0,
        depends_on: depends_on
            .iter()
            .map(|id| TaskId::parse(id))
            .collect::<Result<_, _>>()
            .map_err(corrupt)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        #[expect(
            clippy::cast_possible_truncation,
            reason = "progress is a fraction in 0..=1"
        )]
        progress: progress as f32,
        worker_id: row.try_get("worker_id")?,
        output: output
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(corrupt)?,
        error: row.try_get("error")?,
        ready_at_ms: row.try_get("ready_at")?,
        started_at_ms: row.try_get("started_at")?,
        completed_at_ms: row.try_get("completed_at")?,
    })
}

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
    // A task that leaves `running` for anything but completion starts its next attempt from zero.
    let sql = format!(
        "UPDATE tasks SET status = $1, worker_id = COALESCE($2, worker_id), output = COALESCE($3, output), \
         error = COALESCE($4, error), attempts = attempts + $5, ready_at = COALESCE($6, ready_at), \
         started_at = COALESCE($7, started_at), completed_at = COALESCE($8, completed_at), \
         progress = CASE WHEN $1 = 'completed' THEN 1.0 WHEN $1 = 'running' THEN progress ELSE 0.0 END \
         WHERE id = $9 AND status IN ({})",
        placeholders(10, from.len())
    );
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
