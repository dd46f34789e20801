//! *prepare*: decode whatever was uploaded into the 16 kHz mono WAV every later stage reads.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use dalston_audio::{AudioError, DecodeOptions, FfmpegPolicy};
use dalston_core::Stage;
use dalston_store::AudioMetadata;
use serde::{Deserialize, Serialize};

use crate::runner::ORIGINAL_AUDIO;
use crate::{
    Artifact, Engine, EngineCapabilities, EngineError, TaskContext, TaskInput, TaskOutput,
};

/// Artifact name of the prepared audio.
pub const PREPARED_AUDIO: &str = "prepared.wav";

/// The structured result of prepare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedAudio {
    pub duration_secs: f64,
    pub channels: u16,
    pub sample_rate_hz: u32,
    pub format: String,
}

#[derive(Debug, Clone)]
pub struct PrepareEngine {
    max_duration_secs: f64,
    ffmpeg: FfmpegPolicy,
}

impl PrepareEngine {
    pub fn new(max_duration_secs: f64, ffmpeg: FfmpegPolicy) -> Arc<Self> {
        Arc::new(Self {
            max_duration_secs,
            ffmpeg,
        })
    }
}

fn invalid(error: &AudioError) -> EngineError {
    match error {
        AudioError::Io(_) | AudioError::Resample { .. } => EngineError::Failed(error.to_string()),
        _ => EngineError::InvalidInput {
            code: error.code(),
            message: error.to_string(),
        },
    }
}

#[async_trait]
impl Engine for PrepareEngine {
    fn capabilities(&self) -> EngineCapabilities {
        EngineCapabilities {
            engine_id: "audio-prepare".into(),
            stage: Stage::Prepare,
            models: vec![],
            word_timestamps: false,
        }
    }

    async fn process(
        &self,
        input: TaskInput,
        context: TaskContext,
    ) -> Result<TaskOutput, EngineError> {
        let file = input
            .file(ORIGINAL_AUDIO)
            .ok_or_else(|| EngineError::InvalidInput {
                code: "missing_audio",
                message: "the job has no audio".into(),
            })?
            .path
            .clone();
        let options = DecodeOptions {
            max_duration_secs: Some(self.max_duration_secs),
            ffmpeg: self.ffmpeg,
        };
        let span = tracing::Span::current();
        let decoded = tokio::task::spawn_blocking(move || {
            span.in_scope(|| dalston_audio::decode_file(&file, &options))
        })
        .await
        .map_err(|error| {
            EngineError::Failed(format!("audio decoding stopped unexpectedly: {error}"))
        })?
        .map_err(|error| invalid(&error))?;
        context.report_progress(0.8);
        if decoded.samples.is_empty() {
            return Err(EngineError::InvalidInput {
                code: "empty_audio",
                message: "the audio contains no samples".into(),
            });
        }
        if dalston_audio::is_silent(&decoded.samples) {
            return Err(EngineError::InvalidInput {
                code: "silent_audio",
                message: "the audio is silent: there is no speech to transcribe".into(),
            });
        }
        let info = decoded.info;
        let prepared = PreparedAudio {
            duration_secs: info.duration_secs,
            channels: info.channels,
            sample_rate_hz: info.sample_rate_hz,
            format: info.format.clone(),
        };
        let wav =
            dalston_audio::encode_wav_pcm16(&decoded.samples, dalston_audio::TARGET_SAMPLE_RATE_HZ);
        Ok(TaskOutput {
            result: serde_json::to_value(&prepared)
                .map_err(|e| EngineError::Failed(e.to_string()))?,
            artifacts: vec![Artifact {
                name: PREPARED_AUDIO.into(),
                bytes: Bytes::from(wav),
            }],
            audio: Some(AudioMetadata {
                duration_secs: Some(info.duration_secs),
                channels: Some(info.channels),
                sample_rate_hz: Some(info.sample_rate_hz),
                format: Some(info.format),
            }),
            warnings: Vec::new(),
        })
    }
}
