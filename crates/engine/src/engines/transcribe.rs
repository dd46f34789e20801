//! *transcribe*: Whisper (CTranslate2 weights run on candle) over the speech in the prepared
//! audio: only the speech regions prepare found are decoded (see [`super::speech_chunks`]), so
//! silence and noise never produce text; a job with `vad_filter` off is decoded whole. With
//! `speaker_detection=per_channel` each channel prepare split out is transcribed in turn (the
//! language found on the first holds for the others) and merge interleaves them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dalston_audio::WavReader;
use dalston_core::params::{TimestampsGranularity, TranscriptionTask};
use dalston_core::per_channel::ChannelSegments;
use dalston_core::transcript::{Segment, Word};
use dalston_core::{Stage, Transcript};
use dalston_models::{
    LoadOptions, Task, TranscribeOptions, TranscribeProgress, Transcription, WhisperModel,
};
use serde::{Deserialize, Serialize};

use super::prepare::{PREPARED_AUDIO, PreparedAudio, SpeechRegion, channel_audio};
use super::speech_chunks::{SpeechChunk, plan_chunks};
use crate::{Engine, EngineCapabilities, EngineError, TaskContext, TaskInput, TaskOutput};

/// The structured result of transcribe, consumed by merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscribeResult {
    pub model: String,
    pub language_code: String,
    pub language_probability: Option<f32>,
    /// `requested` or `detected`.
    pub language_source: String,
    pub duration_secs: f64,
    /// Empty when [`Self::channels`] holds the segments instead.
    pub segments: Vec<Segment>,
    /// Per-channel transcription: each channel's segments, unlabelled, for merge to interleave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<ChannelSegments>,
}

/// The Whisper models found in the models directory, loaded on first use and kept in memory so
/// batch tasks (and later realtime sessions) share one copy.
pub struct WhisperCatalog {
    models_dir: PathBuf,
    default_model: String,
    load_options: LoadOptions,
    loaded: Mutex<BTreeMap<String, Arc<WhisperModel>>>,
}

impl std::fmt::Debug for WhisperCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperCatalog")
            .field("models_dir", &self.models_dir)
            .finish_non_exhaustive()
    }
}

impl WhisperCatalog {
    pub fn new(models_dir: PathBuf, default_model: String, load_options: LoadOptions) -> Self {
        Self {
            models_dir,
            default_model,
            load_options,
            loaded: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn default_model(&self) -> &str {
        &self.default_model
    }

    /// Model ids available on disk: sub-directories holding a CTranslate2 `model.bin`.
    pub fn available(&self) -> Vec<String> {
        available_models(&self.models_dir)
    }

    /// Resolves `auto`/absent to the default model.
    pub fn resolve<'a>(&'a self, requested: Option<&'a str>) -> &'a str {
        match requested {
            None | Some("auto" | "") => &self.default_model,
            Some(id) => id,
        }
    }

    /// The loaded model, loading it on first use (blocking: call from a blocking thread).
    ///
    /// # Errors
    /// An unknown model id or a model directory that does not load.
    pub fn get(&self, model_id: &str) -> Result<Arc<WhisperModel>, EngineError> {
        let mut loaded = self
            .loaded
            .lock()
            .map_err(|_| EngineError::Failed("model cache poisoned".into()))?;
        if let Some(model) = loaded.get(model_id) {
            return Ok(Arc::clone(model));
        }
        if !self.available().iter().any(|id| id == model_id) {
            return Err(EngineError::InvalidInput {
                code: "unknown_model",
                message: format!(
                    "model {model_id:?} is not installed (available: {})",
                    self.available().join(", ")
                ),
            });
        }
        let started = std::time::Instant::now();
        let model = WhisperModel::load(&self.models_dir.join(model_id), &self.load_options)
            .map_err(|error| {
                EngineError::Failed(format!("could not load model {model_id}: {error}"))
            })?;
        tracing::info!(
            model = model_id,
            load_ms = started.elapsed().as_millis() as u64,
            "loaded whisper model"
        );
        let model = Arc::new(model);
        loaded.insert(model_id.to_owned(), Arc::clone(&model));
        Ok(model)
    }
}

/// Sub-directories of `dir` that hold a `model.bin`, sorted.
pub fn available_models(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("model.bin").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids
}

#[derive(Debug)]
pub struct TranscribeEngine {
    catalog: Arc<WhisperCatalog>,
    /// Beam width at temperature 0 (1 = greedy).
    beam_size: usize,
}

impl TranscribeEngine {
    pub fn new(catalog: Arc<WhisperCatalog>, beam_size: usize) -> Arc<Self> {
        Arc::new(Self { catalog, beam_size })
    }
}

#[async_trait]
impl Engine for TranscribeEngine {
    fn capabilities(&self) -> EngineCapabilities {
        EngineCapabilities {
            engine_id: "whisper-candle".into(),
            stage: Stage::Transcribe,
            models: self.catalog.available(),
            word_timestamps: true,
        }
    }

    async fn process(
        &self,
        input: TaskInput,
        context: TaskContext,
    ) -> Result<TaskOutput, EngineError> {
        let path = input
            .file(PREPARED_AUDIO)
            .ok_or_else(|| EngineError::Failed("the prepared audio is missing".into()))?
            .path
            .clone();
        let prepared: PreparedAudio = input
            .upstream(Stage::Prepare)
            .and_then(|value| serde_json::from_value(value.clone()).ok())
            .ok_or_else(|| EngineError::Failed("the result of prepare is missing".into()))?;
        let channel_files = prepared
            .channels_prepared
            .iter()
            .map(|prepared| {
                input
                    .file(&channel_audio(prepared.channel))
                    .map(|file| {
                        (
                            prepared.channel,
                            file.path.clone(),
                            prepared.speech_regions.clone(),
                        )
                    })
                    .ok_or_else(|| {
                        EngineError::Failed(format!(
                            "the prepared audio of channel {} is missing",
                            prepared.channel
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let params = input.job.parameters.clone();
        let model_id = self.catalog.resolve(params.model.as_deref()).to_owned();
        let catalog = Arc::clone(&self.catalog);
        let beam_size = self.beam_size;
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || {
            span.in_scope(|| {
                let model = catalog.get(&model_id)?;
                let mut options = TranscribeOptions {
                    language: params.language.clone(),
                    task: match params.task {
                        TranscriptionTask::Transcribe => Task::Transcribe,
                        TranscriptionTask::Translate => Task::Translate,
                    },
                    initial_prompt: params.initial_prompt(),
                    temperatures: params
                        .temperature_schedule()
                        .unwrap_or_else(|| TranscribeOptions::default().temperatures),
                    beam_size,
                    cancel: Some(context.cancel_flag()),
                    // The extra alignment pass is only paid for when word timings were asked for.
                    word_timestamps: params.timestamps_granularity == TimestampsGranularity::Word,
                    ..TranscribeOptions::default()
                };
                let source = Source {
                    model: &model,
                    model_id: &model_id,
                    whole: params.vad.filter == Some(false),
                    context: &context,
                };
                let language_requested = params.language.is_some();
                if channel_files.is_empty() {
                    let transcription =
                        source.transcribe(&path, &prepared.speech_regions, &mut options)?;
                    return Ok(to_result(&model_id, language_requested, transcription));
                }
                let mut channels = Vec::with_capacity(channel_files.len());
                let mut language_probability = None;
                let mut last = None;
                for (channel, path, regions) in &channel_files {
                    let transcription = source.transcribe(path, regions, &mut options)?;
                    language_probability =
                        language_probability.or(transcription.language_probability);
                    channels.push(ChannelSegments {
                        channel: *channel,
                        segments: to_segments(&transcription),
                    });
                    last = Some(transcription);
                }
                let mut result = to_result(
                    &model_id,
                    language_requested,
                    Transcription {
                        language_probability,
                        segments: Vec::new(),
                        ..last
                            .ok_or_else(|| EngineError::Failed("no channel to transcribe".into()))?
                    },
                );
                result.channels = channels;
                Ok(result)
            })
        })
        .await
        .map_err(|error| {
            EngineError::Failed(format!("transcription stopped unexpectedly: {error}"))
        })??;
        Ok(TaskOutput {
            result: serde_json::to_value(&result)
                .map_err(|e| EngineError::Failed(e.to_string()))?,
            ..TaskOutput::default()
        })
    }
}

/// What every prepared file of a job is transcribed with.
struct Source<'a> {
    model: &'a WhisperModel,
    model_id: &'a str,
    /// `vad_filter` is off: decode the file whole, not only its speech regions.
    whole: bool,
    context: &'a TaskContext,
}

impl Source<'_> {
    /// Whisper over one prepared file's speech `regions`; a language detected here is kept in
    /// `options` for the files after it.
    fn transcribe(
        &self,
        path: &Path,
        regions: &[SpeechRegion],
        options: &mut TranscribeOptions,
    ) -> Result<Transcription, EngineError> {
        let mut audio = WavReader::open(path).map_err(unreadable)?;
        let chunks = if self.whole {
            vec![SpeechChunk::whole(audio.len(), audio.sample_rate_hz())]
        } else {
            plan_chunks(regions, audio.len(), audio.sample_rate_hz())
        };
        let started = std::time::Instant::now();
        let transcription =
            transcribe_chunks(self.model, &mut audio, &chunks, options, self.context)?;
        tracing::info!(
            model = %self.model_id,
            audio_secs = transcription.duration_secs,
            speech_secs = chunks.iter().map(SpeechChunk::duration_secs).sum::<f64>(),
            chunks = chunks.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            segments = transcription.segments.len(),
            "transcribed"
        );
        Ok(transcription)
    }
}

fn unreadable(error: impl std::fmt::Display) -> EngineError {
    EngineError::Failed(format!("prepared audio is unreadable: {error}"))
}

/// Whisper over the chunks in order, each read from the prepared audio only when its turn
/// comes (so memory holds one chunk, whatever the length of the audio), every segment and word
/// moved back onto the audio's timeline. Segments are published as they are decoded and
/// progress counts seconds of speech.
///
/// The language is detected on the first chunk (or given) and then held for the others, so
/// one recording gets one language. Each chunk starts without the previous chunk's text but with
/// the job's prompt and vocabulary, which then bias the whole recording rather than its first
/// window. No chunks (no speech) means no segments, in the requested language or `en`.
fn transcribe_chunks(
    model: &WhisperModel,
    audio: &mut WavReader,
    chunks: &[SpeechChunk],
    options: &mut TranscribeOptions,
    context: &TaskContext,
) -> Result<Transcription, EngineError> {
    let total_secs: f64 = chunks.iter().map(SpeechChunk::duration_secs).sum();
    let mut done_secs = 0.0;
    let mut language = None;
    let mut language_probability = None;
    let mut segments: Vec<dalston_models::Segment> = Vec::new();
    let mut published: Vec<Segment> = Vec::new();
    for chunk in chunks {
        let mut on_progress = |progress: TranscribeProgress| {
            let before = published.len();
            for mut segment in progress.new_segments {
                if segment.text.trim().is_empty() {
                    continue;
                }
                chunk.restore(&mut segment);
                // Word timings stay out of the partial result: it is rewritten whole at every
                // window, and its readers (the OpenAI stream) send segment text only. With
                // words, a long recording's partial grew to megabytes per rewrite.
                segment.words.clear();
                published.push(to_segment(published.len(), &segment));
            }
            if published.len() > before {
                context.report_partial(serde_json::json!({ "segments": published }));
            }
            if total_secs > 0.0 {
                #[expect(clippy::cast_possible_truncation, reason = "a fraction")]
                context
                    .report_progress(((done_secs + progress.processed_secs) / total_secs) as f32);
            }
        };
        let transcription = model
            .transcribe_source(&mut chunk.clip(audio), options, &mut on_progress)
            .map_err(|error| match error {
                dalston_models::ModelError::Cancelled => EngineError::Cancelled,
                dalston_models::ModelError::Source(error) => unreadable(error),
                other => EngineError::Failed(format!("transcription failed: {other}")),
            })?;
        if options.language.is_none() && transcription.language_probability.is_some() {
            options.language = Some(transcription.language.clone());
            language_probability = transcription.language_probability;
        }
        language = Some(transcription.language);
        segments.extend(transcription.segments.into_iter().map(|mut segment| {
            chunk.restore(&mut segment);
            segment
        }));
        done_secs += chunk.duration_secs();
    }
    Ok(Transcription {
        language: language
            .or_else(|| options.language.clone())
            .unwrap_or_else(|| "en".to_owned()),
        language_probability,
        duration_secs: audio.len() as f64 / f64::from(audio.sample_rate_hz()),
        segments,
    })
}

/// A decoded Whisper segment as a transcript segment (the `index`-th non-empty one).
fn to_segment(index: usize, segment: &dalston_models::Segment) -> Segment {
    Segment {
        id: Transcript::segment_id(index),
        start_secs: segment.start_secs,
        end_secs: segment.end_secs,
        text: segment.text.trim().to_owned(),
        speaker: None,
        words: segment
            .words
            .iter()
            .filter(|word| !word.word.trim().is_empty())
            .map(|word| Word {
                text: word.word.trim().to_owned(),
                start_secs: word.start_secs,
                end_secs: word.end_secs,
                confidence: Some(word.probability),
                speaker: None,
            })
            .collect(),
        avg_logprob: Some(segment.avg_logprob),
        compression_ratio: Some(segment.compression_ratio),
        no_speech_prob: Some(segment.no_speech_prob),
        temperature: Some(segment.temperature),
    }
}

/// The non-empty segments of a transcription, numbered from 0.
fn to_segments(transcription: &Transcription) -> Vec<Segment> {
    transcription
        .segments
        .iter()
        .filter(|segment| !segment.text.trim().is_empty())
        .enumerate()
        .map(|(index, segment)| to_segment(index, segment))
        .collect()
}

fn to_result(
    model_id: &str,
    language_requested: bool,
    transcription: Transcription,
) -> TranscribeResult {
    let segments = to_segments(&transcription);
    TranscribeResult {
        model: model_id.to_owned(),
        language_code: transcription.language,
        language_probability: transcription.language_probability,
        language_source: if language_requested {
            "requested"
        } else {
            "detected"
        }
        .to_owned(),
        duration_secs: transcription.duration_secs,
        segments,
        channels: Vec::new(),
    }
}
