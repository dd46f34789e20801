//! Voice activity detection: Silero VAD v6 (16 kHz) run with candle, and silero's rules for
//! turning its probabilities into speech regions.
//!
//! [`SileroVad::load`] reads `silero_vad_16k.safetensors` (PyPI `silero-vad` 6.2.3, fetched by
//! `scripts/fetch-models` into `<models dir>/silero-vad/`). A loaded model is read-only, `Send +
//! Sync` and cheap to share through an `Arc`; each signal gets its own [`VadStream`] (network
//! state) or [`SpeechDetector`] (network state plus [`SpeechSegmenter`]), fed in pieces, so a
//! long recording is analysed as it is decoded without being held in memory. The network's
//! probabilities match the package's ONNX model within 1e-4 on real speech (the test in
//! `tests/vad.rs` pins them).

mod net;
mod regions;
mod stream;

use std::path::Path;

pub use self::net::CHUNK_SAMPLES;
pub use self::regions::{SpeechOptions, SpeechRegion, SpeechSegmenter};
pub use self::stream::VadStream;
use crate::ModelError;
use crate::vad::net::VadNet;

/// Sample rate the model takes.
pub const SAMPLE_RATE_HZ: u32 = 16_000;
/// File name of the weights inside the model directory.
pub const WEIGHTS_FILE: &str = "silero_vad_16k.safetensors";

/// The loaded Silero VAD network.
pub struct SileroVad {
    net: VadNet,
}

impl std::fmt::Debug for SileroVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SileroVad").finish_non_exhaustive()
    }
}

impl SileroVad {
    /// Loads the weights from a directory holding [`WEIGHTS_FILE`], or from the file itself.
    ///
    /// # Errors
    /// [`ModelError::MissingFile`] when it is not there, [`ModelError::InvalidModel`] when the
    /// file is not the Silero VAD v6 16 kHz network.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let file = if path.is_dir() {
            path.join(WEIGHTS_FILE)
        } else {
            path.to_path_buf()
        };
        Ok(Self {
            net: VadNet::load(&file)?,
        })
    }

    /// A fresh network state for one signal.
    pub fn stream(&self) -> VadStream<'_> {
        VadStream::new(self)
    }

    /// A fresh detector for one signal: probabilities straight into regions.
    pub fn detector(&self, options: &SpeechOptions) -> SpeechDetector<'_> {
        SpeechDetector {
            stream: self.stream(),
            segmenter: SpeechSegmenter::new(options),
            probabilities: Vec::new(),
            total_samples: 0,
        }
    }
}

/// Speech regions of a signal fed in pieces: a [`VadStream`] whose probabilities go straight
/// into a [`SpeechSegmenter`].
pub struct SpeechDetector<'a> {
    stream: VadStream<'a>,
    segmenter: SpeechSegmenter,
    /// Scratch for the probabilities of one push.
    probabilities: Vec<f32>,
    total_samples: usize,
}

impl SpeechDetector<'_> {
    /// Feeds more 16 kHz mono samples.
    ///
    /// # Errors
    /// [`ModelError::Inference`] when a tensor operation fails.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), ModelError> {
        self.total_samples += samples.len();
        self.stream.push(samples, &mut self.probabilities)?;
        self.drain();
        Ok(())
    }

    /// The signal's speech regions, in order, in samples.
    ///
    /// # Errors
    /// [`ModelError::Inference`] when a tensor operation fails.
    pub fn finish(self) -> Result<Vec<SpeechRegion>, ModelError> {
        let SpeechDetector {
            stream,
            mut segmenter,
            mut probabilities,
            total_samples,
        } = self;
        stream.finish(&mut probabilities)?;
        for probability in probabilities {
            segmenter.push(probability);
        }
        Ok(segmenter.finish(total_samples))
    }

    fn drain(&mut self) {
        for probability in self.probabilities.drain(..) {
            self.segmenter.push(probability);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SileroVad>();
    }

    #[test]
    fn missing_weights_are_reported() {
        let error = SileroVad::load(Path::new("/nonexistent/silero-vad")).unwrap_err();
        assert!(matches!(error, ModelError::MissingFile { .. }), "{error}");
    }
}
