//! Log-mel spectrogram front end, numerically as OpenAI Whisper's `log_mel_spectrogram`.
//!
//! 400-point periodic Hann window, hop 160, `torch.stft`'s centre reflect padding, power
//! spectrum, Slaney-normalised mel filters as `librosa.filters.mel` builds them, `log10` clamped
//! to 8 below the maximum, then `(x + 4) / 4`. Whisper pads the audio with 30 s of zeros before
//! the STFT and drops the last frame; the padding only matters for the few frames whose window
//! reaches past the audio and for the global maximum, so only those frames are computed here.
//! The spectrogram is computed a window at a time from a [`SampleSource`] ([`MelStream`]), so a
//! long recording is never in memory whole. candle's own `pcm_to_mel` skips the reflect padding
//! and spawns threads; this one does one real FFT per frame on the calling thread.

use std::ops::Range;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use crate::source::{SampleSource, SourceError};

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

/// One window of a log-mel spectrogram, as the encoder takes it.
pub(crate) struct MelWindow {
    /// `[n_mels][N_FRAMES]`, the frames past the end of the audio zero (as Whisper's
    /// `pad_or_trim` fills them).
    pub mel: Vec<f32>,
    /// The largest absolute sample of the audio the window's frames cover.
    pub peak: f32,
}

impl MelWindow {
    /// The first `frames` frames of each mel bin, laid out `[n_mels][frames]`.
    pub fn first_frames(&self, frames: usize) -> Vec<f32> {
        let frames = frames.min(N_FRAMES);
        self.mel
            .chunks_exact(N_FRAMES)
            .flat_map(|row| &row[..frames])
            .copied()
            .collect()
    }
}

/// A log-mel spectrogram read a window at a time from a [`SampleSource`].
///
/// Whisper normalises by the loudest value of the whole recording, so a first pass reads the
/// audio once for that maximum and keeps nothing else; each window's frames are then computed
/// from that window's samples when transcription reaches them. Memory holds one window whatever
/// the length of the recording, and every frame is the number computing the whole spectrogram
/// at once would give (the STFT of a frame only reads the 400 samples around it).
pub(crate) struct MelStream<'a> {
    front: &'a MelFrontEnd,
    source: &'a mut dyn SampleSource,
    n_frames: usize,
    /// Values below this are raised to it: the maximum less the dynamic range.
    floor: f32,
}

impl<'a> MelStream<'a> {
    /// Reads `source` once for the normalisation maximum.
    ///
    /// # Errors
    /// Whatever reading the source fails with.
    pub fn new(
        front: &'a MelFrontEnd,
        source: &'a mut dyn SampleSource,
    ) -> Result<MelStream<'a>, SourceError> {
        let (n_frames, n_computed) = frame_counts(source.len());
        let mut frame = FrameScratch::new(front);
        let mut max = POWER_FLOOR.log10();
        for first in (0..n_computed).step_by(N_FRAMES) {
            let frames = first..(first + N_FRAMES).min(n_computed);
            let block = Block::read(source, frames.clone())?;
            for index in frames {
                let logs = front.frame_logs(&block, index, &mut frame);
                max = logs.iter().fold(max, |m, &v| m.max(v));
            }
        }
        Ok(MelStream {
            front,
            source,
            n_frames,
            floor: max - DYNAMIC_RANGE,
        })
    }

    /// Frames in the recording: one per hop of 160 samples.
    pub fn n_frames(&self) -> usize {
        self.n_frames
    }

    /// The normalised window of `N_FRAMES` frames from frame `start`.
    ///
    /// # Errors
    /// Whatever reading the source fails with.
    pub fn window(&mut self, start: usize) -> Result<MelWindow, SourceError> {
        let n_mels = self.front.n_mels();
        let mut mel = vec![0.0; n_mels * N_FRAMES];
        let available = self.n_frames.saturating_sub(start).min(N_FRAMES);
        if available == 0 {
            return Ok(MelWindow { mel, peak: 0.0 });
        }
        let frames = start..start + available;
        let block = Block::read(self.source, frames.clone())?;
        let mut scratch = FrameScratch::new(self.front);
        for (column, index) in frames.clone().enumerate() {
            let logs = self.front.frame_logs(&block, index, &mut scratch);
            for (row, &log) in mel.chunks_exact_mut(N_FRAMES).zip(logs) {
                row[column] = normalise(log, self.floor);
            }
        }
        let peak = block
            .covering(frames.start * HOP_LENGTH..frames.end * HOP_LENGTH)
            .iter()
            .fold(0.0f32, |m, s| m.max(s.abs()));
        Ok(MelWindow { mel, peak })
    }
}

/// Frames in a recording of `len` samples (one per hop), and how many of them, with the frames
/// of Whisper's 30 s of padding whose window still overlaps the audio, can set the maximum;
/// past those every padding frame is silence, which sits at the floor.
fn frame_counts(len: usize) -> (usize, usize) {
    let n_frames = len / HOP_LENGTH;
    let n_max_frames = (len + N_FFT / 2).div_ceil(HOP_LENGTH) + 1;
    (n_frames, n_frames.max(n_max_frames))
}

/// Whisper's normalisation of a `log10` energy: raised to `floor`, then `(x + 4) / 4`.
fn normalise(log: f32, floor: f32) -> f32 {
    (log.max(floor) + 4.0) / 4.0
}

/// The samples some frames read: `offset..offset + samples.len()` of a recording `len` long.
struct Block {
    samples: Vec<f32>,
    offset: usize,
    len: usize,
}

impl Block {
    /// Reads what the STFT of `frames` needs: 200 samples either side of their centres.
    fn read(source: &mut dyn SampleSource, frames: Range<usize>) -> Result<Block, SourceError> {
        let len = source.len();
        let start = (frames.start * HOP_LENGTH)
            .saturating_sub(N_FFT / 2)
            .min(len);
        let end = (frames.end * HOP_LENGTH + N_FFT / 2).clamp(start, len);
        Ok(Block {
            samples: source.read(start..end)?,
            offset: start,
            len,
        })
    }

    /// The block's samples inside `range` of the recording.
    fn covering(&self, range: Range<usize>) -> &[f32] {
        let end = range
            .end
            .saturating_sub(self.offset)
            .min(self.samples.len());
        let start = range.start.saturating_sub(self.offset).min(end);
        &self.samples[start..end]
    }

    /// Sample `index` of the recording followed by 30 s of zeros, reflected at both ends as
    /// `torch.stft(center=True, pad_mode="reflect")` does. Every index a frame of the block
    /// reads is in the block or in the zeros.
    fn padded(&self, index: isize) -> f32 {
        let total = (self.len + N_SAMPLES) as isize;
        let reflected = if index < 0 {
            -index
        } else if index >= total {
            2 * (total - 1) - index
        } else {
            index
        };
        usize::try_from(reflected)
            .ok()
            .filter(|&i| i < self.len)
            .and_then(|i| i.checked_sub(self.offset))
            .and_then(|i| self.samples.get(i))
            .copied()
            .unwrap_or(0.0)
    }
}

/// The buffers of one frame's FFT and filterbank, reused from frame to frame.
struct FrameScratch {
    input: Vec<f32>,
    spectrum: Vec<realfft::num_complex::Complex<f32>>,
    fft_scratch: Vec<realfft::num_complex::Complex<f32>>,
    power: Vec<f32>,
    logs: Vec<f32>,
}

impl FrameScratch {
    fn new(front: &MelFrontEnd) -> FrameScratch {
        FrameScratch {
            input: front.fft.make_input_vec(),
            spectrum: front.fft.make_output_vec(),
            fft_scratch: front.fft.make_scratch_vec(),
            power: vec![0.0; N_BINS],
            logs: vec![0.0; front.n_mels()],
        }
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

    /// `log10` of each mel bin's energy in frame `index` (centred on sample `160·index`),
    /// before normalisation; `block` holds the samples around it.
    fn frame_logs<'s>(
        &self,
        block: &Block,
        index: usize,
        scratch: &'s mut FrameScratch,
    ) -> &'s [f32] {
        let start = (index * HOP_LENGTH) as isize - (N_FFT / 2) as isize;
        for (offset, (value, weight)) in scratch.input.iter_mut().zip(&self.window).enumerate() {
            *value = block.padded(start + offset as isize) * weight;
        }
        // Lengths come from the plan itself, so processing cannot fail.
        let _ = self.fft.process_with_scratch(
            &mut scratch.input,
            &mut scratch.spectrum,
            &mut scratch.fft_scratch,
        );
        for (p, c) in scratch.power.iter_mut().zip(&scratch.spectrum) {
            *p = c.norm_sqr();
        }
        for (log, filter) in scratch.logs.iter_mut().zip(&self.filters) {
            let bins = &scratch.power[filter.first_bin..filter.first_bin + filter.weights.len()];
            let energy: f32 = bins.iter().zip(&filter.weights).map(|(p, w)| p * w).sum();
            *log = energy.max(POWER_FLOOR).log10();
        }
        &scratch.logs
    }
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

    /// The whole normalised spectrogram at once, `[frame][mel]`: the reference a stream's
    /// windows must equal.
    fn whole_spectrogram(front: &MelFrontEnd, samples: &[f32]) -> Vec<Vec<f32>> {
        let block = Block {
            samples: samples.to_vec(),
            offset: 0,
            len: samples.len(),
        };
        let (n_frames, n_computed) = frame_counts(samples.len());
        let mut scratch = FrameScratch::new(front);
        let logs: Vec<Vec<f32>> = (0..n_computed)
            .map(|index| front.frame_logs(&block, index, &mut scratch).to_vec())
            .collect();
        let max = logs
            .iter()
            .flatten()
            .fold(POWER_FLOOR.log10(), |m, &v| m.max(v));
        logs[..n_frames]
            .iter()
            .map(|frame| {
                frame
                    .iter()
                    .map(|&v| normalise(v, max - DYNAMIC_RANGE))
                    .collect()
            })
            .collect()
    }

    /// A chirp with a loud burst, so frames differ and the maximum sits in one place.
    fn test_signal(len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                let loud = if (40_000..41_000).contains(&i) {
                    0.9
                } else {
                    0.2
                };
                loud * (2.0 * std::f32::consts::PI * (200.0 + 50.0 * t) * t).sin()
            })
            .collect()
    }

    #[test]
    fn streamed_windows_equal_the_whole_spectrogram() {
        let front = MelFrontEnd::new(80);
        for len in [1_000, 31 * SAMPLE_RATE + 77, 65 * SAMPLE_RATE] {
            let samples = test_signal(len);
            let whole = whole_spectrogram(&front, &samples);
            let mut source: &[f32] = &samples;
            let mut stream = MelStream::new(&front, &mut source).unwrap();
            assert_eq!(stream.n_frames(), whole.len());
            let last = whole.len().saturating_sub(10);
            for start in [0, 1, 2_999, 3_000, 4_567, last] {
                let window = stream.window(start).unwrap();
                for (m, row) in window.mel.chunks_exact(N_FRAMES).enumerate() {
                    for (column, &value) in row.iter().enumerate() {
                        let want = whole.get(start + column).map_or(0.0, |frame| frame[m]);
                        assert_eq!(value, want, "len {len}, frame {}, bin {m}", start + column);
                    }
                }
                let end = (start + N_FRAMES).min(whole.len()) * HOP_LENGTH;
                let audio = &samples[(start * HOP_LENGTH).min(end)..end];
                let peak = audio.iter().fold(0.0f32, |m, s| m.max(s.abs()));
                assert_eq!(window.peak, peak, "len {len}, start {start}");
            }
        }
    }

    #[test]
    fn a_window_keeps_its_first_frames() {
        let front = MelFrontEnd::new(80);
        let samples = test_signal(SAMPLE_RATE);
        let mut source: &[f32] = &samples;
        let window = MelStream::new(&front, &mut source)
            .unwrap()
            .window(0)
            .unwrap();
        let first = window.first_frames(120);
        assert_eq!(first.len(), 80 * 120);
        for m in [0, 41, 79] {
            assert_eq!(
                &first[m * 120..(m + 1) * 120],
                &window.mel[m * N_FRAMES..m * N_FRAMES + 120]
            );
        }
        // 1 s of audio is 100 frames; the rest of a window is zero.
        assert!(first[100..120].iter().all(|&v| v == 0.0));
    }

    fn stream_of(front: &MelFrontEnd, samples: &[f32]) -> (usize, MelWindow) {
        let mut source: &[f32] = samples;
        let mut stream = MelStream::new(front, &mut source).unwrap();
        (stream.n_frames(), stream.window(0).unwrap())
    }

    #[test]
    fn frame_count_follows_whisper() {
        let front = MelFrontEnd::new(80);
        assert_eq!(stream_of(&front, &[0.0; 16_000]).0, 100);
        // The STFT itself has 1 + len/160 frames over the padded signal; Whisper drops the
        // last, so a 30 s window of audio is exactly N_FRAMES frames.
        assert_eq!(stream_of(&front, &vec![0.0; N_SAMPLES]).0, N_FRAMES);
    }

    #[test]
    fn silence_sits_at_the_floor() {
        let (frames, window) = stream_of(&MelFrontEnd::new(80), &[0.0; 8_000]);
        assert_eq!(frames, 50);
        for row in window.mel.chunks_exact(N_FRAMES) {
            assert!(row[..50].iter().all(|&v| (v - (-1.5)).abs() < 1e-6));
        }
        assert_eq!(window.peak, 0.0);
    }

    #[test]
    fn a_sine_lands_in_the_matching_mel_bin() {
        let front = MelFrontEnd::new(80);
        let max_mel = hz_to_mel(8000.0);
        for hz in [440.0f32, 1000.0, 3000.0] {
            let (_, window) = stream_of(&front, &sine(hz, 1.0));
            let frame = 50;
            let column: Vec<f32> = (0..80).map(|m| window.mel[m * N_FRAMES + frame]).collect();
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
        let block = Block {
            samples: vec![1.0, 2.0, 3.0, 4.0],
            offset: 0,
            len: 4,
        };
        assert_eq!(block.padded(-1), 2.0);
        assert_eq!(block.padded(-3), 4.0);
        assert_eq!(block.padded(0), 1.0);
        assert_eq!(block.padded(10), 0.0);
        let tail = Block {
            samples: vec![3.0, 4.0],
            offset: 2,
            len: 4,
        };
        assert_eq!(tail.padded(3), 4.0);
        assert_eq!(tail.covering(0..3), &[3.0]);
    }
}
