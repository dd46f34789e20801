//! Response shapes of the native API, built from store records and the canonical transcript.

use dalston_core::progress::{TaskProgress, job_progress};
use dalston_core::{JobStatus, TaskStatus, Transcript};
use dalston_store::{JobRecord, TaskRecord};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// RFC 3339 UTC time of a stored unix-millisecond timestamp.
pub fn rfc3339(ms: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

fn span_ms(from: Option<i64>, to: Option<i64>) -> Option<i64> {
    Some(to? - from?).filter(|ms| *ms >= 0)
}

#[derive(Debug, Serialize)]
pub struct StageView {
    pub stage: String,
    pub task_id: String,
    pub status: TaskStatus,
    pub required: bool,
    pub dependencies: Vec<String>,
    pub progress: f32,
    pub attempts: u32,
    pub retries: u32,
    pub ready_at: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub wait_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
}

impl StageView {
    pub fn new(task: &TaskRecord) -> Self {
        Self {
            stage: task.stage.to_string(),
            task_id: task.id.to_string(),
            status: task.status,
            required: task.required,
            dependencies: task.depends_on.iter().map(ToString::to_string).collect(),
            progress: task.progress,
            attempts: task.attempts,
            retries: task.attempts.saturating_sub(1),
            ready_at: task.ready_at_ms.and_then(rfc3339),
            started_at: task.started_at_ms.and_then(rfc3339),
            completed_at: task.completed_at_ms.and_then(rfc3339),
            wait_ms: span_ms(task.ready_at_ms, task.started_at_ms),
            duration_ms: span_ms(task.started_at_ms, task.completed_at_ms),
            error: task.error.clone(),
        }
    }
}

/// The progress (0–100) of a job from its tasks.
pub fn progress(job: &JobRecord, tasks: &[TaskRecord]) -> u8 {
    if job.status == JobStatus::Completed {
        return 100;
    }
    let views: Vec<TaskProgress> = tasks
        .iter()
        .map(|t| TaskProgress {
            stage: t.stage,
            status: t.status,
            fraction: t.progress,
        })
        .collect();
    job_progress(&views)
}

/// The stage being worked on: the first running task, else the first not yet finished.
pub fn current_stage(job: &JobRecord, tasks: &[TaskRecord]) -> Option<String> {
    if job.status.is_terminal() {
        return None;
    }
    tasks
        .iter()
        .find(|t| t.status == TaskStatus::Running)
        .or_else(|| tasks.iter().find(|t| !t.status.is_terminal()))
        .map(|t| t.stage.to_string())
}

#[derive(Debug, Serialize)]
pub struct AudioView {
    pub duration_seconds: Option<f64>,
    pub channels: Option<u16>,
    pub sample_rate: Option<u32>,
    pub format: Option<String>,
    pub size_bytes: Option<i64>,
    pub available: bool,
}

/// A job in lists: no stages, no transcript.
#[derive(Debug, Serialize)]
pub struct JobSummary {
    pub id: String,
    pub status: JobStatus,
    pub display_name: String,
    pub model: Option<String>,
    pub created_at: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub audio_duration_seconds: Option<f64>,
    pub error: Option<String>,
}

impl JobSummary {
    pub fn new(job: &JobRecord) -> Self {
        Self {
            id: job.id.to_string(),
            status: job.status,
            display_name: job.display_name.clone(),
            model: job.parameters.model.clone(),
            created_at: rfc3339(job.created_at_ms),
            started_at: job.started_at_ms.and_then(rfc3339),
            completed_at: job.completed_at_ms.and_then(rfc3339),
            audio_duration_seconds: job.audio.duration_secs,
            error: job.error.clone(),
        }
    }
}

/// A job in full: summary, progress, stages, and the transcript once completed.
#[derive(Debug, Serialize)]
pub struct JobView {
    #[serde(flatten)]
    pub summary: JobSummary,
    pub progress: u8,
    pub current_stage: Option<String>,
    pub parameters: Value,
    pub audio: AudioView,
    pub warnings: Vec<String>,
    pub stages: Vec<StageView>,
    /// The canonical transcript's fields (`text`, `language_code`, `segments`, `words`,
    /// `speakers`, `metadata`), present once the job completed.
    #[serde(flatten)]
    pub transcript: Option<Transcript>,
}

impl JobView {
    pub fn new(job: &JobRecord, tasks: &[TaskRecord], transcript: Option<Transcript>) -> Self {
        Self {
            summary: JobSummary::new(job),
            progress: progress(job, tasks),
            current_stage: current_stage(job, tasks),
            parameters: serde_json::to_value(&job.parameters).unwrap_or(Value::Null),
            audio: AudioView {
                duration_seconds: job.audio.duration_secs,
                channels: job.audio.channels,
                sample_rate: job.audio.sample_rate_hz,
                format: job.audio.format.clone(),
                size_bytes: job.original_size_bytes,
                available: job.original_blob_key.is_some(),
            },
            warnings: job.warnings.clone(),
            stages: tasks.iter().map(StageView::new).collect(),
            transcript,
        }
    }
}
