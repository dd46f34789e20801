//! Log-mel spectrogram front end, numerically as OpenAI Whisper's `log_mel_spectrogram`.
//!
//! 400-point periodic Hann window, hop 160, `torch.stft`'s centre reflect padding, power
//! spectrum, Slaney-normalised mel filters as `librosa.filters.mel` builds them, `log10` clamped
//! to 8 below the maximum, then `(x + 4) / 4`. Whisper pads the audio with 30 s of zeros before
//! the STFT and drops the last frame; the padding only matters for the few frames whose window
//! reaches past the audio and for the global maximum, so only those frames are computed here.
//! candle's own `pcm_to_mel` skips the reflect padding and spawns threads; this one does
//! one real FFT per frame on the calling thread.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// Sample rate every Whisper model expects.
pub(crate) const SAMPLE_RATE: usize = 16_000;
/// STFT window length (25 ms).
pub(crate) const N_FFT: usize = 400;
/// STFT hop (10 ms): one mel frame per hop.
pub(crate) const HOP_LENGTH: usize = 160;
/// Samples in one 30 s window.
pub(crate) const N_SAMPLES: usize = 30 * SAMPLE_RATE;
/// Mel frames in one 30 s window.
pub(crate) const N_FRAMES: usize = N_SAMPLES / HOP_LENGTH;
/// Power floor before the logarithm (`log10(1e-10) = -10`), as Whisper clamps it.
const POWER_FLOOR: f32 = 1e-10;
/// Dynamic range kept below the loudest value, in log10 units (80 dB).
const DYNAMIC_RANGE: f32 = 8.0;

const N_BINS: usize = N_FFT / 2 + 1;

/// A log-mel spectrogram, mel-major: row `m` holds every frame of mel bin `m`.
#[derive(Debug, Clone)]
pub(crate) struct LogMel {
    pub n_mels: usize,
    pub n_frames: usize,
    pub data: Vec<f32>,
}

impl LogMel {
    /// `N_FRAMES` frames starting at `start`, the ones past the end zero (as Whisper's
    /// `pad_or_trim` fills them), laid out `[n_mels][N_FRAMES]`.
    pub fn window(&self, start: usize) -> Vec<f32> {
        self.window_of(start, N_FRAMES)
    }

    /// `frames` frames starting at `start`, zero past the end, laid out `[n_mels][frames]`.
    pub fn window_of(&self, start: usize, frames: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.n_mels * frames];
        let available = self.n_frames.saturating_sub(start).min(frames);
        for mel in 0..self.n_mels {
            let row = &self.data[mel * self.n_frames..(mel + 1) * self.n_frames];
            out[mel * frames..mel * frames + available]
                .copy_from_slice(&row[start..start + available]);
        }
        out
    }
}

/// A mel filter's non-zero span over the FFT bins.
struct Filter {
    first_bin: usize,
    weights: Vec<f32>,
}

/// The reusable parts of the front end: window, FFT plan and filterbank.
pub(crate) struct MelFrontEnd {
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    filters: Vec<Filter>,
}

impl MelFrontEnd {
    /// A front end producing `n_mels` bins (80, or 128 for large-v3).
    pub fn new(n_mels: usize) -> MelFrontEnd {
        let window = (0..N_FFT)
            .map(|n| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        let filters = mel_filters(n_mels)
            .into_iter()
            .map(|row| {
                let first_bin = row.iter().position(|&w| w > 0.0).unwrap_or(0);
                let last_bin = row.iter().rposition(|&w| w > 0.0).unwrap_or(0);
                Filter {
                    first_bin,
                    weights: row[first_bin..=last_bin.max(first_bin)].to_vec(),
                }
            })
            .collect();
        MelFrontEnd {
            window,
            fft,
            filters,
        }
    }

    /// Number of mel bins this front end produces.
    pub fn n_mels(&self) -> usize {
        self.filters.len()
    }

    /// The normalised log-mel spectrogram of 16 kHz mono `samples`: `samples.len() / 160`
    /// frames, as Whisper computes them on the audio padded with 30 s of silence.
    pub fn compute(&self, samples: &[f32]) -> LogMel {
        let n_frames = samples.len() / HOP_LENGTH;
        // Frames whose window still overlaps the audio can set the maximum; past them every
        // frame is silence, which sits at the floor.
        let n_max_frames = (samples.len() + N_FFT / 2).div_ceil(HOP_LENGTH) + 1;
        let n_computed = n_frames.max(n_max_frames);
        let n_mels = self.n_mels();
        let mut data = vec![0.0f32; n_mels * n_frames];
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; N_BINS];
        let mut max = POWER_FLOOR.log10();
        for frame in 0..n_computed {
            let start = (frame * HOP_LENGTH) as isize - (N_FFT / 2) as isize;
            for (offset, (value, weight)) in input.iter_mut().zip(&self.window).enumerate() {
                *value = padded_sample(samples, start + offset as isize) * weight;
            }
            // Lengths come from the plan itself, so processing cannot fail.
            let _ = self
                .fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch);
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            for (mel, filter) in self.filters.iter().enumerate() {
                let bins = &power[filter.first_bin..filter.first_bin + filter.weights.len()];
                let energy: f32 = bins.iter().zip(&filter.weights).map(|(p, w)| p * w).sum();
                let log = energy.max(POWER_FLOOR).log10();
                max = max.max(log);
                if frame < n_frames {
                    data[mel * n_frames + frame] = log;
                }
            }
        }
        let floor = max - DYNAMIC_RANGE;
        for value in &mut data {
            *value = (value.max(floor) + 4.0) / 4.0;
        }
        LogMel {
            n_mels,
            n_frames,
            data,
        }
    }
}

/// Sample `index` of the audio followed by 30 s of zeros, reflected at both ends as
/// `torch.stft(center=True, pad_mode="reflect")` does.
fn padded_sample(samples: &[f32], index: isize) -> f32 {
    let total = (samples.len() + N_SAMPLES) as isize;
    let reflected = if index < 0 {
        -index
    } else if index >= total {
        2 * (total - 1) - index
    } else {
        index
    };
    usize::try_from(reflected)
        .ok()
        .and_then(|i| samples.get(i))
        .copied()
        .unwrap_or(0.0)
}

/// Slaney mel filterbank as `librosa.filters.mel(sr=16000, n_fft=400, n_mels, htk=False,
/// norm="slaney")`, which is where Whisper's `mel_filters.npz` comes from.
pub(crate) fn mel_filters(n_mels: usize) -> Vec<Vec<f32>> {
    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let fft_freqs: Vec<f64> = (0..N_BINS)
        .map(|k| k as f64 * SAMPLE_RATE as f64 / N_FFT as f64)
        .collect();
    let max_mel = hz_to_mel(nyquist);
    let mel_freqs: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(max_mel * i as f64 / (n_mels + 1) as f64))
        .collect();
    (0..n_mels)
        .map(|m| {
            let (lower, centre, upper) = (mel_freqs[m], mel_freqs[m + 1], mel_freqs[m + 2]);
            let norm = 2.0 / (upper - lower);
            fft_freqs
                .iter()
                .map(|&f| {
                    let rising = (f - lower) / (centre - lower);
                    let falling = (upper - f) / (upper - centre);
                    (rising.min(falling).max(0.0) * norm) as f32
                })
                .collect()
        })
        .collect()
}

const MEL_LINEAR_HZ_PER_MEL: f64 = 200.0 / 3.0;
const MEL_LOG_START_HZ: f64 = 1000.0;
const MEL_LOG_START: f64 = MEL_LOG_START_HZ / MEL_LINEAR_HZ_PER_MEL;

fn mel_log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Slaney's mel scale: linear below 1 kHz, logarithmic above.
pub(crate) fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MEL_LOG_START_HZ {
        MEL_LOG_START + (hz / MEL_LOG_START_HZ).ln() / mel_log_step()
    } else {
        hz / MEL_LINEAR_HZ_PER_MEL
    }
}

/// Inverse of [`hz_to_mel`].
pub(crate) fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MEL_LOG_START {
        MEL_LOG_START_HZ * (mel_log_step() * (mel - MEL_LOG_START)).exp()
    } else {
        mel * MEL_LINEAR_HZ_PER_MEL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f32, seconds: f32) -> Vec<f32> {
        let n = (seconds * SAMPLE_RATE as f32) as usize;
        (0..n)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / SAMPLE_RATE as f32).sin())
            .collect()
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 300.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn filters_are_slaney_triangles() {
        let filters = mel_filters(80);
        assert_eq!(filters.len(), 80);
        assert!(filters.iter().all(|row| row.len() == N_BINS));
        // Slaney normalisation makes each triangle's area (in Hz) 1.
        let bin_hz = SAMPLE_RATE as f64 / N_FFT as f64;
        for row in &filters[10..] {
            let area: f64 = row.iter().map(|&w| f64::from(w) * bin_hz).sum();
            assert!((area - 1.0).abs() < 0.1, "area {area}");
        }
        // librosa's first filter (what whisper's mel_filters.npz holds) peaks at FFT bin 1.
        assert!(
            filters[0][1] > 0.02 && filters[0][1] < 0.03,
            "{}",
            filters[0][1]
        );
        assert_eq!(filters[0][0], 0.0);
    }

    #[test]
    fn frame_count_follows_whisper() {
        let front = MelFrontEnd::new(80);
        let mel = front.compute(&vec![0.0; 16_000]);
        assert_eq!(mel.n_frames, 100);
        assert_eq!(mel.data.len(), 80 * 100);
        // The STFT itself has 1 + len/160 frames over the padded signal; Whisper drops the
        // last, so a 30 s window of audio is exactly N_FRAMES frames.
        assert_eq!(front.compute(&vec![0.0; N_SAMPLES]).n_frames, N_FRAMES);
    }

    #[test]
    fn silence_sits_at_the_floor() {
        let mel = MelFrontEnd::new(80).compute(&vec![0.0; 8_000]);
        assert!(mel.data.iter().all(|&v| (v - (-1.5)).abs() < 1e-6));
    }

    #[test]
    fn a_sine_lands_in_the_matching_mel_bin() {
        let front = MelFrontEnd::new(80);
        let max_mel = hz_to_mel(8000.0);
        for hz in [440.0f32, 1000.0, 3000.0] {
            let mel = front.compute(&sine(hz, 1.0));
            let frame = 50;
            let column: Vec<f32> = (0..80)
                .map(|m| mel.data[m * mel.n_frames + frame])
                .collect();
            let loudest = column
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(m, _)| m)
                .unwrap_or(0);
            let centre_hz = mel_to_hz(max_mel * (loudest + 1) as f64 / 81.0);
            let expected = hz_to_mel(f64::from(hz)) / max_mel * 81.0 - 1.0;
            assert!(
                (loudest as f64 - expected).abs() <= 1.5,
                "{hz} Hz landed in bin {loudest} (centre {centre_hz:.0} Hz), expected ~{expected:.1}"
            );
            // Loudest value is the normalisation maximum: (max + 4) / 4 with dynamic range 8.
            let top = column[loudest];
            assert!(column.iter().all(|&v| v >= top - 2.0 - 1e-5));
        }
    }

    #[test]
    fn reflect_padding_mirrors_without_repeating_the_edge() {
        let samples = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(padded_sample(&samples, -1), 2.0);
        assert_eq!(padded_sample(&samples, -3), 4.0);
        assert_eq!(padded_sample(&samples, 0), 1.0);
        assert_eq!(padded_sample(&samples, 10), 0.0);
    }

    #[test]
    fn window_pads_with_zeros() {
        let mel = LogMel {
            n_mels: 2,
            n_frames: 3,
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let window = mel.window(1);
        assert_eq!(window.len(), 2 * N_FRAMES);
        assert_eq!(&window[..3], &[2.0, 3.0, 0.0]);
        assert_eq!(&window[N_FRAMES..N_FRAMES + 3], &[5.0, 6.0, 0.0]);
    }
}
