//! Speaker embeddings: the GE2E speaker encoder of Resemblyzer (`pretrained.pt` from the PyPI
//! package `Resemblyzer` 0.1.4), reproduced on candle.
//!
//! [`SpeakerEncoder::embed_utterances`] follows `VoiceEncoder.embed_utterance` exactly: the
//! utterance is cut into 160-frame (1.6 s) partials every 77 frames (`rate=1.3`, so about 50 %
//! overlap), the last partial kept only when at least 75 % of it is audio, the waveform
//! zero-padded to the last partial's end, each partial embedded, and the mean of the partial
//! embeddings L2-normalised. [`normalize_volume`] is Resemblyzer's `normalize_volume` at
//! −30 dBFS (`increase_only`), which `preprocess_wav` applies to a whole recording before
//! embedding it. Like the rest of this crate, calls are blocking and CPU-bound.

mod checkpoint;
mod mel;
mod network;

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use self::mel::MelPower;
pub use self::mel::{HOP_LENGTH, N_MELS, SAMPLE_RATE_HZ};
pub use self::network::EMBEDDING_DIM;
use self::network::Network;
use crate::ModelError;

/// File name of the weights inside a speaker model directory.
pub const WEIGHTS_FILE: &str = "pretrained.pt";
/// Mel frames in one partial utterance (`partials_n_frames`, 1.6 s).
pub const PARTIAL_FRAMES: usize = 160;
/// Partial utterances per second of audio (`embed_utterance`'s default `rate`).
const PARTIALS_PER_SEC: f64 = 1.3;
/// Fraction of the last partial that must be audio for it to count (`min_coverage`).
const MIN_COVERAGE: f64 = 0.75;
/// Level `preprocess_wav` raises quiet recordings to (`audio_norm_target_dBFS`).
const TARGET_DBFS: f64 = -30.0;
/// Partials embedded in one forward pass, bounding memory (~42 MB of gate activations).
const MAX_BATCH: usize = 64;

/// An L2-normalised speaker embedding of [`EMBEDDING_DIM`] values.
pub type Embedding = Vec<f32>;

/// The loaded GE2E encoder. `Send + Sync`: share one through an `Arc`.
pub struct SpeakerEncoder {
    network: Network,
    mel: MelPower,
    /// One worker: the LSTM's small matmuls lose more to synchronisation than they gain from a
    /// second thread, and diarization runs beside transcription, which has the other core.
    pool: rayon::ThreadPool,
}

impl std::fmt::Debug for SpeakerEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeakerEncoder").finish_non_exhaustive()
    }
}

impl SpeakerEncoder {
    /// Loads `pretrained.pt` from `dir`.
    ///
    /// # Errors
    /// [`ModelError::MissingFile`] when the weights are not there, [`ModelError::InvalidModel`]
    /// when they are not Resemblyzer's encoder.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let path: PathBuf = dir.join(WEIGHTS_FILE);
        if !path.is_file() {
            return Err(ModelError::MissingFile { path });
        }
        let tensors = checkpoint::read_state_dict(&path, "model_state")?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|index| format!("speaker-{index}"))
            .build()
            .map_err(ModelError::ThreadPool)?;
        Ok(Self {
            network: Network::from_state_dict(&path, tensors, N_MELS)?,
            mel: MelPower::new(),
            pool,
        })
    }

    /// The mel power spectrogram the network reads, frame-major (`frames × N_MELS`).
    pub fn mel_spectrogram(&self, samples: &[f32]) -> Vec<f32> {
        self.mel.compute(samples)
    }

    /// The embeddings of partial utterances given as mel spectrograms of exactly
    /// [`PARTIAL_FRAMES`] frames each (`partials.len() × PARTIAL_FRAMES × N_MELS` values).
    ///
    /// # Errors
    /// [`ModelError::InvalidOptions`] for a length that is not whole partials,
    /// [`ModelError::Inference`] when a tensor operation fails.
    pub fn embed_partials(&self, mels: &[f32]) -> Result<Vec<Embedding>, ModelError> {
        let partial_len = PARTIAL_FRAMES * N_MELS;
        if !mels.len().is_multiple_of(partial_len) {
            return Err(ModelError::InvalidOptions {
                reason: format!("{} mel values are not whole partials", mels.len()),
            });
        }
        let mut embeddings = Vec::with_capacity(mels.len() / partial_len);
        for batch in mels.chunks(MAX_BATCH * partial_len) {
            let count = batch.len() / partial_len;
            let input = Tensor::from_slice(batch, (count, PARTIAL_FRAMES, N_MELS), &Device::Cpu)?;
            let output: Vec<Vec<f32>> = self
                .pool
                .install(|| self.network.forward(&input))?
                .to_vec2()?;
            embeddings.extend(output);
        }
        Ok(embeddings)
    }

    /// One embedding per utterance (16 kHz samples), as `VoiceEncoder.embed_utterance`; the
    /// partials of all utterances go through the network together.
    ///
    /// # Errors
    /// [`ModelError::InvalidOptions`] for an empty utterance, [`ModelError::Inference`] when a
    /// tensor operation fails.
    pub fn embed_utterances(&self, utterances: &[&[f32]]) -> Result<Vec<Embedding>, ModelError> {
        let mut mels = Vec::new();
        let mut partial_counts = Vec::with_capacity(utterances.len());
        for utterance in utterances {
            if utterance.is_empty() {
                return Err(ModelError::InvalidOptions {
                    reason: "cannot embed an empty utterance".into(),
                });
            }
            let starts = partial_starts(utterance.len());
            let padded_len = (starts.last().copied().unwrap_or(0) + PARTIAL_FRAMES) * HOP_LENGTH;
            let mut padded = utterance.to_vec();
            if padded.len() < padded_len {
                padded.resize(padded_len, 0.0);
            }
            let mel = self.mel.compute(&padded);
            for start in &starts {
                mels.extend_from_slice(&mel[start * N_MELS..(start + PARTIAL_FRAMES) * N_MELS]);
            }
            partial_counts.push(starts.len());
        }
        let partials = self.embed_partials(&mels)?;
        let mut partials = partials.into_iter();
        Ok(partial_counts
            .into_iter()
            .map(|count| mean_normalised(partials.by_ref().take(count)))
            .collect())
    }
}

/// First mel frame of each partial of an utterance of `n_samples`, as
/// `VoiceEncoder.compute_partial_slices(n_samples, rate=1.3, min_coverage=0.75)`.
pub fn partial_starts(n_samples: usize) -> Vec<usize> {
    let n_frames = (n_samples + 1).div_ceil(HOP_LENGTH);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a small positive frame count"
    )]
    let frame_step =
        ((SAMPLE_RATE_HZ as f64 / PARTIALS_PER_SEC) / HOP_LENGTH as f64).round() as usize;
    let steps = (n_frames + frame_step + 1)
        .saturating_sub(PARTIAL_FRAMES)
        .max(1);
    let mut starts: Vec<usize> = (0..steps).step_by(frame_step).collect();
    if let Some(&last) = starts.last() {
        let last_start = (last * HOP_LENGTH) as f64;
        let coverage = (n_samples as f64 - last_start) / (PARTIAL_FRAMES * HOP_LENGTH) as f64;
        if coverage < MIN_COVERAGE && starts.len() > 1 {
            starts.pop();
        }
    }
    starts
}

/// The L2-normalised mean of embeddings.
fn mean_normalised(embeddings: impl Iterator<Item = Embedding>) -> Embedding {
    let mut sum = vec![0.0f32; EMBEDDING_DIM];
    for embedding in embeddings {
        for (total, value) in sum.iter_mut().zip(&embedding) {
            *total += value;
        }
    }
    let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    sum.iter().map(|v| v / norm).collect()
}

/// Raises quiet audio to −30 dBFS as Resemblyzer's `normalize_volume(wav, -30,
/// increase_only=True)`; louder audio is left as it is.
pub fn normalize_volume(samples: &mut [f32]) {
    if samples.is_empty() {
        return;
    }
    let mean_square = samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64;
    if mean_square <= 0.0 {
        return;
    }
    let dbfs = 10.0 * mean_square.log10();
    let change = TARGET_DBFS - dbfs;
    if change > 0.0 {
        #[expect(clippy::cast_possible_truncation, reason = "a gain factor")]
        let gain = 10f64.powf(change / 20.0) as f32;
        for sample in samples {
            *sample *= gain;
        }
    }
}

/// Cosine similarity of two embeddings (their dot product, as both have unit length).
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partials_follow_resemblyzer() {
        // One second: a single partial, padded (the coverage rule never drops the only one).
        assert_eq!(partial_starts(16_000), vec![0]);
        // 11 s (jfk): ceil(176001/160) = 1101 frames; steps = 1101 - 160 + 77 + 1 = 1019.
        let starts = partial_starts(176_000);
        assert_eq!(starts.first(), Some(&0));
        assert!(starts.windows(2).all(|w| w[1] - w[0] == 77));
        assert_eq!(starts.len(), 1019usize.div_ceil(77) - 1, "{starts:?}");
    }

    #[test]
    fn volume_is_only_raised() {
        let mut quiet = vec![0.001f32; 100];
        normalize_volume(&mut quiet);
        assert!((20.0 * f64::from(quiet[0]).log10() - TARGET_DBFS).abs() < 1e-3);
        let mut loud = vec![0.5f32; 10];
        normalize_volume(&mut loud);
        assert_eq!(loud[0], 0.5);
    }
}
