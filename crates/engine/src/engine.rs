//! The engine trait and the data crossing it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use dalston_core::Stage;
use dalston_store::{AudioMetadata, JobRecord, TaskRecord};
use tokio::sync::watch;

/// What an engine can do, for planning and for `/v1/engines`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EngineCapabilities {
    pub engine_id: String,
    pub stage: Stage,
    pub models: Vec<String>,
    /// Produces word timings itself.
    pub word_timestamps: bool,
}

/// A file the runner downloaded for the engine.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub name: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone)]
pub struct TaskInput {
    pub task: TaskRecord,
    pub job: JobRecord,
    /// The original audio (for tasks without dependencies) or the dependencies' artifacts.
    pub files: Vec<InputFile>,
    /// `(stage, output)` of each completed dependency; skipped optional ones are absent.
    pub upstream: Vec<(Stage, serde_json::Value)>,
    /// A private directory for the task's own files (e.g. an [`ArtifactFile`] being written);
    /// removed by the runner once the outputs are stored.
    pub scratch_dir: PathBuf,
}

impl TaskInput {
    pub fn file(&self, name: &str) -> Option<&InputFile> {
        self.files.iter().find(|file| file.name == name)
    }

    pub fn upstream(&self, stage: Stage) -> Option<&serde_json::Value> {
        self.upstream
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, output)| output)
    }
}

/// A named blob the engine produced; the runner stores it under the task's prefix.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    pub bytes: Bytes,
}

/// A named artifact the engine wrote to a file (in [`TaskInput::scratch_dir`]), for outputs too
/// large to hold in memory; the runner streams it into storage.
#[derive(Debug, Clone)]
pub struct ArtifactFile {
    pub name: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Default)]
pub struct TaskOutput {
    /// Structured result handed to dependents.
    pub result: serde_json::Value,
    pub artifacts: Vec<Artifact>,
    pub artifact_files: Vec<ArtifactFile>,
    /// Facts about the audio to record on the job (from prepare).
    pub audio: Option<AudioMetadata>,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input can never work (not audio, empty, unsupported option): no retry, and the message
    /// goes to the user as the job's error.
    #[error("{message}")]
    InvalidInput { code: &'static str, message: String },
    /// Something that might work on another attempt (I/O, resources).
    #[error("{0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
}

impl EngineError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, EngineError::Failed(_))
    }
}

/// Progress and cancellation for one running task.
#[derive(Debug, Clone)]
pub struct TaskContext {
    progress: watch::Sender<f32>,
    partial: watch::Sender<Option<serde_json::Value>>,
    cancel: Arc<AtomicBool>,
}

impl TaskContext {
    pub fn new(
        progress: watch::Sender<f32>,
        partial: watch::Sender<Option<serde_json::Value>>,
        cancel: Arc<AtomicBool>,
    ) -> Self {
        Self {
            progress,
            partial,
            cancel,
        }
    }

    /// Publishes the result so far (for example the segments decoded up to now), replacing the
    /// previous one; the runner stores it as the task's [`crate::runner::PARTIAL_RESULT`]
    /// artifact so clients can stream it before the task ends.
    pub fn report_partial(&self, result: serde_json::Value) {
        self.partial.send_replace(Some(result));
    }

    /// Reports the fraction done (0.0–1.0). Cheap: the runner samples it.
    pub fn report_progress(&self, fraction: f32) {
        self.progress.send_replace(fraction.clamp(0.0, 1.0));
    }

    /// Set when the job was cancelled or the lease was lost; long work should stop soon after.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

#[async_trait]
pub trait Engine: Send + Sync + 'static {
    fn capabilities(&self) -> EngineCapabilities;

    /// Loads what the engine needs before its first task, so a process that will run it fails
    /// at start-up on a missing model rather than on the first job. Blocking; the default
    /// needs nothing.
    ///
    /// # Errors
    /// What loading failed on, for the start-up error.
    fn warm(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Runs one task.
    ///
    /// # Errors
    /// [`EngineError`]; the runner decides about retries from its kind.
    async fn process(
        &self,
        input: TaskInput,
        context: TaskContext,
    ) -> Result<TaskOutput, EngineError>;
}
