//! [`VadStream`]: speech probabilities of a signal fed in pieces of any length.

use crate::ModelError;
use crate::vad::SileroVad;
use crate::vad::net::{CHUNK_SAMPLES, CONTEXT_SAMPLES, INPUT_SAMPLES, LstmState};

/// Chunks run through the network's batched front end at once (about one second of audio):
/// large enough that candle's per-operation overhead vanishes, small enough that the stream
/// holds only a few kilobytes.
const BATCH_CHUNKS: usize = 32;

/// The network's state over one signal: the LSTM state, the last 64 samples (the next chunk's
/// context) and the samples of a chunk not yet complete.
///
/// Feed samples with [`push`](VadStream::push) as they are decoded, then call
/// [`finish`](VadStream::finish) once; together they yield one probability per 512-sample chunk
/// (32 ms), the last chunk zero-padded, exactly as the official package's `OnnxWrapper` does.
pub struct VadStream<'a> {
    vad: &'a SileroVad,
    state: LstmState,
    /// The step inputs (context + chunk) assembled for the next batch.
    batch: Vec<f32>,
    /// Samples of the chunk being filled.
    chunk: Vec<f32>,
    context: [f32; CONTEXT_SAMPLES],
}

impl<'a> VadStream<'a> {
    pub(crate) fn new(vad: &'a SileroVad) -> Self {
        Self {
            vad,
            state: LstmState::default(),
            batch: Vec::with_capacity(BATCH_CHUNKS * INPUT_SAMPLES),
            chunk: Vec::with_capacity(CHUNK_SAMPLES),
            context: [0.0; CONTEXT_SAMPLES],
        }
    }

    /// Feeds 16 kHz mono samples, appending the probabilities of the chunks they complete once
    /// a batch is full (so some arrive only on a later call or from `finish`).
    ///
    /// # Errors
    /// [`ModelError::Inference`] when a tensor operation fails.
    pub fn push(
        &mut self,
        samples: &[f32],
        probabilities: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        let mut samples = samples;
        while !samples.is_empty() {
            let taken = (CHUNK_SAMPLES - self.chunk.len()).min(samples.len());
            self.chunk.extend_from_slice(&samples[..taken]);
            samples = &samples[taken..];
            if self.chunk.len() == CHUNK_SAMPLES {
                self.queue_chunk();
                if self.batch.len() == BATCH_CHUNKS * INPUT_SAMPLES {
                    self.run_batch(probabilities)?;
                }
            }
        }
        Ok(())
    }

    /// Runs the chunks completed so far without waiting for a full batch, so a live stream
    /// gets each 32 ms chunk's probability as soon as its audio has arrived.
    ///
    /// # Errors
    /// [`ModelError::Inference`] when a tensor operation fails.
    pub fn flush(&mut self, probabilities: &mut Vec<f32>) -> Result<(), ModelError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.run_batch(probabilities)
    }

    /// Runs what is left, the last partial chunk padded with zeros.
    ///
    /// # Errors
    /// [`ModelError::Inference`] when a tensor operation fails.
    pub fn finish(mut self, probabilities: &mut Vec<f32>) -> Result<(), ModelError> {
        if !self.chunk.is_empty() {
            self.chunk.resize(CHUNK_SAMPLES, 0.0);
            self.queue_chunk();
        }
        self.run_batch(probabilities)
    }

    fn queue_chunk(&mut self) {
        self.batch.extend_from_slice(&self.context);
        self.batch.extend_from_slice(&self.chunk);
        self.context
            .copy_from_slice(&self.chunk[CHUNK_SAMPLES - CONTEXT_SAMPLES..]);
        self.chunk.clear();
    }

    fn run_batch(&mut self, probabilities: &mut Vec<f32>) -> Result<(), ModelError> {
        self.vad
            .net
            .forward(&self.batch, &mut self.state, probabilities)?;
        self.batch.clear();
        Ok(())
    }
}
