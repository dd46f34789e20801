//! Synchronous requests (the OpenAI and ElevenLabs APIs): the job runs through the normal
//! pipeline while the request waits for its transcript.

use std::time::Duration;

use dalston_core::{JobId, JobStatus, Transcript};

use crate::error::ApiError;
use crate::state::AppState;

/// Waits until the job is terminal (at most `limits.sync_wait_secs`) and returns its transcript.
///
/// # Errors
/// The job's own error (400) when it failed, 409 when cancelled, 503 on timeout (the job goes on
/// and stays reachable through the native API).
pub async fn wait_for_transcript(state: &AppState, job_id: &JobId) -> Result<Transcript, ApiError> {
    let timeout = Duration::from_secs(state.limits.sync_wait_secs);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let job = state
            .store
            .get_job(job_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("job {job_id} vanished")))?;
        match job.status {
            JobStatus::Completed => {
                return super::jobs::load_transcript(state, &job)
                    .await?
                    .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no transcript")));
            }
            JobStatus::Failed => {
                return Err(ApiError::BadRequest(
                    job.error.unwrap_or_else(|| "transcription failed".into()),
                ));
            }
            JobStatus::Cancelled => {
                return Err(ApiError::Conflict(format!("job {job_id} was cancelled")));
            }
            JobStatus::Pending | JobStatus::Running | JobStatus::Cancelling => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::Unavailable(format!(
                "the transcription did not finish within {} s; it continues as job {job_id} on the native API",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
