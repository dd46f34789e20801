//! The runner: one step function ([`Runner::run_once`]) and a loop around it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use dalston_core::retry::{RetryDecision, RetryPolicy};
use dalston_core::{JobStatus, Stage, TaskStatus};
use dalston_queue::{Lease, TaskQueue};
use dalston_store::clock::now_ms;
use dalston_store::{BlobKey, BlobStore, JobRecord, MetadataStore, TaskRecord, TaskUpdate};
use tokio::sync::watch;
use tracing::Instrument;

use crate::{Engine, EngineError, InputFile, TaskContext, TaskEvents, TaskInput, TaskOutput};

/// Name of the list of artifact names the runner adds to every task's stored output.
const ARTIFACTS_FIELD: &str = "artifacts";
/// Artifact name of a running task's result so far (see [`TaskContext::report_partial`]).
pub const PARTIAL_RESULT: &str = "partial.json";
/// Name under which the original upload is handed to tasks without dependencies.
pub const ORIGINAL_AUDIO: &str = "original";

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub worker_id: String,
    pub lease: Duration,
    pub retry: RetryPolicy,
    /// How long an idle runner waits for a notification before polling again.
    pub idle_wait: Duration,
    /// Where inputs are downloaded for the duration of a task.
    pub scratch_dir: std::path::PathBuf,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    Worked,
    Idle,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Queue(#[from] dalston_queue::QueueError),
    #[error(transparent)]
    Store(#[from] dalston_store::StoreError),
}

/// When a runner last showed it is alive: each claim attempt (an idle runner polls at least every
/// `idle_wait`) and each lease heartbeat of a running task. Clones share the same clock.
#[derive(Debug, Clone, Default)]
pub struct Liveness(Arc<AtomicI64>);

impl Liveness {
    /// Unix milliseconds of the last sign of life; `None` before the runner started.
    pub fn last_seen_ms(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|ms| *ms > 0)
    }

    fn beat(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }
}

pub struct Runner {
    engine: Arc<dyn Engine>,
    stage: Stage,
    store: Arc<dyn MetadataStore>,
    blobs: BlobStore,
    queue: Arc<dyn TaskQueue>,
    events: Arc<dyn TaskEvents>,
    config: RunnerConfig,
    liveness: Liveness,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("stage", &self.stage)
            .field("worker_id", &self.config.worker_id)
            .finish()
    }
}

impl Runner {
    pub fn new(
        engine: Arc<dyn Engine>,
        store: Arc<dyn MetadataStore>,
        blobs: BlobStore,
        queue: Arc<dyn TaskQueue>,
        events: Arc<dyn TaskEvents>,
        config: RunnerConfig,
    ) -> Self {
        let stage = engine.capabilities().stage;
        Self {
            engine,
            stage,
            store,
            blobs,
            queue,
            events,
            config,
            liveness: Liveness::default(),
        }
    }

    /// This runner's sign of life, for status pages.
    pub fn liveness(&self) -> Liveness {
        self.liveness.clone()
    }

    /// Runs until `shutdown` flips to true. Errors of one step are logged and retried after a
    /// pause: a database hiccup must not kill the worker.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.run_once().await {
                Ok(StepOutcome::Worked) => continue,
                Ok(StepOutcome::Idle) => {
                    let stages = [self.stage];
                    tokio::select! {
                        () = self.queue.wait_for_work(&stages, self.config.idle_wait) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(error) => {
                    tracing::error!(stage = %self.stage, error = %error, "runner step failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Claims and runs at most one task.
    ///
    /// # Errors
    /// Queue or store failures; the task's lease then expires and it is redelivered.
    pub async fn run_once(&self) -> Result<StepOutcome, RunnerError> {
        self.liveness.beat();
        let Some(lease) = self
            .queue
            .claim(&self.config.worker_id, &[self.stage], self.config.lease)
            .await?
        else {
            return Ok(StepOutcome::Idle);
        };
        let span = tracing::info_span!(
            "task",
            task_id = %lease.message.task_id,
            job_id = %lease.message.job_id,
            stage = %self.stage,
            delivery = lease.deliveries,
        );
        self.run_leased(lease).instrument(span).await?;
        Ok(StepOutcome::Worked)
    }

    async fn run_leased(&self, lease: Lease) -> Result<(), RunnerError> {
        let message = &lease.message;
        let (Some(task), Some(job)) = (
            self.store.get_task(&message.task_id).await?,
            self.store.get_job(&message.job_id).await?,
        ) else {
            tracing::info!("dropping a message whose task no longer exists");
            self.queue.ack(&lease).await?;
            return Ok(());
        };
        if task.status.is_terminal() {
            // Delivered again after the result was recorded (at-least-once): nothing to do.
            self.queue.ack(&lease).await?;
            return Ok(());
        }
        if is_stopping(job.status) {
            self.finish(&lease, &task, TaskStatus::Cancelled, TaskUpdate::default())
                .await?;
            return Ok(());
        }
        let claimed = self
            .store
            .transition_task(
                &task.id,
                &[TaskStatus::Ready, TaskStatus::Running],
                // Ready → Running on a first claim, Running → Running on a redelivery.
                TaskStatus::Running,
                &TaskUpdate {
                    worker_id: Some(self.config.worker_id.clone()),
                    increment_attempts: true,
                    started_at_ms: Some(now_ms()),
                    ..Default::default()
                },
            )
            .await?;
        if !claimed {
            tracing::warn!(status = %task.status, "task is not claimable; leaving it to the orchestrator");
            self.queue.ack(&lease).await?;
            return Ok(());
        }
        self.events.task_changed(&job.id);
        let attempt = task.attempts + 1;

        let scratch = tempfile_dir(&self.config.scratch_dir)?;
        let outcome = match self.gather_inputs(&task, &job, scratch.path()).await {
            Ok(input) => self.process_with_heartbeat(&lease, input).await,
            Err(error) => Err(EngineError::Failed(format!(
                "could not load the task's inputs: {error}"
            ))),
        };

        // The scratch directory (with any artifact files in it) lives until the outputs are
        // stored.
        match outcome {
            Ok(Some(output)) => self.record_success(&lease, &task, output).await,
            Ok(None) => self.after_lost_lease(&task).await,
            Err(EngineError::Cancelled) => {
                self.finish(&lease, &task, TaskStatus::Cancelled, TaskUpdate::default())
                    .await
            }
            Err(error) => self.record_failure(&lease, &task, attempt, error).await,
        }
    }

    async fn gather_inputs(
        &self,
        task: &TaskRecord,
        job: &JobRecord,
        scratch: &std::path::Path,
    ) -> Result<TaskInput, dalston_store::StoreError> {
        let mut files = Vec::new();
        let mut upstream = Vec::new();
        let engine_scratch = scratch.join("engine");
        std::fs::create_dir_all(&engine_scratch)?;
        if task.depends_on.is_empty()
            && let Some(key) = &job.original_blob_key
        {
            let path = scratch.join(ORIGINAL_AUDIO);
            self.blobs.download_to_file(key, &path).await?;
            files.push(InputFile {
                name: ORIGINAL_AUDIO.to_owned(),
                path,
            });
        }
        for dependency_id in &task.depends_on {
            let Some(dependency) = self.store.get_task(dependency_id).await? else {
                continue;
            };
            let Some(output) = dependency
                .output
                .filter(|_| dependency.status == TaskStatus::Completed)
            else {
                continue;
            };
            for name in artifact_names(&output) {
                let path = scratch.join(format!("{}-{name}", dependency.stage));
                let key = BlobKey::task_artifact(&job.id, &dependency.id, &name);
                self.blobs.download_to_file(&key, &path).await?;
                files.push(InputFile { name, path });
            }
            upstream.push((dependency.stage, output));
        }
        Ok(TaskInput {
            task: task.clone(),
            job: job.clone(),
            files,
            upstream,
            scratch_dir: engine_scratch,
        })
    }

    /// Runs the engine while a side loop extends the lease, mirrors progress into the store and
    /// watches for cancellation. `Ok(None)` when the lease was lost.
    async fn process_with_heartbeat(
        &self,
        lease: &Lease,
        input: TaskInput,
    ) -> Result<Option<TaskOutput>, EngineError> {
        let cancel = Arc::new(AtomicBool::new(false));
        let lease_lost = Arc::new(AtomicBool::new(false));
        let (progress_tx, mut progress_rx) = watch::channel(0.0f32);
        let (partial_tx, mut partial_rx) = watch::channel(None);
        let context = TaskContext::new(progress_tx, partial_tx, Arc::clone(&cancel));
        let job_id = input.job.id.clone();
        let task_id = input.task.id.clone();

        let work = self.engine.process(input, context);
        tokio::pin!(work);
        let beat = (self.config.lease / 3).max(Duration::from_millis(200));
        let mut ticker = tokio::time::interval(beat);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result = loop {
            tokio::select! {
                result = &mut work => break result,
                _ = ticker.tick() => {
                    match self.queue.heartbeat(lease, self.config.lease).await {
                        Ok(true) => self.liveness.beat(),
                        Ok(false) => {
                            lease_lost.store(true, Ordering::Relaxed);
                            cancel.store(true, Ordering::Relaxed);
                        }
                        Err(error) => tracing::warn!(error = %error, "heartbeat failed"),
                    }
                    if let Ok(Some(job)) = self.store.get_job(&job_id).await
                        && matches!(job.status, JobStatus::Cancelling | JobStatus::Cancelled)
                    {
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
                Ok(()) = partial_rx.changed() => {
                    let partial = partial_rx.borrow_and_update().clone();
                    if let Some(partial) = partial {
                        let key = BlobKey::task_artifact(&job_id, &task_id, PARTIAL_RESULT);
                        let bytes = bytes::Bytes::from(partial.to_string());
                        if let Err(error) = self.blobs.put_bytes(&key, bytes).await {
                            tracing::warn!(error = %error, "could not store the partial result");
                        }
                    }
                }
                Ok(()) = progress_rx.changed() => {
                    let fraction = *progress_rx.borrow_and_update();
                    if let Err(error) = self.store.set_task_progress(&task_id, fraction).await {
                        tracing::warn!(error = %error, "could not record progress");
                    }
                    self.events.task_changed(&job_id);
                }
            }
        };
        if lease_lost.load(Ordering::Relaxed) {
            Ok(None)
        } else {
            result.map(Some)
        }
    }

    async fn record_success(
        &self,
        lease: &Lease,
        task: &TaskRecord,
        output: TaskOutput,
    ) -> Result<(), RunnerError> {
        let mut names = Vec::new();
        for artifact in &output.artifacts {
            let key = BlobKey::task_artifact(&task.job_id, &task.id, &artifact.name);
            self.blobs.put_bytes(&key, artifact.bytes.clone()).await?;
            names.push(serde_json::Value::String(artifact.name.clone()));
        }
        for artifact in &output.artifact_files {
            let key = BlobKey::task_artifact(&task.job_id, &task.id, &artifact.name);
            self.blobs.put_file(&key, &artifact.path).await?;
            names.push(serde_json::Value::String(artifact.name.clone()));
        }
        if let Some(audio) = &output.audio {
            self.store.set_job_audio(&task.job_id, audio).await?;
        }
        self.store
            .add_job_warnings(&task.job_id, &output.warnings)
            .await?;
        let mut result = output.result;
        if let serde_json::Value::Object(map) = &mut result {
            map.insert(ARTIFACTS_FIELD.to_owned(), serde_json::Value::Array(names));
        } else {
            result = serde_json::json!({ "value": result, ARTIFACTS_FIELD: names });
        }
        let update = TaskUpdate {
            output: Some(result),
            completed_at_ms: Some(now_ms()),
            ..Default::default()
        };
        tracing::info!("task completed");
        self.finish(lease, task, TaskStatus::Completed, update)
            .await
    }

    async fn record_failure(
        &self,
        lease: &Lease,
        task: &TaskRecord,
        attempt: u32,
        error: EngineError,
    ) -> Result<(), RunnerError> {
        let message = error.to_string();
        match self.config.retry.decide(attempt, error.is_retryable()) {
            RetryDecision::RetryAfter(delay) => {
                tracing::warn!(error = %message, attempt, delay_ms = delay.as_millis() as u64, "task attempt failed; retrying");
                let update = TaskUpdate {
                    error: Some(message),
                    ready_at_ms: Some(now_ms()),
                    ..Default::default()
                };
                self.store
                    .transition_task(&task.id, &[TaskStatus::Running], TaskStatus::Ready, &update)
                    .await?;
                self.queue.retry(lease, delay).await?;
                self.events.task_changed(&task.job_id);
                Ok(())
            }
            RetryDecision::GiveUp => {
                tracing::warn!(error = %message, attempt, "task failed");
                let to = if task.required {
                    TaskStatus::Failed
                } else {
                    TaskStatus::Skipped
                };
                let update = TaskUpdate {
                    error: Some(message),
                    completed_at_ms: Some(now_ms()),
                    ..Default::default()
                };
                self.finish(lease, task, to, update).await
            }
        }
    }

    /// A lost lease mostly means the task outlived it and another worker owns the task now. But
    /// cancelling or failing a job removes its messages, leased ones too: then no other worker
    /// will finish the task, and one left `running` would hold a cancelling job there forever
    /// (it waits for its running tasks). So the task of a stopping job is recorded cancelled.
    async fn after_lost_lease(&self, task: &TaskRecord) -> Result<(), RunnerError> {
        let stopping = self
            .store
            .get_job(&task.job_id)
            .await?
            .is_some_and(|job| is_stopping(job.status));
        if !stopping {
            tracing::warn!("lease lost while working; another worker owns the task now");
            return Ok(());
        }
        tracing::info!("the job stopped while its task ran; recording the task cancelled");
        let update = TaskUpdate {
            completed_at_ms: Some(now_ms()),
            ..Default::default()
        };
        self.store
            .transition_task(
                &task.id,
                &[TaskStatus::Running],
                TaskStatus::Cancelled,
                &update,
            )
            .await?;
        self.events.task_changed(&task.job_id);
        Ok(())
    }

    /// Records a terminal state, then acks: a crash in between redelivers the message, and the
    /// redelivery sees the terminal state and only acks.
    async fn finish(
        &self,
        lease: &Lease,
        task: &TaskRecord,
        to: TaskStatus,
        update: TaskUpdate,
    ) -> Result<(), RunnerError> {
        let from = [TaskStatus::Pending, TaskStatus::Ready, TaskStatus::Running];
        self.store
            .transition_task(&task.id, &from, to, &update)
            .await?;
        self.queue.ack(lease).await?;
        self.events.task_changed(&task.job_id);
        Ok(())
    }
}

/// Whether a job in `status` runs no more tasks (being cancelled, or finished).
fn is_stopping(status: JobStatus) -> bool {
    status == JobStatus::Cancelling || status.is_terminal()
}

fn artifact_names(output: &serde_json::Value) -> Vec<String> {
    output
        .get(ARTIFACTS_FIELD)
        .and_then(serde_json::Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(|name| name.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn tempfile_dir(parent: &std::path::Path) -> Result<tempfile::TempDir, dalston_store::StoreError> {
    std::fs::create_dir_all(parent)?;
    Ok(tempfile::Builder::new()
        .prefix("task-")
        .tempdir_in(parent)?)
}
