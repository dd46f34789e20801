//! The orchestrator and the runner over the real embedded store, queue and blob store, with
//! engines that fail on purpose: retries with backoff, a failed job's reason, optional stages,
//! reclaiming a task whose worker died, and cancelling a job while its task runs. (The real
//! engines are covered by the server's API tests; these engines exercise the machinery around
//! them.)
#![expect(clippy::expect_used, reason = "tests panic with a message on failure")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use dalston_core::dag::{AvailableEngines, build_dag};
use dalston_core::params::TimestampsGranularity;
use dalston_core::retry::RetryPolicy;
use dalston_core::{JobId, JobParameters, JobStatus, Stage, TaskStatus};
use dalston_engine::runner::{Runner, RunnerConfig, StepOutcome};
use dalston_engine::{
    Engine, EngineCapabilities, EngineError, TaskContext, TaskEvents, TaskInput, TaskOutput,
};
use dalston_orchestrator::Orchestrator;
use dalston_queue::{EmbeddedQueue, TaskQueue};
use dalston_store::clock::now_ms;
use dalston_store::{BlobStore, JobRecord, MetadataStore, SqliteStore};

/// Fails its first `failures` calls with `error`, then succeeds.
struct FlakyEngine {
    stage: Stage,
    failures: u32,
    calls: AtomicU32,
    error: fn() -> EngineError,
}

#[async_trait]
impl Engine for FlakyEngine {
    fn capabilities(&self) -> EngineCapabilities {
        EngineCapabilities {
            engine_id: format!("flaky-{}", self.stage),
            stage: self.stage,
            models: vec![],
            word_timestamps: false,
        }
    }

    async fn process(
        &self,
        _input: TaskInput,
        _context: TaskContext,
    ) -> Result<TaskOutput, EngineError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err((self.error)());
        }
        Ok(TaskOutput {
            result: serde_json::json!({ "ok": true }),
            ..TaskOutput::default()
        })
    }
}

fn flaky(stage: Stage, failures: u32, error: fn() -> EngineError) -> Arc<FlakyEngine> {
    Arc::new(FlakyEngine {
        stage,
        failures,
        calls: AtomicU32::new(0),
        error,
    })
}

/// Works until its task is cancelled, and says when it is running: after its first pause, by
/// when the runner has handled the heartbeat it sends as the task starts (the runner's loop
/// only polls the engine between heartbeats).
#[derive(Default)]
struct UntilCancelled {
    running: tokio::sync::Notify,
}

#[async_trait]
impl Engine for UntilCancelled {
    fn capabilities(&self) -> EngineCapabilities {
        EngineCapabilities {
            engine_id: "until-cancelled".into(),
            stage: Stage::Prepare,
            models: vec![],
            word_timestamps: false,
        }
    }

    async fn process(
        &self,
        _input: TaskInput,
        context: TaskContext,
    ) -> Result<TaskOutput, EngineError> {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if context.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            self.running.notify_one();
        }
    }
}

struct NoEvents;

impl TaskEvents for NoEvents {
    fn task_changed(&self, _job_id: &JobId) {}
}

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<dyn MetadataStore>,
    queue: Arc<dyn TaskQueue>,
    blobs: BlobStore,
    orchestrator: Orchestrator,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteStore::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .expect("db");
    let queue: Arc<dyn TaskQueue> = Arc::new(EmbeddedQueue::new(sqlite.pool().clone(), 3));
    let store: Arc<dyn MetadataStore> = Arc::new(sqlite);
    let blobs =
        BlobStore::from_url(&format!("file://{}/blobs", dir.path().display())).expect("blobs");
    let orchestrator = Orchestrator::new(Arc::clone(&store), Arc::clone(&queue), blobs.clone());
    Harness {
        _dir: dir,
        store,
        queue,
        blobs,
        orchestrator,
    }
}

impl Harness {
    fn runner(&self, engine: Arc<dyn Engine>, worker: &str, lease: Duration) -> Runner {
        Runner::new(
            engine,
            Arc::clone(&self.store),
            self.blobs.clone(),
            Arc::clone(&self.queue),
            Arc::new(NoEvents),
            RunnerConfig {
                worker_id: worker.into(),
                lease,
                retry: RetryPolicy {
                    max_attempts: 3,
                    base_delay: Duration::from_millis(20),
                    max_delay: Duration::from_millis(50),
                },
                idle_wait: Duration::from_millis(10),
                scratch_dir: self._dir.path().join("scratch"),
            },
        )
    }

    async fn create_job(&self) -> JobId {
        self.create_job_with(JobParameters::default()).await
    }

    async fn create_job_with(&self, parameters: JobParameters) -> JobId {
        let parameters = JobParameters {
            timestamps_granularity: TimestampsGranularity::Segment,
            ..parameters
        };
        let plan = build_dag(&parameters, &AvailableEngines::default());
        let job = JobRecord {
            id: JobId::generate(),
            status: JobStatus::Pending,
            display_name: "test".into(),
            parameters,
            owner_key_id: None,
            original_blob_key: None,
            original_size_bytes: None,
            audio: Default::default(),
            transcript_blob_key: None,
            warnings: plan.warnings.clone(),
            error: None,
            created_at_ms: now_ms(),
            started_at_ms: None,
            completed_at_ms: None,
            purge_after_ms: None,
        };
        self.store
            .create_job(&job, &plan.tasks)
            .await
            .expect("create job");
        self.orchestrator
            .evaluate_job(&job.id)
            .await
            .expect("evaluate");
        job.id
    }

    /// Runs every runner and the orchestrator until nothing is left to do.
    async fn drive(&self, job_id: &JobId, runners: &[Runner]) -> JobRecord {
        for _ in 0..500 {
            let mut worked = false;
            for runner in runners {
                worked |= runner.run_once().await.expect("runner step") == StepOutcome::Worked;
            }
            self.orchestrator.sweep().await.expect("sweep");
            let job = self.store.get_job(job_id).await.expect("get").expect("job");
            if job.status.is_terminal() {
                return job;
            }
            if !worked {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        panic!("job {job_id} never finished");
    }
}

fn retryable() -> EngineError {
    EngineError::Failed("the disk hiccuped".into())
}

fn invalid() -> EngineError {
    EngineError::InvalidInput {
        code: "unsupported_audio",
        message: "the upload is a PNG image, not audio".into(),
    }
}

#[tokio::test]
async fn failed_attempts_are_retried_with_backoff_then_the_job_completes() {
    let h = harness().await;
    let job_id = h.create_job().await;
    let lease = Duration::from_secs(30);
    let runners = [
        h.runner(flaky(Stage::Prepare, 2, retryable), "w-prepare", lease),
        h.runner(
            flaky(Stage::Transcribe, 0, retryable),
            "w-transcribe",
            lease,
        ),
        h.runner(flaky(Stage::Merge, 0, retryable), "w-merge", lease),
    ];
    let job = h.drive(&job_id, &runners).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    let tasks = h.store.tasks_for_job(&job_id).await.expect("tasks");
    assert_eq!(tasks[0].attempts, 3, "two failures, then success");
    assert!(
        tasks
            .iter()
            .all(|task| task.status == TaskStatus::Completed)
    );
    assert!(job.transcript_blob_key.is_some());
}

#[tokio::test]
async fn a_non_retryable_failure_fails_the_job_at_once_with_its_reason() {
    let h = harness().await;
    let job_id = h.create_job().await;
    let lease = Duration::from_secs(30);
    let prepare = flaky(Stage::Prepare, u32::MAX, invalid);
    let runners = [h.runner(prepare.clone(), "w-prepare", lease)];
    let job = h.drive(&job_id, &runners).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.error.as_deref(),
        Some("prepare failed: the upload is a PNG image, not audio")
    );
    assert_eq!(
        prepare.calls.load(Ordering::SeqCst),
        1,
        "no retry for invalid input"
    );
    let tasks = h.store.tasks_for_job(&job_id).await.expect("tasks");
    assert!(
        tasks[1..]
            .iter()
            .all(|task| task.status == TaskStatus::Cancelled),
        "{tasks:?}"
    );
    assert!(h.queue.depth().await.expect("depth").is_empty());
}

#[tokio::test]
async fn retries_are_bounded() {
    let h = harness().await;
    let job_id = h.create_job().await;
    let prepare = flaky(Stage::Prepare, u32::MAX, retryable);
    let runners = [h.runner(prepare.clone(), "w-prepare", Duration::from_secs(30))];
    let job = h.drive(&job_id, &runners).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(prepare.calls.load(Ordering::SeqCst), 3);
    assert!(
        job.error
            .as_deref()
            .is_some_and(|e| e.contains("disk hiccuped"))
    );
}

#[tokio::test]
async fn a_task_whose_worker_died_is_reclaimed_by_another() {
    let h = harness().await;
    let job_id = h.create_job().await;
    // A worker claims prepare and dies without a heartbeat: its lease is already expired.
    let dead = h
        .queue
        .claim("dead-worker", &[Stage::Prepare], Duration::ZERO)
        .await
        .expect("claim")
        .expect("lease");
    assert_eq!(dead.message.job_id, job_id);
    let lease = Duration::from_secs(30);
    let prepare = flaky(Stage::Prepare, 0, retryable);
    let runners = [
        h.runner(prepare.clone(), "w-prepare", lease),
        h.runner(
            flaky(Stage::Transcribe, 0, retryable),
            "w-transcribe",
            lease,
        ),
        h.runner(flaky(Stage::Merge, 0, retryable), "w-merge", lease),
    ];
    let job = h.drive(&job_id, &runners).await;
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(
        prepare.calls.load(Ordering::SeqCst),
        1,
        "ran once, on the live worker"
    );
    assert!(
        !h.queue.heartbeat(&dead, lease).await.expect("heartbeat"),
        "the dead worker lost its lease"
    );
}

#[tokio::test]
async fn cancelling_a_pending_job_cancels_every_task() {
    let h = harness().await;
    let job_id = h.create_job().await;
    let job = h.store.get_job(&job_id).await.expect("get").expect("job");
    assert_eq!(
        h.orchestrator.cancel_job(&job).await.expect("cancel"),
        Some(JobStatus::Cancelled)
    );
    let tasks = h.store.tasks_for_job(&job_id).await.expect("tasks");
    assert!(
        tasks
            .iter()
            .all(|task| task.status == TaskStatus::Cancelled),
        "{tasks:?}"
    );
    assert!(h.queue.depth().await.expect("depth").is_empty());
    let job = h.store.get_job(&job_id).await.expect("get").expect("job");
    assert_eq!(
        h.orchestrator.cancel_job(&job).await.expect("cancel"),
        None,
        "already terminal"
    );
}

/// Cancelling removes the job's messages, the running task's leased one too: its runner loses
/// the lease, and must still record the task stopped, or the job stays `cancelling` for good.
#[tokio::test]
async fn cancelling_a_running_job_stops_its_running_task_and_finishes() {
    let h = harness().await;
    let job_id = h.create_job().await;
    let engine = Arc::new(UntilCancelled::default());
    // The runner heartbeats every 200 ms, so it soon finds its message gone.
    let runner = h.runner(engine.clone(), "w-prepare", Duration::from_millis(600));
    let step = tokio::spawn(async move { runner.run_once().await });
    engine.running.notified().await;
    h.orchestrator
        .evaluate_job(&job_id)
        .await
        .expect("evaluate");
    let job = h.store.get_job(&job_id).await.expect("get").expect("job");
    assert_eq!(job.status, JobStatus::Running);
    assert_eq!(
        h.orchestrator.cancel_job(&job).await.expect("cancel"),
        Some(JobStatus::Cancelling)
    );
    let outcome = tokio::time::timeout(Duration::from_secs(10), step)
        .await
        .expect("the engine is stopped")
        .expect("join");
    assert_eq!(outcome.expect("runner step"), StepOutcome::Worked);
    h.orchestrator
        .evaluate_job(&job_id)
        .await
        .expect("evaluate");
    let job = h.store.get_job(&job_id).await.expect("get").expect("job");
    assert_eq!(job.status, JobStatus::Cancelled);
    let tasks = h.store.tasks_for_job(&job_id).await.expect("tasks");
    assert!(
        tasks
            .iter()
            .all(|task| task.status == TaskStatus::Cancelled),
        "{tasks:?}"
    );
}

#[tokio::test]
async fn a_transient_job_is_deleted_once_finished() {
    let h = harness().await;
    let job_id = h
        .create_job_with(JobParameters {
            retention_days: Some(0),
            ..Default::default()
        })
        .await;
    let kept = h
        .create_job_with(JobParameters {
            retention_days: Some(30),
            ..Default::default()
        })
        .await;
    let lease = Duration::from_secs(30);
    let runners = [
        h.runner(flaky(Stage::Prepare, 0, retryable), "w-prepare", lease),
        h.runner(
            flaky(Stage::Transcribe, 0, retryable),
            "w-transcribe",
            lease,
        ),
        h.runner(flaky(Stage::Merge, 0, retryable), "w-merge", lease),
    ];
    let job = h.drive(&kept, &runners).await;
    assert!(
        job.purge_after_ms
            .is_some_and(|at| at > now_ms() + 29 * 86_400_000),
        "{job:?}"
    );
    for _ in 0..50 {
        if h.store.get_job(&job_id).await.expect("get").is_none() {
            break;
        }
        for runner in &runners {
            runner.run_once().await.expect("step");
        }
        h.orchestrator.sweep().await.expect("sweep");
    }
    assert!(
        h.store.get_job(&job_id).await.expect("get").is_none(),
        "transient job still stored"
    );
    assert!(
        h.store
            .tasks_for_job(&job_id)
            .await
            .expect("tasks")
            .is_empty()
    );
    assert!(h.store.get_job(&kept).await.expect("get").is_some());
}
