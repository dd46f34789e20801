//! Hybrid mode (`enhance_on_end=true`): the session's audio is recorded while it streams, and
//! when the session ends a batch job runs the full pipeline on it (word timings from the whole
//! recording, speaker diarization), so a live caption can be followed by the accurate
//! transcript.
//!
//! The recording is the 16 kHz mono audio the session decoded, written block by block to a
//! scratch WAV file (never held in memory); the job is made from it exactly as from an upload,
//! so the same limits and validation apply.

use dalston_audio::WavWriter;
use dalston_core::params::{SpeakerDetection, TimestampsGranularity};
use dalston_core::{JobId, JobParameters, KeyId};

use crate::state::AppState;
use crate::upload::{self, AudioFile, ScratchFile};

const SAMPLE_RATE_HZ: u32 = 16_000;

/// The audio of a session in hybrid mode.
pub struct SessionRecording {
    file: ScratchFile,
    /// `None` once writing failed: the session goes on live, without its enhancement.
    writer: Option<WavWriter>,
}

impl std::fmt::Debug for SessionRecording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecording")
            .field("path", &self.file.path())
            .finish_non_exhaustive()
    }
}

/// What the enhancement job is made with, from the session.
#[derive(Debug)]
pub struct EnhancementRequest {
    pub session_id: String,
    pub owner: Option<KeyId>,
    pub model: String,
    pub language: Option<String>,
    pub prompt: Option<String>,
}

impl SessionRecording {
    /// Starts a recording in the server's scratch directory.
    ///
    /// # Errors
    /// The scratch file cannot be created.
    pub async fn create(state: &AppState) -> anyhow::Result<Self> {
        let file = ScratchFile::create(state, "realtime").await?;
        let writer = WavWriter::create(file.path(), SAMPLE_RATE_HZ)?;
        Ok(Self {
            file,
            writer: Some(writer),
        })
    }

    /// Appends 16 kHz mono samples. A write is one buffered block of a frame's samples (a few
    /// KiB), cheap enough to do on the socket's task. A failure stops the recording, logged
    /// once; the live session is not affected.
    pub fn write(&mut self, samples: &[f32]) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        if let Err(error) = writer.write(samples) {
            tracing::error!(error = %error, "recording the session's audio failed; there will be no enhancement job");
            self.writer = None;
        }
    }

    /// Finishes the recording and creates the batch job on it; `None` when nothing was
    /// recorded or the job could not be made (logged: the session's end is still reported).
    pub async fn into_job(self, state: &AppState, request: EnhancementRequest) -> Option<JobId> {
        let writer = self.writer?;
        let samples = writer.samples();
        if samples == 0 {
            return None;
        }
        let finished = tokio::task::spawn_blocking(move || writer.finish()).await;
        if let Err(error) = finished
            .map_err(anyhow::Error::from)
            .and_then(|result| result.map_err(anyhow::Error::from))
        {
            tracing::error!(error = %error, "could not finish the session's recording");
            return None;
        }
        let size_bytes = tokio::fs::metadata(self.file.path())
            .await
            .map(|metadata| metadata.len())
            .unwrap_or_default();
        let audio = AudioFile {
            path: self.file.path(),
            name: Some(format!("realtime session {}", request.session_id)),
            size_bytes,
        };
        let parameters = JobParameters {
            model: Some(request.model),
            language: request.language,
            prompt: request.prompt,
            timestamps_granularity: TimestampsGranularity::Word,
            speaker_detection: SpeakerDetection::Diarize,
            ..JobParameters::default()
        };
        let created =
            match upload::prepare_job_from_file(state, request.owner, audio, parameters).await {
                Ok(job) => upload::submit_job(state, &job).await.map(|()| job.job.id),
                Err(error) => Err(error),
            };
        match created {
            Ok(job_id) => {
                tracing::info!(session_id = request.session_id, job_id = %job_id, "enhancement job created");
                Some(job_id)
            }
            Err(error) => {
                tracing::error!(error = %error, session_id = request.session_id, "could not create the enhancement job");
                None
            }
        }
    }
}
