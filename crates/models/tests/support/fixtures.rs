//! The real models and recordings the integration tests run on.
//!
//! Models come from `$DALSTON_MODELS_DIR` (default `~/.cache/dalston/models`) and recordings
//! from `$DALSTON_TEST_DATA_DIR` (default `~/.cache/dalston/test-data`); both are put there by
//! `scripts/fetch-models`. Missing files fail the tests rather than skip them.

use dalston_models::{LoadOptions, WhisperModel};

use super::wav::read_wav;

pub use dalston_testkit::fixtures::{models_dir, test_data};

/// Loads a model directory by name (`whisper-base`, `whisper-tiny.en`) with the defaults.
pub fn load_model(name: &str) -> WhisperModel {
    load_model_with(name, &LoadOptions::default())
}

/// Loads a model directory by name with the given options.
pub fn load_model_with(name: &str, options: &LoadOptions) -> WhisperModel {
    let dir = models_dir().join(name);
    assert!(
        dir.join("model.bin").is_file(),
        "model {} is missing: run scripts/fetch-models (or set DALSTON_MODELS_DIR)",
        dir.display()
    );
    match WhisperModel::load(&dir, options) {
        Ok(model) => model,
        Err(err) => panic!("model {name} does not load: {err}"),
    }
}

/// 16 kHz samples of a test recording.
pub fn samples(name: &str) -> Vec<f32> {
    let (samples, rate) = match read_wav(&test_data(name)) {
        Ok(read) => read,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(rate, 16_000, "{name} must be 16 kHz");
    samples
}

/// Lower case, words only: hyphens split words, other punctuation goes, and the title
/// abbreviations Whisper writes are spelled out as the LibriSpeech-style references do.
pub fn normalise(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('-', " ")
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace() || *c == '\'')
        .collect::<String>()
        .split_whitespace()
        .map(|word| match word {
            "mr" => "mister".to_string(),
            "mrs" => "missus".to_string(),
            "dr" => "doctor".to_string(),
            other => other.to_string(),
        })
        .collect()
}
