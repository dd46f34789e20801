//! Dalston's domain: ids, job and task state machines, the task DAG, request parameters, the
//! canonical transcript and its exports.
//!
//! This crate does no I/O and knows no runtime, database or HTTP crate: everything here is a pure
//! function of its inputs so it can be unit-tested exhaustively and shared by every role
//! (gateway, orchestrator, engines). Stores persist the results of the transitions defined here;
//! they never decide one.

pub mod dag;
pub mod diarization;
pub mod export;
pub mod ids;
pub mod job;
pub mod language;
mod names;
pub mod params;
pub mod per_channel;
pub mod progress;
pub mod retry;
pub mod stage;
pub mod task;
pub mod transcript;
pub mod webhook;
pub mod wer;

pub use ids::{DeliveryId, IdError, JobId, KeyId, SessionId, TaskId, WebhookId};
pub use job::{JobEvent, JobStatus};
pub use params::JobParameters;
pub use stage::Stage;
pub use task::{TaskEvent, TaskStatus};
pub use transcript::Transcript;

/// A transition that the state machine does not allow from the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid transition from {from} on {event}")]
pub struct InvalidTransition {
    pub from: String,
    pub event: String,
}
