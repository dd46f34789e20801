//! SQL shared by the SQLite and PostgreSQL stores: column lists, the guarded status updates, and
//! the decoding of rows into records.
//!
//! Both backends use the same portable schema (TEXT ids, BIGINT unix-ms, JSON as TEXT, INTEGER
//! 0/1 booleans) and the same `$n` placeholders, so the text and the decoding can be written once.
//! Rows are decoded with the Rust types of the PostgreSQL columns (`i32` for INTEGER, `f32` for
//! REAL), which SQLite also accepts; PostgreSQL refuses `i64` from an INTEGER column.

use dalston_core::{JobId, KeyId, TaskId};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::{ApiKeyRecord, AudioMetadata, JobRecord, StoreError, TaskRecord};

/// The columns [`job_from_row`] reads, in `SELECT` order.
macro_rules! job_columns {
    () => {
        "id, status, display_name, parameters, owner_key_id, original_blob_key, \
    original_size_bytes, audio_duration_secs, audio_channels, audio_sample_rate, audio_format, \
    transcript_blob_key, warnings, error, created_at, started_at, completed_at, purge_after"
    };
}
pub(crate) use job_columns;

/// The columns [`task_from_row`] reads, in `SELECT` order.
macro_rules! task_columns {
    () => {
        "id, job_id, stage, status, required, depends_on, attempts, progress, worker_id, \
    output, error, ready_at, started_at, completed_at"
    };
}
pub(crate) use task_columns;

/// The columns [`key_from_row`] reads, in `SELECT` order.
macro_rules! key_columns {
    () => {
        "id, name, prefix, key_hash, scopes, created_at, last_used_at, revoked_at"
    };
}
pub(crate) use key_columns;

/// Placeholders `$n, $n+1, …` for an `IN (…)` list of `count` values starting at `$first`.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `UPDATE jobs` guarded by the expected statuses: binds `$1` new status, `$2` error, `$3`
/// transcript blob key, `$4` started, `$5` completed, `$6` purge-after, `$7` id, then one value
/// per expected status.
pub(crate) fn transition_job_sql(expected_statuses: usize) -> String {
    format!(
        "UPDATE jobs SET status = $1, error = COALESCE($2, error), \
         transcript_blob_key = COALESCE($3, transcript_blob_key), started_at = COALESCE($4, started_at), \
         completed_at = COALESCE($5, completed_at), purge_after = COALESCE($6, purge_after) \
         WHERE id = $7 AND status IN ({})",
        placeholders(8, expected_statuses)
    )
}

/// `UPDATE tasks` guarded by the expected statuses: binds `$1` new status, `$2` worker, `$3`
/// output JSON, `$4` error, `$5` attempts increment (0 or 1), `$6` ready, `$7` started, `$8`
/// completed, `$9` id, then one value per expected status.
pub(crate) fn transition_task_sql(expected_statuses: usize) -> String {
    // A task that leaves `running` for anything but completion starts its next attempt from zero.
    format!(
        "UPDATE tasks SET status = $1, worker_id = COALESCE($2, worker_id), output = COALESCE($3, output), \
         error = COALESCE($4, error), attempts = attempts + $5, ready_at = COALESCE($6, ready_at), \
         started_at = COALESCE($7, started_at), completed_at = COALESCE($8, completed_at), \
         progress = CASE WHEN $1 = 'completed' THEN 1.0 WHEN $1 = 'running' THEN progress ELSE 0.0 END \
         WHERE id = $9 AND status IN ({})",
        placeholders(10, expected_statuses)
    )
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Decodes a row selected with [`job_columns`].
pub(crate) fn job_from_row<'r, R>(row: &'r R) -> Result<JobRecord, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    f64: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let parameters: String = row.try_get("parameters")?;
    let warnings: String = row.try_get("warnings")?;
    let owner: Option<String> = row.try_get("owner_key_id")?;
    let channels: Option<i32> = row.try_get("audio_channels")?;
    let sample_rate: Option<i32> = row.try_get("audio_sample_rate")?;
    Ok(JobRecord {
        id: JobId::parse(&id).map_err(corrupt)?,
        status: status.parse().map_err(corrupt)?,
        display_name: row.try_get("display_name")?,
        parameters: serde_json::from_str(&parameters).map_err(corrupt)?,
        owner_key_id: owner
            .map(|key| KeyId::parse(&key))
            .transpose()
            .map_err(corrupt)?,
        original_blob_key: row.try_get("original_blob_key")?,
        original_size_bytes: row.try_get("original_size_bytes")?,
        audio: AudioMetadata {
            duration_secs: row.try_get("audio_duration_secs")?,
            channels: channels.and_then(|c| u16::try_from(c).ok()),
            sample_rate_hz: sample_rate.and_then(|r| u32::try_from(r).ok()),
            format: row.try_get("audio_format")?,
        },
        transcript_blob_key: row.try_get("transcript_blob_key")?,
        warnings: serde_json::from_str(&warnings).map_err(corrupt)?,
        error: row.try_get("error")?,
        created_at_ms: row.try_get("created_at")?,
        started_at_ms: row.try_get("started_at")?,
        completed_at_ms: row.try_get("completed_at")?,
        purge_after_ms: row.try_get("purge_after")?,
    })
}

/// Decodes a row selected with [`task_columns`].
pub(crate) fn task_from_row<'r, R>(row: &'r R) -> Result<TaskRecord, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    f32: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let job_id: String = row.try_get("job_id")?;
    let stage: String = row.try_get("stage")?;
    let status: String = row.try_get("status")?;
    let depends_on: String = row.try_get("depends_on")?;
    let depends_on: Vec<String> = serde_json::from_str(&depends_on).map_err(corrupt)?;
    let output: Option<String> = row.try_get("output")?;
    let attempts: i32 = row.try_get("attempts")?;
    let required: i32 = row.try_get("required")?;
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
        progress: row.try_get("progress")?,
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

/// Decodes a row selected with [`key_columns`].
pub(crate) fn key_from_row<'r, R>(row: &'r R) -> Result<ApiKeyRecord, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let scopes: String = row.try_get("scopes")?;
    Ok(ApiKeyRecord {
        id: KeyId::parse(&id).map_err(corrupt)?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        key_hash: row.try_get("key_hash")?,
        scopes: serde_json::from_str(&scopes).map_err(corrupt)?,
        created_at_ms: row.try_get("created_at")?,
        last_used_at_ms: row.try_get("last_used_at")?,
        revoked_at_ms: row.try_get("revoked_at")?,
    })
}

/// Decodes the single `id` column of a job row.
pub(crate) fn job_id_from_row<'r, R>(row: &'r R) -> Result<JobId, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    JobId::parse(&row.try_get::<String, _>("id")?).map_err(corrupt)
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(super::placeholders(3, 2), "$3, $4");
    }
}
