//! How the runner tells the orchestrator that a job's tasks changed.

use dalston_core::JobId;

/// Receives "something changed in this job" signals. The embedded mode passes them over an
/// in-process channel; the distributed mode publishes them on Redis.
pub trait TaskEvents: Send + Sync + 'static {
    fn task_changed(&self, job_id: &JobId);
}

impl TaskEvents for tokio::sync::mpsc::UnboundedSender<JobId> {
    fn task_changed(&self, job_id: &JobId) {
        // A closed channel means the orchestrator is shutting down; its start-up scan of active
        // jobs catches up on anything missed.
        let _ = self.send(job_id.clone());
    }
}
