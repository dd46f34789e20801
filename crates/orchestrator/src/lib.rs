//! The orchestrator: it owns job state.
//!
//! Planning is pure ([`dalston_core::dag`]); this crate applies the plan's actions to the store
//! and the queue. It is a step function, [`Orchestrator::evaluate_job`], driven by task-change
//! events (an in-process channel in the embedded mode) plus a periodic sweep that re-evaluates
//! every active job, so a lost event or a restart never leaves a job stuck: on start-up the
//! sweep resumes every job where it stopped.

use std::sync::Arc;
use std::time::Duration;

use dalston_core::dag::{DagAction, TaskView, next_actions};
use dalston_core::webhook::{self, WebhookEvent, WebhookStyle};
use dalston_core::{DeliveryId, JobEvent, JobId, JobStatus, TaskStatus, WebhookId};
use dalston_queue::{TaskMessage, TaskQueue};
use dalston_store::clock::now_ms;
use dalston_store::{
    BlobKey, BlobStore, JobRecord, JobUpdate, MetadataStore, StoreError, TaskRecord, TaskUpdate,
};
use dalston_store::{DeliveryRecord, DeliveryStatus, WebhookStore};
use tokio::sync::{mpsc, watch};

/// Artifact name of the transcript written by the merge stage.
pub const TRANSCRIPT_ARTIFACT: &str = "transcript.json";

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] dalston_queue::QueueError),
}

#[derive(Clone)]
pub struct Orchestrator {
    store: Arc<dyn MetadataStore>,
    queue: Arc<dyn TaskQueue>,
    blobs: BlobStore,
    /// Where finished jobs' webhook deliveries are queued; `None` sends none.
    webhooks: Option<Arc<dyn WebhookStore>>,
}

impl std::fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orchestrator").finish_non_exhaustive()
    }
}

fn task_view(task: &TaskRecord) -> TaskView {
    TaskView {
        id: task.id.clone(),
        stage: task.stage,
        status: task.status,
        required: task.required,
        depends_on: task.depends_on.clone(),
        error: task.error.clone(),
    }
}

/// The update that ends a job now: completion time and, from its retention, when to purge it.
fn finished(job: &JobRecord) -> JobUpdate {
    let now = now_ms();
    JobUpdate {
        completed_at_ms: Some(now),
        purge_after_ms: job.parameters.purge_after_ms(now),
        ..Default::default()
    }
}

impl Orchestrator {
    pub fn new(store: Arc<dyn MetadataStore>, queue: Arc<dyn TaskQueue>, blobs: BlobStore) -> Self {
        Self {
            store,
            queue,
            blobs,
            webhooks: None,
        }
    }

    /// Queues webhook deliveries for finished jobs in `webhooks` (the durable outbox).
    #[must_use]
    pub fn with_webhooks(mut self, webhooks: Arc<dyn WebhookStore>) -> Self {
        self.webhooks = Some(webhooks);
        self
    }

    /// Inserts one delivery per target of the event the job's new `status` raises: the job's own
    /// `webhook_url` and every active registered webhook subscribed to it. Runs right after the
    /// job's terminal transition; a crash in between loses the notification, not the job.
    async fn queue_webhooks(
        &self,
        job: &JobRecord,
        status: JobStatus,
        error: Option<&str>,
    ) -> Result<(), OrchestratorError> {
        let (Some(webhooks), Some(event)) = (&self.webhooks, WebhookEvent::for_status(status))
        else {
            return Ok(());
        };
        let now = now_ms();
        let body = webhook::payload(
            event,
            &job.id,
            status,
            error,
            job.parameters.webhook_metadata.as_ref(),
            now / 1000,
        );
        let mut targets: Vec<(Option<WebhookId>, String)> = Vec::new();
        let (event_name, body) = match job.parameters.webhook_style {
            WebhookStyle::Standard => {
                if let Some(url) = &job.parameters.webhook_url {
                    targets.push((None, url.clone()));
                }
                (event.as_str(), body)
            }
            // ElevenLabs deliveries carry the transcript in their shape; the deliverer renders it
            // when it sends, so only the job is named here. Cancellations are not reported.
            WebhookStyle::ElevenLabs if status == JobStatus::Cancelled => return Ok(()),
            WebhookStyle::ElevenLabs => (
                webhook::ELEVENLABS_EVENT,
                serde_json::json!({ "job_id": job.id }),
            ),
        };
        let subscribed = webhooks
            .webhooks_for_event(WebhookEvent::Completed.as_str(), job.owner_key_id.as_ref())
            .await?;
        let registered = match (job.parameters.webhook_style, &job.parameters.webhook_id) {
            (WebhookStyle::ElevenLabs, Some(only)) => subscribed
                .into_iter()
                .filter(|w| w.id.as_str() == only)
                .collect(),
            (WebhookStyle::ElevenLabs, None) => subscribed,
            (WebhookStyle::Standard, _) => {
                webhooks
                    .webhooks_for_event(event.as_str(), job.owner_key_id.as_ref())
                    .await?
            }
        };
        for webhook in registered {
            targets.push((Some(webhook.id), webhook.url));
        }
        for (webhook_id, url) in targets {
            let delivery = DeliveryRecord {
                id: DeliveryId::generate(),
                webhook_id,
                job_id: job.id.clone(),
                event: event_name.to_owned(),
                url,
                payload: body.to_string(),
                status: DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at_ms: Some(now),
                last_status_code: None,
                last_error: None,
                created_at_ms: now,
                updated_at_ms: now,
            };
            webhooks.insert_delivery(&delivery).await?;
        }
        Ok(())
    }

    /// Serves events until `shutdown`; sweeps all active jobs at start and every `sweep_every`.
    pub async fn run(
        self,
        mut events: mpsc::UnboundedReceiver<JobId>,
        sweep_every: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut sweep = tokio::time::interval(sweep_every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = sweep.tick() => {
                    if let Err(error) = self.sweep().await {
                        tracing::error!(error = %error, "orchestrator sweep failed");
                    }
                }
                Some(job_id) = events.recv() => {
                    // Coalesce a burst of events (progress updates) into one evaluation per job.
                    let mut pending = vec![job_id];
                    while let Ok(more) = events.try_recv() {
                        if !pending.contains(&more) {
                            pending.push(more);
                        }
                    }
                    for job_id in pending {
                        if let Err(error) = self.evaluate_job(&job_id).await {
                            tracing::error!(job_id = %job_id, error = %error, "job evaluation failed");
                        }
                    }
                }
            }
        }
    }

    /// Fails the tasks of dead-lettered messages, then re-evaluates every active job.
    ///
    /// # Errors
    /// Store or queue failures.
    pub async fn sweep(&self) -> Result<(), OrchestratorError> {
        for dead in self.queue.take_dead_letters().await? {
            let Some(task) = self.store.get_task(&dead.task_id).await? else {
                continue;
            };
            let to = if task.required {
                TaskStatus::Failed
            } else {
                TaskStatus::Skipped
            };
            let error = format!(
                "the worker running this task stopped responding {} times",
                dead.deliveries
            );
            let update = TaskUpdate {
                error: Some(error),
                completed_at_ms: Some(now_ms()),
                ..Default::default()
            };
            self.store
                .transition_task(
                    &task.id,
                    &[TaskStatus::Ready, TaskStatus::Running],
                    to,
                    &update,
                )
                .await?;
        }
        for job_id in self.store.active_job_ids().await? {
            self.evaluate_job(&job_id).await?;
        }
        for job_id in self.store.expired_job_ids(now_ms()).await? {
            if let Some(job) = self.store.get_job(&job_id).await? {
                tracing::info!(job_id = %job_id, "deleting a job whose retention ran out");
                self.delete_job(&job).await?;
            }
        }
        Ok(())
    }

    /// Applies the next actions of one job until none is left.
    ///
    /// # Errors
    /// Store or queue failures (the next sweep tries again).
    #[tracing::instrument(skip_all, fields(job_id = %job_id))]
    pub async fn evaluate_job(&self, job_id: &JobId) -> Result<(), OrchestratorError> {
        // Each round applies actions whose effects may enable more (a skip unblocks merge);
        // the bound only guards against a planning bug looping forever.
        for _ in 0..16 {
            let Some(job) = self.store.get_job(job_id).await? else {
                return Ok(());
            };
            let tasks = self.store.tasks_for_job(job_id).await?;
            self.ensure_ready_tasks_are_queued(&job, &tasks).await?;
            let views: Vec<TaskView> = tasks.iter().map(task_view).collect();
            let actions = next_actions(job.status, &views);
            if actions.is_empty() {
                return Ok(());
            }
            for action in actions {
                self.apply(&job, &tasks, action).await?;
            }
        }
        Ok(())
    }

    /// Enqueuing is idempotent, so every evaluation makes sure each ready task has a message:
    /// a crash between marking a task ready and enqueuing it is repaired here.
    async fn ensure_ready_tasks_are_queued(
        &self,
        job: &JobRecord,
        tasks: &[TaskRecord],
    ) -> Result<(), OrchestratorError> {
        if job.status.is_terminal() || job.status == JobStatus::Cancelling {
            return Ok(());
        }
        for task in tasks.iter().filter(|task| task.status == TaskStatus::Ready) {
            self.queue
                .enqueue(TaskMessage {
                    task_id: task.id.clone(),
                    job_id: job.id.clone(),
                    stage: task.stage,
                    delay: Duration::ZERO,
                })
                .await?;
        }
        Ok(())
    }

    async fn apply(
        &self,
        job: &JobRecord,
        tasks: &[TaskRecord],
        action: DagAction,
    ) -> Result<(), OrchestratorError> {
        match action {
            DagAction::Enqueue(task_id) => {
                let update = TaskUpdate {
                    ready_at_ms: Some(now_ms()),
                    ..Default::default()
                };
                if self
                    .store
                    .transition_task(&task_id, &[TaskStatus::Pending], TaskStatus::Ready, &update)
                    .await?
                    && let Some(task) = tasks.iter().find(|task| task.id == task_id)
                {
                    tracing::debug!(stage = %task.stage, "task ready");
                    self.queue
                        .enqueue(TaskMessage {
                            task_id,
                            job_id: job.id.clone(),
                            stage: task.stage,
                            delay: Duration::ZERO,
                        })
                        .await?;
                }
            }
            DagAction::Skip(task_id) => {
                let update = TaskUpdate {
                    completed_at_ms: Some(now_ms()),
                    ..Default::default()
                };
                self.store
                    .transition_task(
                        &task_id,
                        &[TaskStatus::Pending],
                        TaskStatus::Skipped,
                        &update,
                    )
                    .await?;
            }
            DagAction::Cancel(task_id) => {
                let update = TaskUpdate {
                    completed_at_ms: Some(now_ms()),
                    ..Default::default()
                };
                self.store
                    .transition_task(
                        &task_id,
                        &[TaskStatus::Pending, TaskStatus::Ready],
                        TaskStatus::Cancelled,
                        &update,
                    )
                    .await?;
            }
            DagAction::StartJob => {
                let update = JobUpdate {
                    started_at_ms: Some(now_ms()),
                    ..Default::default()
                };
                self.transition_job(job, JobEvent::Start, &update).await?;
            }
            DagAction::CompleteJob => {
                let transcript_key = tasks
                    .iter()
                    .find(|task| task.stage == dalston_core::Stage::Merge)
                    .map(|merge| BlobKey::task_artifact(&job.id, &merge.id, TRANSCRIPT_ARTIFACT));
                let update = JobUpdate {
                    transcript_blob_key: transcript_key,
                    ..finished(job)
                };
                if self
                    .transition_job(job, JobEvent::Complete, &update)
                    .await?
                {
                    tracing::info!("job completed");
                    self.queue_webhooks(job, JobStatus::Completed, None).await?;
                }
            }
            DagAction::FailJob { reason } => {
                let update = JobUpdate {
                    error: Some(reason.clone()),
                    ..finished(job)
                };
                if self.transition_job(job, JobEvent::Fail, &update).await? {
                    tracing::info!(reason = %reason, "job failed");
                    self.queue.remove_job(&job.id).await?;
                    self.queue_webhooks(job, JobStatus::Failed, Some(&reason))
                        .await?;
                }
            }
            DagAction::FinishCancel => {
                let update = finished(job);
                if self
                    .transition_job(job, JobEvent::Cancelled, &update)
                    .await?
                {
                    tracing::info!("job cancelled");
                    self.queue.remove_job(&job.id).await?;
                    self.queue_webhooks(job, JobStatus::Cancelled, None).await?;
                }
            }
        }
        Ok(())
    }

    /// Persists a job transition decided by the core state machine, guarded by the state it was
    /// decided from. `false` when the state machine or the guard refused.
    async fn transition_job(
        &self,
        job: &JobRecord,
        event: JobEvent,
        update: &JobUpdate,
    ) -> Result<bool, OrchestratorError> {
        let Ok(next) = job.status.on(event) else {
            tracing::debug!(status = %job.status, event = ?event, "ignoring an event the job state does not allow");
            return Ok(false);
        };
        Ok(self
            .store
            .transition_job(&job.id, &[job.status], next, update)
            .await?)
    }

    /// Requests cancellation: a pending job is cancelled at once, a running one goes through
    /// `cancelling` until its running task stops. Returns the job's new status, or `None` when
    /// the job is already terminal.
    ///
    /// # Errors
    /// Store or queue failures.
    pub async fn cancel_job(
        &self,
        job: &JobRecord,
    ) -> Result<Option<JobStatus>, OrchestratorError> {
        let mut job = job.clone();
        // The job can move under us (a pending job starts running, a running one finishes): the
        // guarded update then changes nothing, and the cancel is decided again from the state it
        // is in now. Each retry follows a real transition, so a handful is plenty.
        let next = loop {
            let Ok(next) = job.status.on(JobEvent::Cancel) else {
                return Ok(None);
            };
            let update = if next == JobStatus::Cancelled {
                finished(&job)
            } else {
                JobUpdate::default()
            };
            if self
                .store
                .transition_job(&job.id, &[job.status], next, &update)
                .await?
            {
                break next;
            }
            match self.store.get_job(&job.id).await? {
                Some(fresh) => job = fresh,
                None => return Ok(None),
            }
        };
        let job = &job;
        self.queue.remove_job(&job.id).await?;
        if next == JobStatus::Cancelled {
            self.queue_webhooks(job, JobStatus::Cancelled, None).await?;
            for task in self.store.tasks_for_job(&job.id).await? {
                let update = TaskUpdate {
                    completed_at_ms: Some(now_ms()),
                    ..Default::default()
                };
                self.store
                    .transition_task(
                        &task.id,
                        &[TaskStatus::Pending, TaskStatus::Ready],
                        TaskStatus::Cancelled,
                        &update,
                    )
                    .await?;
            }
        }
        self.evaluate_job(&job.id).await?;
        Ok(Some(next))
    }

    /// Deletes a terminal job with its audio and artifacts.
    ///
    /// # Errors
    /// Store failures.
    pub async fn delete_job(&self, job: &JobRecord) -> Result<(), OrchestratorError> {
        self.queue.remove_job(&job.id).await?;
        self.blobs
            .delete_prefix(&BlobKey::job_prefix(&job.id))
            .await?;
        self.store.delete_job(&job.id).await?;
        Ok(())
    }
}
