//! The rows the stores read and write, as typed records.

use dalston_core::{JobId, JobParameters, JobStatus, KeyId, Stage, TaskId, TaskStatus};

/// Facts about the uploaded audio, filled in by the prepare stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudioMetadata {
    pub duration_secs: Option<f64>,
    pub channels: Option<u16>,
    pub sample_rate_hz: Option<u32>,
    pub format: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: JobId,
    pub status: JobStatus,
    pub display_name: String,
    pub parameters: JobParameters,
    pub owner_key_id: Option<KeyId>,
    pub original_blob_key: Option<String>,
    pub original_size_bytes: Option<i64>,
    pub audio: AudioMetadata,
    pub transcript_blob_key: Option<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub completed_at_ms: Option<i64>,
    pub purge_after_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    pub id: TaskId,
    pub job_id: JobId,
    pub stage: Stage,
    pub status: TaskStatus,
    pub required: bool,
    pub depends_on: Vec<TaskId>,
    pub attempts: u32,
    /// 0.0–1.0 while running.
    pub progress: f32,
    pub worker_id: Option<String>,
    /// The engine's JSON result, once completed.
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub ready_at_ms: Option<i64>,
    pub started_at_ms: Option<i64>,
    pub completed_at_ms: Option<i64>,
}

/// Fields set together with a task transition. `None` leaves a column unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskUpdate {
    pub worker_id: Option<String>,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub increment_attempts: bool,
    pub ready_at_ms: Option<i64>,
    pub started_at_ms: Option<i64>,
    pub completed_at_ms: Option<i64>,
}

/// Fields set together with a job transition. `None` leaves a column unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobUpdate {
    pub error: Option<String>,
    pub transcript_blob_key: Option<String>,
    pub started_at_ms: Option<i64>,
    pub completed_at_ms: Option<i64>,
    pub purge_after_ms: Option<i64>,
}

/// List filter with keyset pagination: jobs older than `before` (ids are time-ordered).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub owner_key_id: Option<KeyId>,
    pub before: Option<JobId>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: KeyId,
    pub name: String,
    /// First characters of the secret, to recognise a key in lists.
    pub prefix: String,
    /// Hex SHA-256 of the whole secret.
    pub key_hash: String,
    pub scopes: Vec<String>,
    pub created_at_ms: i64,
    pub last_used_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

/// Counts per job status, for `/v1/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub by_status: std::collections::BTreeMap<String, u64>,
}
