//! The task queue: how ready tasks reach the engines that run them.
//!
//! The queue is transport only: task state (status, attempts, outputs) lives in the metadata
//! store. A message is delivered to one worker at a time under a *lease*; the worker heartbeats
//! to extend it and acks when done. A lease that expires (the worker died) makes the message
//! claimable again; after `max_deliveries` the message is dead-lettered and the orchestrator fails
//! its task. Delivery is at-least-once: consumers must be idempotent (the store's guarded
//! transitions make a second completion a no-op).
//!
//! [`EmbeddedQueue`] keeps messages in the SQLite file of the embedded mode and wakes in-process
//! workers through a `tokio::sync::Notify`; [`RedisQueue`] (Redis Streams with a consumer group)
//! serves the distributed mode, where engines on many machines share the queue, and carries job
//! events over Redis pub/sub ([`self::redis::subscribe_events`]).

mod embedded;
mod error;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;
use dalston_core::{JobId, Stage, TaskId};

pub use self::redis::RedisQueue;
pub use embedded::{DEFAULT_MAX_DELIVERIES, EmbeddedQueue};
pub use error::QueueError;

/// A task waiting to be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMessage {
    pub task_id: TaskId,
    pub job_id: JobId,
    pub stage: Stage,
    /// Not claimable before this delay has passed (retry backoff).
    pub delay: Duration,
}

/// A claimed message. Holding it means no other worker runs the task until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub message: TaskMessage,
    pub worker_id: String,
    /// How many times the message has been handed out, this delivery included.
    pub deliveries: u32,
}

/// A message that exceeded its deliveries (its workers kept dying).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub task_id: TaskId,
    pub job_id: JobId,
    pub stage: Stage,
    pub deliveries: u32,
}

#[async_trait]
pub trait TaskQueue: Send + Sync + 'static {
    /// Adds a message. Idempotent: a task that already has a message (queued, leased or backing
    /// off) keeps it unchanged, so the orchestrator may re-enqueue ready tasks freely.
    async fn enqueue(&self, message: TaskMessage) -> Result<(), QueueError>;

    /// Claims the oldest available message of one of `stages` for `lease_for`.
    ///
    /// # Cancel safety
    /// A claim that was committed but whose future was dropped simply expires and is redelivered.
    async fn claim(
        &self,
        worker_id: &str,
        stages: &[Stage],
        lease_for: Duration,
    ) -> Result<Option<Lease>, QueueError>;

    /// Extends the lease. `false` when the lease was lost (expired and claimed by someone else,
    /// or the message was removed): the worker must stop and not report a result.
    async fn heartbeat(&self, lease: &Lease, extend_by: Duration) -> Result<bool, QueueError>;

    /// The task finished (successfully or for good): the message goes away.
    async fn ack(&self, lease: &Lease) -> Result<(), QueueError>;

    /// The attempt failed and should run again after `delay`.
    async fn retry(&self, lease: &Lease, delay: Duration) -> Result<(), QueueError>;

    /// Removes every message of a job (cancel, delete).
    async fn remove_job(&self, job_id: &JobId) -> Result<(), QueueError>;

    /// Dead letters not yet taken; taking them removes them.
    async fn take_dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError>;

    /// Messages waiting (not leased) per stage.
    async fn depth(&self) -> Result<Vec<(Stage, u64)>, QueueError>;

    /// Resolves when a message may have become available for `stages`, or after `timeout`.
    async fn wait_for_work(&self, stages: &[Stage], timeout: Duration);
}
