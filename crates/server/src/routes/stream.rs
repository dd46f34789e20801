//! OpenAI's `stream=true`: the transcript as server-sent events, one `transcript.text.delta` per
//! segment as soon as the engine has decoded it (read from the transcribe task's partial
//! result), then `transcript.text.done` with the whole text. With `response_format=diarized_json`
//! speakers are known only once the diarize stage has run, so the segments come when the job is
//! done, each as a `transcript.text.delta` followed by its `transcript.text.segment`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use dalston_core::transcript::{Segment, Transcript};
use dalston_core::{JobId, JobStatus, Stage};
use dalston_engine::runner::PARTIAL_RESULT;
use dalston_store::BlobKey;
use futures::Stream;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// How often the stream looks for newly decoded segments.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Which events a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Events {
    /// Text deltas as segments are decoded.
    Deltas,
    /// Deltas and speaker-labelled segment events, once diarization is done.
    Diarized,
}

struct Progress {
    state: Arc<AppState>,
    events: Events,
    job_id: JobId,
    sent_segments: usize,
    deadline: tokio::time::Instant,
    finished: bool,
}

/// A segment's text as a `transcript.text.delta` body.
fn delta_data(segment: &Segment) -> serde_json::Value {
    json!({ "type": "transcript.text.delta", "delta": format!(" {}", segment.text.trim()) })
}

fn delta(segment: &Segment) -> Event {
    Event::default().data(delta_data(segment).to_string())
}

/// The events for the finished transcript's segments from `skip` on. Diarized deltas name
/// their segment (`segment_id`), as OpenAI's diarize model sends them.
fn final_segment_events(transcript: &Transcript, skip: usize, events: Events) -> Vec<Event> {
    let remaining = transcript.segments.iter().skip(skip);
    match events {
        Events::Deltas => remaining.map(delta).collect(),
        Events::Diarized => super::openai::diarized_segments(transcript)
            .into_iter()
            .skip(skip)
            .zip(remaining)
            .flat_map(|(labelled, segment)| {
                let mut delta = delta_data(segment);
                delta["segment_id"] = json!(segment.id);
                [delta, labelled].map(|data| Event::default().data(data.to_string()))
            })
            .collect(),
    }
}

/// Segments decoded so far by the job's transcribe task (empty until the first window is done).
async fn partial_segments(state: &AppState, job_id: &JobId) -> Result<Vec<Segment>, ApiError> {
    let tasks = state.store.tasks_for_job(job_id).await?;
    let Some(task) = tasks.iter().find(|task| task.stage == Stage::Transcribe) else {
        return Ok(Vec::new());
    };
    let key = BlobKey::task_artifact(job_id, &task.id, PARTIAL_RESULT);
    match state.blobs.get_bytes(&key).await {
        Ok(bytes) => {
            let partial: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
            serde_json::from_value(partial["segments"].clone()).map_err(ApiError::internal)
        }
        Err(error) if error.is_not_found() => Ok(Vec::new()),
        Err(error) => Err(error.into()),
    }
}

/// One step: the events that became available since the last one.
async fn next_events(progress: &mut Progress) -> Result<Vec<Event>, ApiError> {
    let job = progress
        .state
        .store
        .get_job(&progress.job_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("job vanished".into()))?;
    match job.status {
        JobStatus::Completed => {
            let transcript = super::jobs::load_transcript(&progress.state, &job)
                .await?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no transcript")))?;
            let mut events =
                final_segment_events(&transcript, progress.sent_segments, progress.events);
            let usage = json!({ "type": "duration", "seconds": transcript.duration_secs.ceil() });
            events.push(
                Event::default().data(json!({ "type": "transcript.text.done", "text": transcript.text, "usage": usage }).to_string()),
            );
            progress.finished = true;
            Ok(events)
        }
        JobStatus::Failed | JobStatus::Cancelled => Err(ApiError::BadRequest(
            job.error
                .unwrap_or_else(|| format!("the job was {}", job.status)),
        )),
        JobStatus::Pending | JobStatus::Running | JobStatus::Cancelling => {
            if tokio::time::Instant::now() >= progress.deadline {
                return Err(ApiError::Unavailable(format!(
                    "the transcription did not finish in time; it continues as job {}",
                    progress.job_id
                )));
            }
            if progress.events == Events::Diarized {
                return Ok(Vec::new());
            }
            let segments = partial_segments(&progress.state, &progress.job_id).await?;
            let events: Vec<Event> = segments
                .iter()
                .skip(progress.sent_segments)
                .map(delta)
                .collect();
            progress.sent_segments = progress.sent_segments.max(segments.len());
            Ok(events)
        }
    }
}

/// The event stream of a submitted job. An error ends the stream with an `error` event whose
/// `error` is OpenAI's error object (`message`, `type`, `param`, `code`), which the SDK raises.
pub fn transcript_events(
    state: Arc<AppState>,
    job_id: JobId,
    events: Events,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(state.limits.sync_wait_secs);
    let progress = Progress {
        state,
        events,
        job_id,
        sent_segments: 0,
        deadline,
        finished: false,
    };
    let events = futures::stream::unfold(progress, |mut progress| async move {
        loop {
            if progress.finished {
                return None;
            }
            match next_events(&mut progress).await {
                Ok(events) if events.is_empty() => tokio::time::sleep(POLL_INTERVAL).await,
                Ok(events) => {
                    return Some((
                        futures::stream::iter(events.into_iter().map(Ok).collect::<Vec<_>>()),
                        progress,
                    ));
                }
                Err(error) => {
                    progress.finished = true;
                    let body = json!({ "type": "error", "error": super::openai::error_object(&error, None) });
                    let event = Event::default().data(body.to_string());
                    return Some((futures::stream::iter(vec![Ok(event)]), progress));
                }
            }
        }
    });
    Sse::new(futures::StreamExt::flatten(events)).keep_alive(KeepAlive::default())
}
