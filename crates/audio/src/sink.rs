//! Where decoded audio goes: [`SampleSink`] receives 16 kHz mono blocks as they are decoded, so
//! a caller that writes or analyses them never holds the whole signal.

use crate::AudioError;

/// A consumer of decoded 16 kHz mono audio, fed block by block in order.
pub trait SampleSink {
    /// Takes the next block (any length, possibly empty).
    ///
    /// # Errors
    /// Whatever stops the consumer; decoding stops with it.
    fn push(&mut self, samples: &[f32]) -> Result<(), AudioError>;

    /// Forgets every block received so far: the decoder starts again from the beginning
    /// (symphonia found the stream corrupt part-way and ffmpeg gets a second try).
    ///
    /// # Errors
    /// Whatever stops the consumer.
    fn restart(&mut self) -> Result<(), AudioError>;
}

/// Collects every sample (what [`decode_file`](crate::decode_file) returns).
impl SampleSink for Vec<f32> {
    fn push(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.extend_from_slice(samples);
        Ok(())
    }

    fn restart(&mut self) -> Result<(), AudioError> {
        self.clear();
        Ok(())
    }
}

/// Counts samples and keeps none: a probe of length and decodability.
#[derive(Debug, Default, Clone, Copy)]
pub struct SampleCounter {
    pub samples: u64,
}

impl SampleSink for SampleCounter {
    fn push(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.samples += samples.len() as u64;
        Ok(())
    }

    fn restart(&mut self) -> Result<(), AudioError> {
        self.samples = 0;
        Ok(())
    }
}
