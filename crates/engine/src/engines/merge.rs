//! *merge*: assembles the canonical transcript from the upstream outputs, giving words and
//! segments their speakers when diarization ran, or interleaving the channels of a per-channel
//! transcription, each channel one speaker.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use dalston_core::diarization::assign::assign_speakers;
use dalston_core::params::TimestampsGranularity;
use dalston_core::per_channel::interleave_channels;
use dalston_core::transcript::{TRANSCRIPT_VERSION, TranscriptMetadata};
use dalston_core::{Stage, Transcript};

use super::diarize::DiarizeResult;
use super::transcribe::TranscribeResult;
use crate::{
    Artifact, Engine, EngineCapabilities, EngineError, TaskContext, TaskInput, TaskOutput,
};

/// Artifact name of the canonical transcript.
pub const TRANSCRIPT: &str = "transcript.json";

#[derive(Debug, Clone, Default)]
pub struct MergeEngine;

impl MergeEngine {
    pub fn new() -> Arc<Self> {
        Arc::new(Self)
    }
}

/// Builds the transcript: pure, so it is tested without any I/O.
pub fn assemble(input: &TaskInput) -> Result<Transcript, EngineError> {
    let mut transcribed: TranscribeResult = input
        .upstream(Stage::Transcribe)
        .ok_or_else(|| EngineError::Failed("the transcription result is missing".into()))
        .and_then(|value| {
            serde_json::from_value(value.clone()).map_err(|error| {
                EngineError::Failed(format!("the transcription result is unreadable: {error}"))
            })
        })?;
    let (segments, speakers) = if transcribed.channels.is_empty() {
        (std::mem::take(&mut transcribed.segments), Vec::new())
    } else {
        interleave_channels(std::mem::take(&mut transcribed.channels))
    };
    let job = &input.job;
    let mut pipeline_stages = vec![Stage::Prepare.to_string()];
    pipeline_stages.extend(input.upstream.iter().map(|(stage, _)| stage.to_string()));
    pipeline_stages.push(Stage::Merge.to_string());
    let duration_secs = job.audio.duration_secs.unwrap_or(transcribed.duration_secs);
    let word_timestamps = segments.iter().any(|segment| !segment.words.is_empty());
    let mut transcript = Transcript {
        version: TRANSCRIPT_VERSION.into(),
        text: Transcript::join_segment_text(&segments),
        language_code: transcribed.language_code,
        language_probability: transcribed.language_probability,
        duration_secs,
        words: segments
            .iter()
            .flat_map(|segment| segment.words.clone())
            .collect(),
        segments,
        speakers,
        metadata: TranscriptMetadata {
            audio_channels: job.audio.channels,
            sample_rate_hz: job.audio.sample_rate_hz,
            audio_format: job.audio.format.clone(),
            language_source: Some(transcribed.language_source),
            model: Some(transcribed.model),
            word_timestamps,
            word_timestamps_requested: job.parameters.timestamps_granularity
                == TimestampsGranularity::Word,
            pipeline_stages,
            warnings: job.warnings.clone(),
            stage_timings_ms: Default::default(),
        },
    };
    if let Some(value) = input.upstream(Stage::Diarize) {
        let diarized: DiarizeResult = serde_json::from_value(value.clone()).map_err(|error| {
            EngineError::Failed(format!("the diarization result is unreadable: {error}"))
        })?;
        assign_speakers(&mut transcript, &diarized.turns);
    }
    Ok(transcript)
}

#[async_trait]
impl Engine for MergeEngine {
    fn capabilities(&self) -> EngineCapabilities {
        EngineCapabilities {
            engine_id: "final-merger".into(),
            stage: Stage::Merge,
            models: vec![],
            word_timestamps: false,
        }
    }

    async fn process(
        &self,
        input: TaskInput,
        _context: TaskContext,
    ) -> Result<TaskOutput, EngineError> {
        let transcript = assemble(&input)?;
        let json = serde_json::to_vec(&transcript)
            .map_err(|error| EngineError::Failed(error.to_string()))?;
        Ok(TaskOutput {
            result: serde_json::json!({ "segments": transcript.segments.len(), "language_code": transcript.language_code }),
            artifacts: vec![Artifact {
                name: TRANSCRIPT.into(),
                bytes: Bytes::from(json),
            }],
            ..TaskOutput::default()
        })
    }
}
