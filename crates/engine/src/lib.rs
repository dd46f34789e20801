//! Engines and the runner that feeds them.
//!
//! An [`Engine`] is only model code: it gets a [`TaskInput`] with local files and the outputs of
//! the tasks it depends on, and returns a [`TaskOutput`]. The [`runner::Runner`] owns everything
//! else: claiming from the queue, the lease heartbeat, downloading inputs, uploading artifacts,
//! recording the task's state, retries with backoff, and cancellation. One runner loop serves one
//! stage; heavy inference runs on the blocking thread pool so the async runtime stays responsive.

pub mod engine;
pub mod engines;
pub mod events;
pub mod runner;

pub use engine::{
    Artifact, ArtifactFile, Engine, EngineCapabilities, EngineError, InputFile, TaskContext,
    TaskInput, TaskOutput,
};
pub use events::TaskEvents;
