//! Model loading and inference for Dalston: Whisper speech recognition on CTranslate2 weights
//! Silero voice activity detection and the GE2E speaker encoder for diarization, run with
//! candle on the CPU.
//!
//! This crate owns the numerics (mel front end, network, tokenizer, decoding policy) and
//! nothing else: it takes 16 kHz mono samples and returns text with timings. It never decodes
//! audio files, resamples, downloads models or reads configuration; callers hand it a model
//! directory and samples. Inference is blocking and CPU-bound: call it from a blocking thread
//! (`spawn_blocking`), share one loaded model between workers with an `Arc`, and cancel
//! through the `cancel` flag in the options.

mod error;
pub mod source;
pub mod speaker;
pub mod vad;
pub mod whisper;

pub use error::ModelError;
pub use source::{SampleSource, SourceError};
pub use speaker::SpeakerEncoder;
pub use whisper::{
    ComputeType, DEFAULT_THREADS, LoadOptions, MAX_BEAM_SIZE, ModelInfo, Segment, Task,
    TranscribeOptions, TranscribeProgress, Transcription, WhisperModel, WordTiming,
};
