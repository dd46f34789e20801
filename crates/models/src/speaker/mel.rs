//! The GE2E encoder's front end, numerically as Resemblyzer's `wav_to_mel_spectrogram`:
//! `librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40)`, i.e. a
//! 400-point periodic Hann window (25 ms), hop 160 (10 ms), centred frames with zero padding
//! (librosa ≥ 0.10's `pad_mode="constant"`), the *power* spectrum and Slaney-normalised mel
//! filters. Not a log-mel: the network was trained on linear mel power.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use crate::whisper::mel::mel_filters;

/// Sample rate the encoder expects.
pub const SAMPLE_RATE_HZ: usize = 16_000;
/// Mel bands (`mel_n_channels`).
pub const N_MELS: usize = 40;
/// STFT window: 25 ms (`mel_window_length`).
const N_FFT: usize = SAMPLE_RATE_HZ * 25 / 1000;
/// STFT hop: 10 ms (`mel_window_step`); one frame per hop.
pub const HOP_LENGTH: usize = SAMPLE_RATE_HZ * 10 / 1000;

/// Window, FFT plan and filterbank, built once per encoder.
pub(crate) struct MelPower {
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    /// `(first FFT bin, weights)` of each filter's non-zero span.
    filters: Vec<(usize, Vec<f32>)>,
}

impl MelPower {
    pub fn new() -> Self {
        // scipy's `get_window("hann", N_FFT, fftbins=True)`: periodic.
        let window = (0..N_FFT)
            .map(|n| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32
            })
            .collect();
        let filters = mel_filters(N_MELS)
            .into_iter()
            .map(|row| {
                let first = row.iter().position(|&w| w > 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w > 0.0).unwrap_or(first);
                (first, row[first..=last.max(first)].to_vec())
            })
            .collect();
        Self {
            window,
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT),
            filters,
        }
    }

    /// The mel power spectrogram of 16 kHz `samples`, frame-major: `1 + len / 160` frames of
    /// [`N_MELS`] values each, flattened.
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let n_frames = 1 + samples.len() / HOP_LENGTH;
        let mut out = Vec::with_capacity(n_frames * N_MELS);
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; spectrum.len()];
        for frame in 0..n_frames {
            let start = (frame * HOP_LENGTH) as isize - (N_FFT / 2) as isize;
            for (offset, (value, weight)) in input.iter_mut().zip(&self.window).enumerate() {
                let index = start + offset as isize;
                let sample = usize::try_from(index)
                    .ok()
                    .and_then(|i| samples.get(i))
                    .copied()
                    .unwrap_or(0.0);
                *value = sample * weight;
            }
            // Lengths come from the plan itself, so processing cannot fail.
            let _ = self
                .fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch);
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            out.extend(self.filters.iter().map(|(first, weights)| {
                power[*first..*first + weights.len()]
                    .iter()
                    .zip(weights)
                    .map(|(p, w)| p * w)
                    .sum::<f32>()
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_and_silence() {
        let mel = MelPower::new().compute(&vec![0.0; 16_000]);
        assert_eq!(mel.len(), 101 * N_MELS);
        assert!(mel.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn a_tone_puts_its_power_in_one_band() {
        let samples: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let mel = MelPower::new().compute(&samples);
        let frame = &mel[50 * N_MELS..51 * N_MELS];
        let total: f32 = frame.iter().sum();
        let loudest = frame.iter().copied().fold(0.0f32, f32::max);
        assert!(loudest > 0.4 * total, "{frame:?}");
    }
}
