//! The concrete engines, one module each.

pub mod merge;
pub mod prepare;
pub mod transcribe;

pub use merge::MergeEngine;
pub use prepare::{PrepareEngine, PreparedAudio, SpeechRegion};
pub use transcribe::{TranscribeEngine, TranscribeResult, WhisperCatalog};
