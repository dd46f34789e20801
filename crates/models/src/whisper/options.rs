//! The public option and result types of [`super::WhisperModel`].

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// How to load a model.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Threads for inference; 0 picks [`super::DEFAULT_THREADS`] capped at the machine's CPUs.
    pub threads: usize,
    /// Number format of the linear layers' weights.
    pub compute_type: ComputeType,
}

/// How the linear layers (nearly all of the arithmetic) compute, as faster-whisper's
/// `compute_type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeType {
    /// int8 where the CPU has the int8 kernel's instructions (AVX-512 VNNI), else float32.
    #[default]
    Auto,
    /// Weights quantised to int8 per output channel, activations per row (CTranslate2's
    /// scheme); a CPU without AVX-512 VNNI falls back to float32 with a warning.
    Int8,
    /// The weights as stored, widened to f32 (f16 copies for decoder steps).
    Float32,
}

impl ComputeType {
    /// Whether the linear layers run int8 on this CPU.
    pub(crate) fn resolve_int8(self) -> bool {
        let supported = crate::whisper::int8::Int8Matrix::supported();
        match self {
            ComputeType::Auto => supported,
            ComputeType::Int8 => {
                if !supported {
                    tracing::warn!(
                        "compute type int8 needs AVX-512 VNNI, which this CPU lacks: using float32"
                    );
                }
                supported
            }
            ComputeType::Float32 => false,
        }
    }
}

impl std::fmt::Display for ComputeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ComputeType::Auto => "auto",
            ComputeType::Int8 => "int8",
            ComputeType::Float32 => "float32",
        })
    }
}

impl std::str::FromStr for ComputeType {
    type Err = String;

    fn from_str(s: &str) -> Result<ComputeType, String> {
        match s {
            "auto" | "default" => Ok(ComputeType::Auto),
            "int8" => Ok(ComputeType::Int8),
            "float32" | "f32" => Ok(ComputeType::Float32),
            other => Err(format!(
                "unknown compute type {other:?} (auto, int8 or float32)"
            )),
        }
    }
}

/// What a loaded model is.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// The model directory's name, e.g. `whisper-base`.
    pub name: String,
    /// Whether the model knows languages besides English (and can translate).
    pub multilingual: bool,
    /// Mel bins the model takes (80, or 128 for large-v3).
    pub n_mels: usize,
    /// ISO-639-1 codes the model knows (`["en"]` for English-only models).
    pub languages: Vec<String>,
}

/// What to produce from speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Text in the spoken language.
    Transcribe,
    /// English text, whatever the spoken language (multilingual models only).
    Translate,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Transcribe => "transcribe",
            Task::Translate => "translate",
        })
    }
}

/// Decoding options, with OpenAI Whisper's defaults except `condition_on_previous_text`.
#[derive(Debug, Clone)]
pub struct TranscribeOptions {
    /// ISO-639-1 code of the spoken language; `None` detects it from the first window.
    pub language: Option<String>,
    pub task: Task,
    /// Temperatures tried in order until a window's text passes the quality checks; 0 is
    /// greedy. Default `[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]`.
    pub temperatures: Vec<f32>,
    /// Hypotheses kept by beam search at temperature 0; 1 is greedy decoding. Default 5, as
    /// OpenAI Whisper's CLI and faster-whisper use; at most `MAX_BEAM_SIZE` (16).
    pub beam_size: usize,
    /// Retry at the next temperature when the text's zlib compression ratio is above this
    /// (a repetition loop). Default `Some(2.4)`.
    pub compression_ratio_threshold: Option<f32>,
    /// Retry when the average token log-probability is below this. Default `Some(-1.0)`.
    pub log_prob_threshold: Option<f32>,
    /// Skip a window as silence when the no-speech probability is above this and the average
    /// log-probability is below `log_prob_threshold`. Default `Some(0.6)`.
    pub no_speech_threshold: Option<f32>,
    /// Feed each window's text to the next as a prompt. Default `false`: it helps continuity
    /// but lets one bad window start a repetition loop that runs to the end of the file.
    pub condition_on_previous_text: bool,
    /// Text given to the first window as if it had been said before (names, spelling, style).
    pub initial_prompt: Option<String>,
    /// Set to `true` from another thread to stop; checked before every decoding step.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Time every word ([`Segment::words`]) from the decoder's cross-attention, at the cost of
    /// one extra decoder pass per window. Default `true`.
    pub word_timestamps: bool,
    /// Encode audio shorter than a window as it is (plus 0.5 s) instead of padding it to 30 s,
    /// as whisper.cpp's `audio_ctx` does: the encoder's cost falls with the audio's length, at
    /// some cost in accuracy, since the model was trained on full windows. A short window whose
    /// decode still fails the fallback checks at the last temperature, or runs into the token
    /// budget, is decoded again as a full window. Meant for realtime. Default `false`.
    pub short_window: bool,
    /// Stop a window's text after 8 tokens plus this many per second of its audio; `None`
    /// allows the model's maximum (224). A hallucination loop on a 2 s window otherwise runs
    /// all 224 steps; realtime sessions cap it to keep latency bounded. Default `None`.
    pub max_tokens_per_second: Option<f32>,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        TranscribeOptions {
            language: None,
            task: Task::Transcribe,
            temperatures: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            beam_size: 5,
            compression_ratio_threshold: Some(2.4),
            log_prob_threshold: Some(-1.0),
            no_speech_threshold: Some(0.6),
            condition_on_previous_text: false,
            initial_prompt: None,
            cancel: None,
            word_timestamps: true,
            short_window: false,
            max_tokens_per_second: None,
        }
    }
}

/// Progress after each 30 s window.
#[derive(Debug, Clone)]
pub struct TranscribeProgress {
    /// Seconds of audio decided so far (transcribed or skipped as silence).
    pub processed_secs: f64,
    /// Length of the audio in seconds.
    pub total_secs: f64,
    /// Segments finished in this window, so callers can stream text before the end.
    pub new_segments: Vec<Segment>,
}

/// The result of [`super::WhisperModel::transcribe`].
#[derive(Debug, Clone)]
pub struct Transcription {
    /// ISO-639-1 code of the language transcribed (given or detected).
    pub language: String,
    /// Probability of the detected language; `None` when the language was given or the model
    /// is English-only.
    pub language_probability: Option<f32>,
    /// Length of the audio in seconds.
    pub duration_secs: f64,
    pub segments: Vec<Segment>,
}

/// One timestamped piece of text, as Whisper delimits it.
#[derive(Debug, Clone)]
pub struct Segment {
    pub start_secs: f64,
    /// Clipped to the audio's duration.
    pub end_secs: f64,
    /// The text as Whisper gives it, usually with a leading space; callers trim.
    pub text: String,
    /// Token ids of the segment, its timestamp tokens included.
    pub tokens: Vec<u32>,
    /// Average log-probability of the tokens of the window this segment came from.
    pub avg_logprob: f32,
    /// zlib compression ratio of the window's text.
    pub compression_ratio: f32,
    /// Probability that the window held no speech.
    pub no_speech_prob: f32,
    /// Temperature the window was decoded at (0 unless the fallback was used).
    pub temperature: f32,
    /// The segment's words in order; empty unless [`TranscribeOptions::word_timestamps`].
    pub words: Vec<WordTiming>,
}

/// One word of a [`Segment`] and when it was said, from the alignment of Whisper's
/// cross-attention with the audio (DTW over the alignment heads, as OpenAI Whisper's
/// `word_timestamps`). Times are on the audio's timeline, in order and inside the segment.
#[derive(Debug, Clone, PartialEq)]
pub struct WordTiming {
    /// The word as Whisper tokenizes it: usually with its leading space, with punctuation
    /// joined to it (`" country."`); callers trim.
    pub word: String,
    pub start_secs: f64,
    pub end_secs: f64,
    /// Mean probability of the word's tokens in the alignment pass.
    pub probability: f32,
}
