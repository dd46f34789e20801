//! Whisper speech recognition on CTranslate2 weights, run with candle on the CPU.
//!
//! [`WhisperModel::load`] reads a CTranslate2 Whisper directory (`model.bin`, `config.json`,
//! `vocabulary.txt`); [`WhisperModel::transcribe`] turns 16 kHz
//! mono samples into timestamped segments with OpenAI Whisper's decoding policy (greedy with
//! temperature fallback, timestamp rules, no-speech skipping, 30 s windows with seeking),
//! with word timings from the cross-attention of the alignment heads (`timing.rs`).
//!
//! A model is `Send + Sync` and meant to be shared through an `Arc`: the weights are read-only
//! and every call keeps its own decoding state. Inference runs on the model's own thread pool
//! (see [`threads`] for how that bounds candle), so concurrent calls share its threads.

mod bpe;
mod compression;
mod config;
mod ct2;
mod decode;
mod decoder;
mod dtw;
mod encoder;
mod int8;
mod kernels;
mod language;
mod layers;
mod logit_filters;
mod matvec;
pub(crate) mod mel;
mod model;
mod options;
mod sampling;
mod segments;
mod special;
#[cfg(test)]
mod test_support;
pub mod threads;
mod timing;
mod tokenizer;
mod transcribe;
mod words;

use std::path::Path;

use candle_core::Device;

pub use self::options::{
    ComputeType, LoadOptions, ModelInfo, Segment, Task, TranscribeOptions, TranscribeProgress,
    Transcription, WordTiming,
};
pub use self::threads::DEFAULT_THREADS;
pub use self::transcribe::MAX_BEAM_SIZE;
use crate::ModelError;
use crate::whisper::config::Ct2Config;
use crate::whisper::logit_filters::LogitFilters;
use crate::whisper::mel::MelFrontEnd;
use crate::whisper::model::WhisperNet;
use crate::whisper::tokenizer::Tokenizer;

/// OpenAI's rule: multilingual vocabularies have at least this many tokens.
const MULTILINGUAL_VOCAB_SIZE: usize = 51_865;

/// A loaded Whisper model.
pub struct WhisperModel {
    info: ModelInfo,
    net: WhisperNet,
    tokenizer: Tokenizer,
    filters: LogitFilters,
    mel: MelFrontEnd,
    pool: rayon::ThreadPool,
    threads: usize,
    /// What the linear layers run in: [`ComputeType::Int8`] or [`ComputeType::Float32`].
    compute_type: ComputeType,
    /// Decoder cross-attention (layer, head) pairs that follow the audio, for word timing.
    alignment_heads: Vec<(usize, usize)>,
}

impl std::fmt::Debug for WhisperModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperModel")
            .field("info", &self.info)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl WhisperModel {
    /// Loads a CTranslate2 Whisper directory (`model.bin` + `config.json` + `vocabulary.txt`).
    ///
    /// Weights are widened to f32 at load, or quantised to int8 as `options.compute_type`
    /// says.
    ///
    /// # Errors
    /// [`ModelError::MissingFile`] when a required file is absent, [`ModelError::InvalidModel`]
    /// when a file is not a Whisper model of the expected format, [`ModelError::ThreadPool`]
    /// when the worker threads cannot be started.
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<WhisperModel, ModelError> {
        let started = std::time::Instant::now();
        let model_path = dir.join("model.bin");
        let int8 = options.compute_type.resolve_int8();
        let compute_type = if int8 {
            ComputeType::Int8
        } else {
            ComputeType::Float32
        };
        let net = WhisperNet::load(&model_path, int8, &Device::Cpu)?;
        let config = Ct2Config::read(&dir.join("config.json"))?;
        let tokenizer = Tokenizer::load(dir)?;
        if tokenizer.vocab_size() != net.hp.n_vocab {
            return Err(ModelError::InvalidModel {
                path: dir.join("vocabulary.txt"),
                reason: format!(
                    "{} tokens, but the model's embedding has {}",
                    tokenizer.vocab_size(),
                    net.hp.n_vocab
                ),
            });
        }
        let multilingual = net.hp.n_vocab >= MULTILINGUAL_VOCAB_SIZE;
        let languages = if multilingual {
            tokenizer
                .special
                .languages
                .iter()
                .map(|(code, _)| code.clone())
                .collect()
        } else {
            vec!["en".to_string()]
        };
        let info = ModelInfo {
            name: dir.file_name().map_or_else(
                || dir.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            ),
            multilingual,
            n_mels: net.hp.n_mels,
            languages,
        };
        let filters = LogitFilters::new(
            &tokenizer.special,
            &config.suppress_ids,
            &config.suppress_ids_begin,
        );
        let alignment_heads = timing::alignment_heads(
            &config.alignment_heads,
            net.hp.decoder_layers,
            net.hp.decoder_heads,
        );
        let threads = threads::resolve_threads(options.threads);
        let pool = threads::build_pool(threads)?;
        tracing::info!(
            model = %info.name,
            threads,
            compute_type = %compute_type,
            layers = net.hp.encoder_layers,
            width = net.hp.d_model,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "whisper model loaded"
        );
        Ok(WhisperModel {
            mel: MelFrontEnd::new(net.hp.n_mels),
            info,
            net,
            tokenizer,
            filters,
            pool,
            threads,
            compute_type,
            alignment_heads,
        })
    }

    /// What the model is: name, languages, input size.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// What the linear layers compute in, as loaded on this CPU (never `Auto`).
    pub fn compute_type(&self) -> ComputeType {
        self.compute_type
    }

    /// Number of inference threads this model runs with.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<WhisperModel>();
    }

    #[test]
    fn missing_directory_reports_the_missing_file() {
        let err = WhisperModel::load(Path::new("/nonexistent/whisper"), &LoadOptions::default());
        assert!(matches!(err, Err(ModelError::MissingFile { .. })));
    }
}
