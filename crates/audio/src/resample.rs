//! Sample-rate conversion of mono audio with rubato's FFT resampler, streaming so a long file
//! never holds more than its 16 kHz output in memory.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

use crate::AudioError;

/// Input frames the resampler consumes per call. One FFT block covers the whole chunk
/// (`sub_chunks = 1`), which gives a long anti-aliasing filter (sharp transition just below the
/// output Nyquist frequency); the price is latency, which offline decoding does not care about.
const CHUNK_FRAMES: usize = 2048;

/// Flush calls in a row that may produce nothing (all output still inside the resampler's delay)
/// before flushing is declared stuck. The delay is half an FFT block, so one such call is normal.
const MAX_IDLE_FLUSH_CALLS: usize = 8;

/// Resample a whole mono clip from `from_hz` to `to_hz`.
///
/// The output has `ceil(len * to_hz / from_hz)` samples and is aligned with the input (the
/// resampler's delay is trimmed). Equal rates return a copy.
///
/// # Errors
///
/// [`AudioError::Resample`] when a rate is zero or the resampler fails.
pub fn resample_mono(samples: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, AudioError> {
    if from_hz == to_hz {
        return Ok(samples.to_vec());
    }
    let mut resampler = StreamResampler::new(from_hz, to_hz)?;
    let mut output = Vec::with_capacity(expected_output_len(samples.len() as u64, from_hz, to_hz));
    resampler.push(samples, &mut output)?;
    resampler.finish(&mut output)?;
    Ok(output)
}

/// A mono resampler fed in pieces of any length.
///
/// Push input as it is decoded, then call [`finish`](StreamResampler::finish) once; the output
/// then holds exactly `ceil(total_input * to_hz / from_hz)` samples aligned with the input.
pub struct StreamResampler {
    resampler: Fft<f32>,
    from_hz: u32,
    to_hz: u32,
    /// Input received but not yet consumed (always shorter than one chunk between calls).
    pending: Vec<f32>,
    /// Scratch the resampler writes one chunk of output into.
    chunk_output: Vec<f32>,
    /// Output frames still to drop from the front: the resampler's delay.
    delay_left: usize,
    /// Input frames received so far.
    input_frames: u64,
    /// Output frames emitted so far (after the delay was dropped).
    emitted_frames: u64,
}

impl StreamResampler {
    /// Build a resampler from `from_hz` to `to_hz` for decoding files: long chunks, sharp
    /// filter, latency of a few hundred milliseconds at low rates.
    ///
    /// # Errors
    /// [`AudioError::Resample`] when a rate is zero.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, AudioError> {
        Self::with_chunk_frames(from_hz, to_hz, CHUNK_FRAMES)
    }

    /// Build a resampler for live audio: 20 ms chunks, so output follows input within tens of
    /// milliseconds whatever the input rate (a 2048-frame chunk is 256 ms at 8 kHz).
    ///
    /// # Errors
    /// [`AudioError::Resample`] when a rate is zero.
    pub fn low_latency(from_hz: u32, to_hz: u32) -> Result<Self, AudioError> {
        Self::with_chunk_frames(from_hz, to_hz, (from_hz as usize / 50).max(1))
    }

    fn with_chunk_frames(
        from_hz: u32,
        to_hz: u32,
        chunk_frames: usize,
    ) -> Result<Self, AudioError> {
        let resampler = Fft::<f32>::new_custom(
            from_hz as usize,
            to_hz as usize,
            chunk_frames,
            1,
            1,
            WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .map_err(|error| AudioError::Resample {
            detail: format!("cannot build a {from_hz} Hz to {to_hz} Hz resampler: {error}"),
        })?;
        let chunk_output = vec![0.0; resampler.output_frames_max()];
        let delay_left = resampler.output_delay();
        Ok(Self {
            resampler,
            from_hz,
            to_hz,
            pending: Vec::new(),
            chunk_output,
            delay_left,
            input_frames: 0,
            emitted_frames: 0,
        })
    }

    /// Feed more input, appending whatever output is ready to `output`.
    ///
    /// # Errors
    /// [`AudioError::Resample`] when the resampler fails.
    pub fn push(&mut self, input: &[f32], output: &mut Vec<f32>) -> Result<(), AudioError> {
        self.input_frames += input.len() as u64;
        let mut input = input;
        // Top up a partly filled chunk first, then resample whole chunks straight from `input`
        // so a long push is not copied twice.
        if !self.pending.is_empty() {
            let needed = self.resampler.input_frames_next() - self.pending.len();
            let taken = needed.min(input.len());
            self.pending.extend_from_slice(&input[..taken]);
            input = &input[taken..];
            if self.pending.len() < self.resampler.input_frames_next() {
                return Ok(());
            }
            let chunk = std::mem::take(&mut self.pending);
            self.process_chunk(&chunk, output)?;
        }
        loop {
            let chunk_len = self.resampler.input_frames_next();
            if input.len() < chunk_len {
                break;
            }
            let (chunk, rest) = input.split_at(chunk_len);
            self.process_chunk(chunk, output)?;
            input = rest;
        }
        self.pending.extend_from_slice(input);
        Ok(())
    }

    /// Flush the resampler: pad the input with silence until every input frame has come out,
    /// then cut the output to its exact expected length.
    ///
    /// # Errors
    /// [`AudioError::Resample`] when the resampler fails or stops producing output.
    pub fn finish(mut self, output: &mut Vec<f32>) -> Result<(), AudioError> {
        let expected = expected_output_len(self.input_frames, self.from_hz, self.to_hz) as u64;
        let mut idle_calls = 0;
        while self.emitted_frames < expected {
            let mut chunk = std::mem::take(&mut self.pending);
            chunk.resize(self.resampler.input_frames_next(), 0.0);
            let before = self.emitted_frames;
            self.process_chunk(&chunk, output)?;
            // Every call emits at least one FFT block once the delay is dropped; the guard
            // turns a broken assumption into an error instead of an endless loop.
            idle_calls = if self.emitted_frames == before {
                idle_calls + 1
            } else {
                0
            };
            if idle_calls > MAX_IDLE_FLUSH_CALLS {
                return Err(AudioError::Resample {
                    detail: format!(
                        "resampler from {} Hz to {} Hz stopped producing output while flushing",
                        self.from_hz, self.to_hz
                    ),
                });
            }
        }
        let excess = usize::try_from(self.emitted_frames - expected).unwrap_or(usize::MAX);
        output.truncate(output.len().saturating_sub(excess));
        Ok(())
    }

    fn process_chunk(&mut self, chunk: &[f32], output: &mut Vec<f32>) -> Result<(), AudioError> {
        let resample_error = |detail: String| AudioError::Resample { detail };
        let input = InterleavedSlice::new(chunk, 1, chunk.len())
            .map_err(|error| resample_error(format!("input buffer: {error}")))?;
        let output_frames = self.chunk_output.len();
        let mut chunk_output = InterleavedSlice::new_mut(&mut self.chunk_output, 1, output_frames)
            .map_err(|error| resample_error(format!("output buffer: {error}")))?;
        let indexing = Indexing::new();
        let (_consumed, produced) = self
            .resampler
            .process_into_buffer(&input, &mut chunk_output, Some(&indexing))
            .map_err(|error| {
                resample_error(format!(
                    "resampling {} Hz to {} Hz: {error}",
                    self.from_hz, self.to_hz
                ))
            })?;
        let produced = &self.chunk_output[..produced];
        let skipped = self.delay_left.min(produced.len());
        self.delay_left -= skipped;
        let kept = &produced[skipped..];
        output.extend_from_slice(kept);
        self.emitted_frames += kept.len() as u64;
        Ok(())
    }
}

/// Output length for `input_frames` resampled from `from_hz` to `to_hz`, rounded up.
fn expected_output_len(input_frames: u64, from_hz: u32, to_hz: u32) -> usize {
    let numerator = u128::from(input_frames) * u128::from(to_hz);
    let frames = numerator.div_ceil(u128::from(from_hz.max(1)));
    usize::try_from(frames).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::{StreamResampler, resample_mono};

    fn sine(frequency_hz: f32, rate_hz: u32, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|index| {
                0.5 * (2.0 * std::f32::consts::PI * frequency_hz * index as f32 / rate_hz as f32)
                    .sin()
            })
            .collect()
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|sample| sample * sample).sum::<f32>() / samples.len() as f32).sqrt()
    }

    fn zero_crossings(samples: &[f32]) -> usize {
        samples
            .windows(2)
            .filter(|pair| (pair[0] < 0.0) != (pair[1] < 0.0))
            .count()
    }

    #[test]
    fn sine_keeps_frequency_level_and_length() {
        for rate in [8_000, 11_025, 22_050, 44_100, 48_000, 96_000] {
            let input = sine(1_000.0, rate, rate as usize * 2 + 7);
            let output = resample_mono(&input, rate, 16_000).unwrap();
            let expected_len = ((input.len() as u64 * 16_000).div_ceil(u64::from(rate))) as usize;
            assert_eq!(output.len(), expected_len, "{rate} Hz");
            // Skip the edges, where the filter sees the clip's hard start and end.
            let middle = &output[1_600..output.len() - 1_600];
            let seconds = middle.len() as f32 / 16_000.0;
            let frequency = zero_crossings(middle) as f32 / 2.0 / seconds;
            assert!(
                (frequency - 1_000.0).abs() < 5.0,
                "{rate} Hz: {frequency} Hz"
            );
            let level = rms(middle) / rms(&input);
            assert!((level - 1.0).abs() < 0.01, "{rate} Hz: level ratio {level}");
        }
    }

    #[test]
    fn output_is_aligned_with_input() {
        // An impulse in the middle of 48 kHz input stays in the middle at 16 kHz.
        let mut input = vec![0.0; 48_000];
        input[24_000] = 1.0;
        let output = resample_mono(&input, 48_000, 16_000).unwrap();
        let peak = output
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(index, _)| index)
            .unwrap();
        assert!(peak.abs_diff(8_000) <= 1, "peak at {peak}");
    }

    #[test]
    fn pieces_of_any_size_give_the_same_output_as_one_push() {
        let input = sine(440.0, 44_100, 44_100);
        let whole = resample_mono(&input, 44_100, 16_000).unwrap();
        let mut resampler = StreamResampler::new(44_100, 16_000).unwrap();
        let mut pieces = Vec::new();
        for piece in input.chunks(777) {
            resampler.push(piece, &mut pieces).unwrap();
        }
        resampler.finish(&mut pieces).unwrap();
        assert_eq!(whole.len(), pieces.len());
        let max_difference = whole
            .iter()
            .zip(&pieces)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_difference < 1e-5, "{max_difference}");
    }

    #[test]
    fn tiny_and_empty_inputs_resample() {
        assert!(resample_mono(&[], 48_000, 16_000).unwrap().is_empty());
        assert_eq!(resample_mono(&[0.5; 3], 48_000, 16_000).unwrap().len(), 1);
        assert_eq!(resample_mono(&[0.5; 3], 8_000, 16_000).unwrap().len(), 6);
        assert_eq!(
            resample_mono(&[0.5; 3], 16_000, 16_000).unwrap(),
            vec![0.5; 3]
        );
    }

    #[test]
    fn zero_rate_is_a_resample_error() {
        let error = resample_mono(&[0.0; 10], 0, 16_000).unwrap_err();
        assert_eq!(error.code(), "resample_error");
    }
}
