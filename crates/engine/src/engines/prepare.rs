//! *prepare*: decode whatever was uploaded into the 16 kHz mono WAV every later stage reads, and
//! find where the speech is.
//!
//! Decoding streams: each decoded block is appended to the prepared WAV file and fed to Silero
//! VAD, so neither the signal nor the file is ever in memory whole, whatever the length.
//!
//! With `speaker_detection=per_channel` each channel of a multichannel upload is also prepared
//! alone ([`channel_audio`], with its own speech regions), for transcribe to take one by one: the
//! file is decoded once more per channel, which keeps memory flat where splitting every channel
//! in one pass would need a writer and a detector per channel.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use dalston_audio::{AudioError, DecodeOptions, FfmpegPolicy, SampleSink, WavWriter};
use dalston_core::Stage;
use dalston_core::params::{SpeakerDetection, VadParameters};
use dalston_models::vad::{SileroVad, SpeechDetector, SpeechOptions};
use dalston_store::AudioMetadata;
use serde::{Deserialize, Serialize};

use crate::runner::ORIGINAL_AUDIO;
use crate::{
    ArtifactFile, Engine, EngineCapabilities, EngineError, TaskContext, TaskInput, TaskOutput,
};

/// Artifact name of the prepared audio.
pub const PREPARED_AUDIO: &str = "prepared.wav";

/// Artifact name of channel `channel` prepared alone (per-channel transcription).
pub fn channel_audio(channel: u16) -> String {
    format!("channel_{channel}.wav")
}

/// Longest speech region prepare reports: Whisper's window, so a transcriber can take any
/// region whole (a longer stretch of speech is cut at its longest pause).
pub const MAX_SPEECH_REGION_SECS: f64 = 30.0;

/// Dalston's VAD settings where a job names none: faster-whisper's for Whisper (pauses under
/// 2 s stay inside a region, 400 ms of audio either side) except that bursts under 250 ms
/// (silero's default) are dropped, so clicks in noise do not reach the transcriber.
pub const DEFAULT_VAD: SpeechOptions = SpeechOptions {
    threshold: 0.5,
    neg_threshold: None,
    min_speech_duration_ms: 250,
    min_silence_duration_ms: 2_000,
    speech_pad_ms: 400,
    max_speech_duration_s: MAX_SPEECH_REGION_SECS,
};

/// The structured result of prepare, read by later stages from
/// `input.upstream(Stage::Prepare)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedAudio {
    pub duration_secs: f64,
    pub channels: u16,
    pub sample_rate_hz: u32,
    pub format: String,
    /// Where the speech is (Silero VAD with the job's [`VadParameters`] over [`DEFAULT_VAD`]),
    /// in seconds on the audio's own timeline: in order, not overlapping, each at most
    /// [`MAX_SPEECH_REGION_SECS`] long, padded. Empty when there is no speech (silence, noise).
    #[serde(default)]
    pub speech_regions: Vec<SpeechRegion>,
    /// With `speaker_detection=per_channel` on audio of two or more channels: every channel
    /// prepared alone, in order, as [`channel_audio`]. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels_prepared: Vec<PreparedChannel>,
}

/// One channel prepared alone: its audio is the artifact [`channel_audio`]`(channel)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedChannel {
    pub channel: u16,
    /// As [`PreparedAudio::speech_regions`], found on this channel alone.
    pub speech_regions: Vec<SpeechRegion>,
}

/// A stretch of speech, in seconds from the start of the audio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpeechRegion {
    pub start_secs: f64,
    pub end_secs: f64,
}

#[derive(Debug)]
pub struct PrepareEngine {
    max_duration_secs: f64,
    ffmpeg: FfmpegPolicy,
    /// The Silero VAD weights (a directory or the file), loaded on first use: a gateway that
    /// only plans with this engine never needs them.
    vad_path: PathBuf,
    vad: OnceLock<Arc<SileroVad>>,
}

impl PrepareEngine {
    pub fn new(max_duration_secs: f64, ffmpeg: FfmpegPolicy, vad_path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            max_duration_secs,
            ffmpeg,
            vad_path,
            vad: OnceLock::new(),
        })
    }

    /// The loaded VAD (two loads racing on first use both succeed; one is kept).
    fn vad(&self) -> Result<Arc<SileroVad>, EngineError> {
        if let Some(vad) = self.vad.get() {
            return Ok(Arc::clone(vad));
        }
        let loaded = SileroVad::load(&self.vad_path).map_err(|error| {
            EngineError::Failed(format!(
                "loading Silero VAD from {}: {error}; run scripts/fetch-models",
                self.vad_path.display()
            ))
        })?;
        Ok(Arc::clone(self.vad.get_or_init(|| Arc::new(loaded))))
    }
}

/// The VAD settings of a job: its own where it gives them, Dalston's defaults otherwise.
pub fn speech_options(parameters: &VadParameters) -> SpeechOptions {
    SpeechOptions {
        threshold: parameters.threshold.unwrap_or(DEFAULT_VAD.threshold),
        min_speech_duration_ms: parameters
            .min_speech_duration_ms
            .unwrap_or(DEFAULT_VAD.min_speech_duration_ms),
        min_silence_duration_ms: parameters
            .min_silence_duration_ms
            .unwrap_or(DEFAULT_VAD.min_silence_duration_ms),
        speech_pad_ms: parameters
            .speech_pad_ms
            .unwrap_or(DEFAULT_VAD.speech_pad_ms),
        ..DEFAULT_VAD
    }
}

fn invalid(error: &AudioError) -> EngineError {
    match error {
        AudioError::Io(_) | AudioError::Resample { .. } | AudioError::Sink { .. } => {
            EngineError::Failed(error.to_string())
        }
        _ => EngineError::InvalidInput {
            code: error.code(),
            message: error.to_string(),
        },
    }
}

/// Where decoded blocks go: the prepared WAV file and the speech detector.
struct PrepareSink<'a> {
    wav: WavWriter,
    vad: &'a SileroVad,
    options: SpeechOptions,
    detector: SpeechDetector<'a>,
    /// No sample so far reached -60 dBFS.
    silent: bool,
}

impl SampleSink for PrepareSink<'_> {
    fn push(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.wav.write(samples)?;
        self.silent &= dalston_audio::is_silent(samples);
        self.detector
            .push(samples)
            .map_err(|error| AudioError::Sink {
                detail: format!("voice activity detection failed: {error}"),
            })
    }

    fn restart(&mut self) -> Result<(), AudioError> {
        self.wav.clear()?;
        self.detector = self.vad.detector(&self.options);
        self.silent = true;
        Ok(())
    }
}

/// What prepare found, before it becomes a [`TaskOutput`].
struct Prepared {
    info: dalston_audio::AudioInfo,
    regions: Vec<SpeechRegion>,
    silent: bool,
}

fn prepare_file(
    source: &std::path::Path,
    destination: &std::path::Path,
    decode: &DecodeOptions,
    vad: &SileroVad,
    options: SpeechOptions,
) -> Result<Prepared, EngineError> {
    let started = std::time::Instant::now();
    let wav = WavWriter::create(destination, dalston_audio::TARGET_SAMPLE_RATE_HZ)
        .map_err(|error| invalid(&error))?;
    let mut sink = PrepareSink {
        wav,
        vad,
        detector: vad.detector(&options),
        options,
        silent: true,
    };
    let info = dalston_audio::decode_file_to(source, decode, &mut sink)
        .map_err(|error| invalid(&error))?;
    let PrepareSink {
        wav,
        detector,
        silent,
        ..
    } = sink;
    let samples = wav.samples();
    wav.finish().map_err(|error| invalid(&error))?;
    let regions: Vec<SpeechRegion> = detector
        .finish()
        .map_err(|error| EngineError::Failed(format!("voice activity detection failed: {error}")))?
        .into_iter()
        .map(|region| SpeechRegion {
            start_secs: region.start_secs(),
            end_secs: region.end_secs(),
        })
        .collect();
    tracing::info!(
        audio_secs = samples as f64 / f64::from(dalston_audio::TARGET_SAMPLE_RATE_HZ),
        speech_regions = regions.len(),
        speech_secs = regions
            .iter()
            .map(|region| region.end_secs - region.start_secs)
            .sum::<f64>(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "audio prepared"
    );
    Ok(Prepared {
        info,
        regions,
        silent,
    })
}

#[async_trait]
impl Engine for PrepareEngine {
    fn capabilities(&self) -> EngineCapabilities {
        EngineCapabilities {
            engine_id: "audio-prepare".into(),
            stage: Stage::Prepare,
            models: vec!["silero-vad".into()],
            word_timestamps: false,
        }
    }

    fn warm(&self) -> Result<(), EngineError> {
        self.vad().map(drop)
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
        let decode = DecodeOptions {
            max_duration_secs: Some(self.max_duration_secs),
            ffmpeg: self.ffmpeg,
            channel: None,
        };
        let per_channel = input.job.parameters.speaker_detection == SpeakerDetection::PerChannel;
        let scratch = input.scratch_dir.clone();
        let options = speech_options(&input.job.parameters.vad);
        let destination = input.scratch_dir.join(PREPARED_AUDIO);
        // Loaded at start-up by `warm` where this process runs prepare; small if not.
        let vad = self.vad()?;
        let span = tracing::Span::current();
        let wav_path = destination.clone();
        let (prepared, channels) = tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                let prepared = prepare_file(&file, &wav_path, &decode, &vad, options.clone())?;
                let channels = if per_channel && prepared.info.channels > 1 {
                    (0..prepared.info.channels)
                        .map(|channel| {
                            let decode = DecodeOptions {
                                channel: Some(channel),
                                ..decode.clone()
                            };
                            let path = scratch.join(channel_audio(channel));
                            prepare_file(&file, &path, &decode, &vad, options.clone()).map(
                                |alone| {
                                    (
                                        PreparedChannel {
                                            channel,
                                            speech_regions: alone.regions,
                                        },
                                        path,
                                    )
                                },
                            )
                        })
                        .collect::<Result<Vec<_>, _>>()?
                } else {
                    Vec::new()
                };
                Ok::<_, EngineError>((prepared, channels))
            })
        })
        .await
        .map_err(|error| {
            EngineError::Failed(format!("audio decoding stopped unexpectedly: {error}"))
        })??;
        context.report_progress(0.9);
        let mut warnings = Vec::new();
        if prepared.regions.is_empty() {
            warnings.push(if prepared.silent {
                "the audio is silent: there is no speech to transcribe".to_owned()
            } else {
                "no speech was detected in the audio".to_owned()
            });
        }
        let info = prepared.info;
        let result = PreparedAudio {
            duration_secs: info.duration_secs,
            channels: info.channels,
            sample_rate_hz: info.sample_rate_hz,
            format: info.format.clone(),
            speech_regions: prepared.regions,
            channels_prepared: channels
                .iter()
                .map(|(channel, _)| channel.clone())
                .collect(),
        };
        let mut artifact_files = vec![ArtifactFile {
            name: PREPARED_AUDIO.into(),
            path: destination,
        }];
        artifact_files.extend(channels.into_iter().map(|(channel, path)| ArtifactFile {
            name: channel_audio(channel.channel),
            path,
        }));
        Ok(TaskOutput {
            result: serde_json::to_value(&result)
                .map_err(|e| EngineError::Failed(e.to_string()))?,
            artifact_files,
            audio: Some(AudioMetadata {
                duration_secs: Some(info.duration_secs),
                channels: Some(info.channels),
                sample_rate_hz: Some(info.sample_rate_hz),
                format: Some(info.format),
            }),
            warnings,
            ..TaskOutput::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_settings_override_the_defaults_one_by_one() {
        assert_eq!(speech_options(&VadParameters::default()), DEFAULT_VAD);
        let options = speech_options(&VadParameters {
            threshold: Some(0.3),
            min_silence_duration_ms: Some(500),
            ..VadParameters::default()
        });
        assert_eq!(options.threshold, 0.3);
        assert_eq!(options.min_silence_duration_ms, 500);
        assert_eq!(options.speech_pad_ms, DEFAULT_VAD.speech_pad_ms);
        assert_eq!(options.max_speech_duration_s, MAX_SPEECH_REGION_SECS);
    }

    #[test]
    fn regions_serialise_in_seconds_and_default_to_none() {
        let prepared = PreparedAudio {
            duration_secs: 3.0,
            channels: 1,
            sample_rate_hz: 16_000,
            format: "wav".into(),
            speech_regions: vec![SpeechRegion {
                start_secs: 0.5,
                end_secs: 2.25,
            }],
            channels_prepared: Vec::new(),
        };
        let value = serde_json::to_value(&prepared).unwrap();
        assert_eq!(
            value["speech_regions"],
            serde_json::json!([{ "start_secs": 0.5, "end_secs": 2.25 }])
        );
        let old: PreparedAudio = serde_json::from_value(serde_json::json!({
            "duration_secs": 1.0, "channels": 1, "sample_rate_hz": 16000, "format": "wav"
        }))
        .unwrap();
        assert!(old.speech_regions.is_empty());
    }
}
