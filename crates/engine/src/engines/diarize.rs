//! *diarize*: who spoke when. GE2E speaker embeddings (Resemblyzer's encoder on candle) of
//! 1-second windows over the speech regions prepare found, clustered into speakers and turned
//! into speaker turns by `dalston_core::diarization`; merge then gives every word its speaker.
//!
//! Optional by design: any failure other than cancellation becomes a warning on the job and an
//! empty result, so the transcript is still delivered, without speakers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use dalston_core::Stage;
use dalston_core::diarization::windows::plan_windows;
use dalston_core::diarization::{SpeakerCount, SpeakerTurn, TimeSpan, diarize};
use dalston_models::SpeakerEncoder;
use dalston_models::speaker::{SAMPLE_RATE_HZ, normalize_volume};
use serde::{Deserialize, Serialize};

use super::prepare::PREPARED_AUDIO;
use crate::{Engine, EngineCapabilities, EngineError, TaskContext, TaskInput, TaskOutput};

/// Directory name of the speaker encoder inside the models directory.
pub const SPEAKER_MODEL_DIR: &str = "resemblyzer";
/// Windows embedded per batch, between which cancellation and progress are checked.
const WINDOWS_PER_BATCH: usize = 64;
/// Windows quieter than this RMS (about −54 dBFS) hold no voice to embed.
const SILENT_WINDOW_RMS: f32 = 0.002;

/// The structured result of diarize, consumed by merge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiarizeResult {
    pub turns: Vec<SpeakerTurn>,
    pub num_speakers: usize,
    /// Windows embedded (for the task view and benchmarks).
    pub windows: usize,
}

/// Speech regions as prepare reports them (`speech_regions`), or the whole recording when it
/// reports none.
#[derive(Debug, Deserialize)]
struct PreparedRegions {
    #[serde(default)]
    speech_regions: Option<Vec<TimeSpan>>,
}

#[derive(Debug)]
pub struct DiarizeEngine {
    encoder: Arc<SpeakerEncoder>,
}

impl DiarizeEngine {
    /// Loads the speaker encoder from `<models_dir>/resemblyzer`.
    ///
    /// # Errors
    /// The model error when the encoder is missing or does not load.
    pub fn load(models_dir: &Path) -> Result<Arc<Self>, dalston_models::ModelError> {
        let encoder = SpeakerEncoder::load(&models_dir.join(SPEAKER_MODEL_DIR))?;
        Ok(Arc::new(Self {
            encoder: Arc::new(encoder),
        }))
    }
}

/// Diarizes 16 kHz `samples` whose speech lies in `regions`: the whole pipeline, blocking.
/// `on_batch(done, total)` is called after each batch of windows and may stop the work by
/// returning `false`.
///
/// # Errors
/// As [`embed_windows`].
pub fn diarize_samples(
    encoder: &SpeakerEncoder,
    samples: &[f32],
    regions: &[TimeSpan],
    count: &SpeakerCount,
    on_batch: impl FnMut(usize, usize) -> bool,
) -> Result<DiarizeResult, EngineError> {
    let (spans, embeddings) = embed_windows(encoder, samples, regions, on_batch)?;
    let turns = diarize(&spans, &embeddings, count);
    Ok(DiarizeResult {
        num_speakers: turns.iter().map(|t| t.speaker + 1).max().unwrap_or(0),
        turns,
        windows: spans.len(),
    })
}

/// The embedding windows over `regions` that hold sound, and one GE2E embedding per window
/// (of the volume-normalised audio), in time order. `on_batch` as for [`diarize_samples`].
///
/// # Errors
/// [`EngineError::Cancelled`] when `on_batch` stopped it, [`EngineError::Failed`] when the
/// encoder fails.
pub fn embed_windows(
    encoder: &SpeakerEncoder,
    samples: &[f32],
    regions: &[TimeSpan],
    mut on_batch: impl FnMut(usize, usize) -> bool,
) -> Result<(Vec<TimeSpan>, Vec<Vec<f32>>), EngineError> {
    let mut audio = samples.to_vec();
    normalize_volume(&mut audio);
    let to_index = |secs: f64| {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "non-negative sample positions"
        )]
        let index = (secs.max(0.0) * SAMPLE_RATE_HZ as f64).round() as usize;
        index.min(audio.len())
    };
    let windows: Vec<(TimeSpan, &[f32])> = plan_windows(regions)
        .into_iter()
        .map(|window| {
            (
                window,
                &audio[to_index(window.start_secs)..to_index(window.end_secs)],
            )
        })
        .filter(|(_, clip)| !clip.is_empty() && rms(clip) >= SILENT_WINDOW_RMS)
        .collect();
    let mut embeddings = Vec::with_capacity(windows.len());
    for batch in windows.chunks(WINDOWS_PER_BATCH) {
        let clips: Vec<&[f32]> = batch.iter().map(|(_, clip)| *clip).collect();
        embeddings.extend(
            encoder.embed_utterances(&clips).map_err(|error| {
                EngineError::Failed(format!("speaker embedding failed: {error}"))
            })?,
        );
        if !on_batch(embeddings.len(), windows.len()) {
            return Err(EngineError::Cancelled);
        }
    }
    Ok((windows.iter().map(|(span, _)| *span).collect(), embeddings))
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32).sqrt()
}

fn read_samples(path: &PathBuf) -> Result<Vec<f32>, EngineError> {
    let bytes = std::fs::read(path)
        .map_err(|e| EngineError::Failed(format!("reading prepared audio: {e}")))?;
    let (samples, _rate) = dalston_audio::decode_wav_pcm16(&bytes)
        .map_err(|e| EngineError::Failed(format!("prepared audio is unreadable: {e}")))?;
    Ok(samples)
}

#[async_trait]
impl Engine for DiarizeEngine {
    fn capabilities(&self) -> EngineCapabilities {
        EngineCapabilities {
            engine_id: "ge2e-diarizer".into(),
            stage: Stage::Diarize,
            models: vec![SPEAKER_MODEL_DIR.into()],
            word_timestamps: false,
        }
    }

    async fn process(
        &self,
        input: TaskInput,
        context: TaskContext,
    ) -> Result<TaskOutput, EngineError> {
        let path = input.file(PREPARED_AUDIO).map(|file| file.path.clone());
        let regions = input
            .upstream(Stage::Prepare)
            .and_then(|value| serde_json::from_value::<PreparedRegions>(value.clone()).ok())
            .and_then(|prepared| prepared.speech_regions);
        let count = SpeakerCount::from_parameters(&input.job.parameters, None);
        let encoder = Arc::clone(&self.encoder);
        let span = tracing::Span::current();
        let progress = context.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                let path = path
                    .ok_or_else(|| EngineError::Failed("the prepared audio is missing".into()))?;
                let samples = read_samples(&path)?;
                let regions = regions.unwrap_or_else(|| {
                    vec![TimeSpan::new(
                        0.0,
                        samples.len() as f64 / SAMPLE_RATE_HZ as f64,
                    )]
                });
                let started = std::time::Instant::now();
                let result =
                    diarize_samples(&encoder, &samples, &regions, &count, |done, total| {
                        #[expect(clippy::cast_precision_loss, reason = "a fraction")]
                        progress.report_progress(done as f32 / total.max(1) as f32);
                        !progress.is_cancelled()
                    })?;
                tracing::info!(
                    audio_secs = samples.len() as f64 / SAMPLE_RATE_HZ as f64,
                    windows = result.windows,
                    speakers = result.num_speakers,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "diarized"
                );
                Ok(result)
            })
        })
        .await
        .unwrap_or_else(|error| {
            Err(EngineError::Failed(format!(
                "diarization stopped unexpectedly: {error}"
            )))
        });
        let (result, warnings) = match outcome {
            Ok(result) => (result, Vec::new()),
            Err(EngineError::Cancelled) => return Err(EngineError::Cancelled),
            Err(error) => {
                tracing::warn!(error = %error, "diarization failed; the transcript will have no speakers");
                (
                    DiarizeResult::default(),
                    vec![format!(
                        "speaker diarization failed ({error}); the transcript has no speakers"
                    )],
                )
            }
        };
        Ok(TaskOutput {
            result: serde_json::to_value(&result)
                .map_err(|e| EngineError::Failed(e.to_string()))?,
            warnings,
            ..TaskOutput::default()
        })
    }
}
