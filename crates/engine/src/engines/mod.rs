//! The concrete engines, one module each.

pub mod diarize;
pub mod merge;
pub mod prepare;
mod speech_chunks;
pub mod transcribe;

pub use diarize::{DiarizeEngine, DiarizeResult};
pub use merge::MergeEngine;
pub use prepare::{PrepareEngine, PreparedAudio, SpeechRegion};
pub use transcribe::{TranscribeEngine, TranscribeResult, WhisperCatalog};
