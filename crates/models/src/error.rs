//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or running it.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file the model directory must contain is not there.
    #[error("model file {path} is missing")]
    MissingFile { path: PathBuf },

    /// A model file exists but could not be read.
    #[error("failed to read model file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A model file was read but its contents are not what a Whisper model needs.
    #[error("invalid model file {path}: {reason}")]
    InvalidModel { path: PathBuf, reason: String },

    /// The requested language is not one the model knows.
    #[error("language {language:?} is not supported by model {model}")]
    UnsupportedLanguage { language: String, model: String },

    /// The requested task needs a multilingual model.
    #[error("task {task} is not supported by model {model}")]
    UnsupportedTask { task: String, model: String },

    /// The caller passed options that cannot be honoured.
    #[error("invalid transcription options: {reason}")]
    InvalidOptions { reason: String },

    /// The worker thread pool for inference could not be started.
    #[error("failed to start the inference thread pool")]
    ThreadPool(#[source] rayon::ThreadPoolBuildError),

    /// A tensor operation failed during inference.
    #[error("inference failed")]
    Inference(#[source] candle_core::Error),

    /// The audio could not be read from its [`crate::SampleSource`].
    #[error("failed to read the audio")]
    Source(#[source] crate::SourceError),

    /// The caller asked to stop through `TranscribeOptions::cancel`.
    #[error("transcription cancelled")]
    Cancelled,
}

impl From<candle_core::Error> for ModelError {
    fn from(source: candle_core::Error) -> Self {
        ModelError::Inference(source)
    }
}
