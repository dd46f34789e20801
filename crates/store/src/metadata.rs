//! The metadata store trait.

use async_trait::async_trait;
use dalston_core::dag::PlannedTask;
use dalston_core::{JobId, JobStatus, KeyId, TaskId, TaskStatus};

use crate::{
    ApiKeyRecord, AudioMetadata, JobCounts, JobFilter, JobRecord, JobUpdate, StoreError,
    TaskRecord, TaskUpdate,
};

/// Jobs, tasks and API keys. Every status change is a compare-and-set: it names the states it
/// expects and returns `false` (changing nothing) when the row is in another state.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Inserts a job and its planned tasks in one transaction.
    async fn create_job(&self, job: &JobRecord, tasks: &[PlannedTask]) -> Result<(), StoreError>;
    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, StoreError>;
    /// Newest first.
    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError>;
    /// Jobs that are not in a terminal state, oldest first.
    async fn active_job_ids(&self) -> Result<Vec<JobId>, StoreError>;
    async fn transition_job(
        &self,
        id: &JobId,
        from: &[JobStatus],
        to: JobStatus,
        update: &JobUpdate,
    ) -> Result<bool, StoreError>;
    async fn set_job_audio(&self, id: &JobId, audio: &AudioMetadata) -> Result<(), StoreError>;
    async fn add_job_warnings(&self, id: &JobId, warnings: &[String]) -> Result<(), StoreError>;
    /// Forgets the original audio (after `DELETE …/audio` or retention).
    async fn clear_original_audio(&self, id: &JobId) -> Result<(), StoreError>;
    async fn delete_job(&self, id: &JobId) -> Result<bool, StoreError>;
    /// Jobs of `owner` (every job when `None`) that are pending, running or cancelling.
    async fn count_active_jobs(&self, owner: Option<&KeyId>) -> Result<u64, StoreError>;
    /// Finished jobs whose retention ran out by `now_ms`.
    async fn expired_job_ids(&self, now_ms: i64) -> Result<Vec<JobId>, StoreError>;
    async fn count_jobs(&self) -> Result<JobCounts, StoreError>;

    async fn tasks_for_job(&self, job_id: &JobId) -> Result<Vec<TaskRecord>, StoreError>;
    async fn get_task(&self, id: &TaskId) -> Result<Option<TaskRecord>, StoreError>;
    async fn transition_task(
        &self,
        id: &TaskId,
        from: &[TaskStatus],
        to: TaskStatus,
        update: &TaskUpdate,
    ) -> Result<bool, StoreError>;
    /// Progress of a running task, 0.0–1.0 (no status change).
    async fn set_task_progress(&self, id: &TaskId, fraction: f32) -> Result<(), StoreError>;

    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    async fn find_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    async fn get_key(&self, id: &KeyId) -> Result<Option<ApiKeyRecord>, StoreError>;
    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    async fn revoke_key(&self, id: &KeyId, at_ms: i64) -> Result<bool, StoreError>;
    async fn touch_key(&self, id: &KeyId, at_ms: i64) -> Result<(), StoreError>;
    async fn count_active_keys(&self) -> Result<u64, StoreError>;

    /// Cheap round trip used by `/ready`.
    async fn ping(&self) -> Result<(), StoreError>;
}
