//! From per-chunk speech probabilities to speech regions: silero's `get_speech_timestamps`
//! (package 6.2.3, `get_speech_timestamps_from_probs`), as a state machine fed one probability
//! at a time so a long signal never needs its probabilities kept.
//!
//! A region opens at the first chunk at or above `threshold` and closes once the probability
//! has stayed below `neg_threshold` for `min_silence_duration_ms`; regions shorter than
//! `min_speech_duration_ms` are dropped; a region growing past `max_speech_duration_s` is cut at
//! the longest pause (over 98 ms) seen inside it, or where it stands when there was none; at the
//! end every region is padded by `speech_pad_ms` on both sides (half the gap each when two
//! regions are closer than twice the padding). Only the package's default way of cutting long
//! regions (`use_max_poss_sil_at_max_speech=True`) is implemented.

use crate::vad::SAMPLE_RATE_HZ;
use crate::vad::net::CHUNK_SAMPLES;

/// Pause inside a region long enough to cut it at when it grows too long (silero's
/// `min_silence_at_max_speech`, 98 ms).
const MIN_SILENCE_AT_MAX_SPEECH_MS: u32 = 98;

/// How probabilities become regions; the defaults are silero's.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechOptions {
    /// Probability at or above which a chunk is speech. Default 0.5.
    pub threshold: f32,
    /// Probability below which a chunk inside a region counts as silence; `None` is
    /// `max(threshold - 0.15, 0.01)`.
    pub neg_threshold: Option<f32>,
    /// Regions shorter than this are dropped. Default 250 ms.
    pub min_speech_duration_ms: u32,
    /// Silence a region must be followed by to end. Default 100 ms.
    pub min_silence_duration_ms: u32,
    /// Added to both sides of every region. Default 30 ms.
    pub speech_pad_ms: u32,
    /// Regions longer than this are cut (at the longest pause in them). Default: no limit.
    pub max_speech_duration_s: f64,
}

impl Default for SpeechOptions {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            neg_threshold: None,
            min_speech_duration_ms: 250,
            min_silence_duration_ms: 100,
            speech_pad_ms: 30,
            max_speech_duration_s: f64::INFINITY,
        }
    }
}

/// A stretch of speech, in samples at 16 kHz: `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechRegion {
    pub start: usize,
    pub end: usize,
}

impl SpeechRegion {
    pub fn start_secs(&self) -> f64 {
        self.start as f64 / f64::from(SAMPLE_RATE_HZ)
    }

    pub fn end_secs(&self) -> f64 {
        self.end as f64 / f64::from(SAMPLE_RATE_HZ)
    }
}

/// The region-finding state machine. Feed it each chunk's probability in order with
/// [`push`](SpeechSegmenter::push), then [`finish`](SpeechSegmenter::finish) with the signal's
/// length in samples.
#[derive(Debug, Clone)]
pub struct SpeechSegmenter {
    threshold: f32,
    neg_threshold: f32,
    min_speech_samples: usize,
    min_silence_samples: usize,
    pad_samples: usize,
    max_speech_samples: f64,
    min_silence_samples_at_max_speech: usize,
    /// Chunks seen so far.
    chunks: usize,
    /// Start of the open region.
    open: Option<usize>,
    /// Where the silence running inside the open region began.
    silence_start: Option<usize>,
    /// Pauses inside the open region (start, length), candidates for a cut.
    pauses: Vec<(usize, usize)>,
    regions: Vec<SpeechRegion>,
}

impl SpeechSegmenter {
    pub fn new(options: &SpeechOptions) -> Self {
        let samples_per_ms = (SAMPLE_RATE_HZ / 1000) as usize;
        let pad_samples = samples_per_ms * options.speech_pad_ms as usize;
        Self {
            threshold: options.threshold,
            neg_threshold: options
                .neg_threshold
                .unwrap_or_else(|| (options.threshold - 0.15).max(0.01)),
            min_speech_samples: samples_per_ms * options.min_speech_duration_ms as usize,
            min_silence_samples: samples_per_ms * options.min_silence_duration_ms as usize,
            pad_samples,
            max_speech_samples: f64::from(SAMPLE_RATE_HZ) * options.max_speech_duration_s
                - CHUNK_SAMPLES as f64
                - 2.0 * pad_samples as f64,
            min_silence_samples_at_max_speech: samples_per_ms
                * MIN_SILENCE_AT_MAX_SPEECH_MS as usize,
            chunks: 0,
            open: None,
            silence_start: None,
            pauses: Vec::new(),
            regions: Vec::new(),
        }
    }

    /// Takes the next chunk's speech probability.
    pub fn push(&mut self, probability: f32) {
        let sample = self.chunks * CHUNK_SAMPLES;
        self.chunks += 1;
        let speech = probability >= self.threshold;
        if speech && let Some(silence_start) = self.silence_start.take() {
            let pause = sample - silence_start;
            if pause > self.min_silence_samples_at_max_speech {
                self.pauses.push((silence_start, pause));
            }
        }
        let Some(start) = self.open else {
            if speech {
                self.open = Some(sample);
            }
            return;
        };
        if (sample - start) as f64 > self.max_speech_samples {
            // The first longest pause, as Python's `max` picks it.
            let longest = self
                .pauses
                .iter()
                .copied()
                .reduce(|best, pause| if pause.1 > best.1 { pause } else { best });
            self.silence_start = None;
            self.pauses.clear();
            match longest {
                Some((end, pause)) => {
                    self.regions.push(SpeechRegion { start, end });
                    // Speech resumed after that pause: the rest is a region of its own.
                    self.open = Some(end + pause);
                }
                None => {
                    self.regions.push(SpeechRegion { start, end: sample });
                    self.open = None;
                    return;
                }
            }
        }
        if probability < self.neg_threshold
            && let Some(start) = self.open
        {
            let silence_start = *self.silence_start.get_or_insert(sample);
            if sample - silence_start >= self.min_silence_samples {
                if silence_start - start > self.min_speech_samples {
                    self.regions.push(SpeechRegion {
                        start,
                        end: silence_start,
                    });
                }
                self.open = None;
                self.silence_start = None;
                self.pauses.clear();
            }
        }
    }

    /// The regions of a signal of `total_samples`, padded.
    pub fn finish(mut self, total_samples: usize) -> Vec<SpeechRegion> {
        if let Some(start) = self.open
            && total_samples.saturating_sub(start) > self.min_speech_samples
        {
            self.regions.push(SpeechRegion {
                start,
                end: total_samples,
            });
        }
        let pad = self.pad_samples;
        let mut regions = self.regions;
        if let Some(first) = regions.first_mut() {
            first.start = first.start.saturating_sub(pad);
        }
        for index in 0..regions.len() {
            if index + 1 < regions.len() {
                let gap = regions[index + 1].start.saturating_sub(regions[index].end);
                // Closer than twice the padding: each side takes half the gap.
                let (end, pull) = if gap < 2 * pad {
                    (regions[index].end + gap / 2, gap / 2)
                } else {
                    ((regions[index].end + pad).min(total_samples), pad)
                };
                regions[index].end = end;
                regions[index + 1].start = regions[index + 1].start.saturating_sub(pull);
            } else {
                regions[index].end = (regions[index].end + pad).min(total_samples);
            }
        }
        regions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regions of a probability sequence over `chunks` chunks.
    fn regions(probabilities: &[f32], options: &SpeechOptions) -> Vec<(usize, usize)> {
        let mut segmenter = SpeechSegmenter::new(options);
        for &probability in probabilities {
            segmenter.push(probability);
        }
        segmenter
            .finish(probabilities.len() * CHUNK_SAMPLES)
            .into_iter()
            .map(|region| (region.start, region.end))
            .collect()
    }

    /// `count` chunks of probability `value`.
    fn run(value: f32, count: usize) -> Vec<f32> {
        vec![value; count]
    }

    fn unpadded() -> SpeechOptions {
        SpeechOptions {
            speech_pad_ms: 0,
            ..SpeechOptions::default()
        }
    }

    #[test]
    fn silence_gives_no_regions() {
        assert!(regions(&run(0.01, 500), &SpeechOptions::default()).is_empty());
        assert!(regions(&[], &SpeechOptions::default()).is_empty());
    }

    #[test]
    fn one_burst_of_speech_is_one_region_on_chunk_boundaries() {
        let probabilities = [run(0.0, 10), run(0.9, 20), run(0.0, 10)].concat();
        assert_eq!(
            regions(&probabilities, &unpadded()),
            vec![(10 * 512, 30 * 512)]
        );
    }

    #[test]
    fn hysteresis_keeps_a_region_open_between_the_two_thresholds() {
        // 0.4 is below the threshold but above neg_threshold (0.35): still speech once open.
        let probabilities = [run(0.9, 10), run(0.4, 30), run(0.0, 10)].concat();
        assert_eq!(regions(&probabilities, &unpadded()), vec![(0, 40 * 512)]);
        // A region never opens on 0.4 alone.
        assert!(regions(&run(0.4, 50), &unpadded()).is_empty());
    }

    #[test]
    fn short_pauses_do_not_split_and_long_ones_do() {
        // 100 ms is 1600 samples: a pause of 3 chunks (1536) keeps one region, 4 (2048) splits.
        let short = [run(0.9, 10), run(0.0, 3), run(0.9, 10), run(0.0, 10)].concat();
        assert_eq!(regions(&short, &unpadded()), vec![(0, 23 * 512)]);
        let long = [run(0.9, 10), run(0.0, 5), run(0.9, 10), run(0.0, 10)].concat();
        assert_eq!(
            regions(&long, &unpadded()),
            vec![(0, 10 * 512), (15 * 512, 25 * 512)]
        );
    }

    #[test]
    fn too_short_speech_is_dropped() {
        // 250 ms is 4000 samples: 7 chunks (3584) go, 8 (4096) stay.
        let short = [run(0.0, 5), run(0.9, 7), run(0.0, 10)].concat();
        assert!(regions(&short, &unpadded()).is_empty());
        let long = [run(0.0, 5), run(0.9, 8), run(0.0, 10)].concat();
        assert_eq!(regions(&long, &unpadded()), vec![(5 * 512, 13 * 512)]);
    }

    #[test]
    fn padding_extends_regions_and_splits_small_gaps() {
        let options = SpeechOptions::default(); // 30 ms = 480 samples
        let probabilities = [
            run(0.0, 10),
            run(0.9, 10),
            run(0.0, 5),
            run(0.9, 10),
            run(0.0, 20),
        ]
        .concat();
        // The gap (5 chunks = 2560) is wider than 2 × 480: both sides get 480.
        assert_eq!(
            regions(&probabilities, &options),
            vec![
                (10 * 512 - 480, 20 * 512 + 480),
                (25 * 512 - 480, 35 * 512 + 480)
            ]
        );
        let wide_pad = SpeechOptions {
            speech_pad_ms: 100, // 1600 samples, more than half the 2560 gap
            ..SpeechOptions::default()
        };
        assert_eq!(
            regions(&probabilities, &wide_pad),
            vec![
                (10 * 512 - 1600, 20 * 512 + 1280),
                (20 * 512 + 1280, 35 * 512 + 1600)
            ]
        );
    }

    #[test]
    fn padding_stays_inside_the_signal() {
        let probabilities = [run(0.9, 20)].concat();
        assert_eq!(
            regions(&probabilities, &SpeechOptions::default()),
            vec![(0, 20 * 512)]
        );
    }

    #[test]
    fn long_speech_is_cut_at_its_longest_pause() {
        // Longest region: 16000 - 512 = 15488 samples, passed at chunk 31. min_silence (4800
        // samples) is longer than both pauses, so only the length limit can cut there.
        let options = SpeechOptions {
            max_speech_duration_s: 1.0,
            min_silence_duration_ms: 300,
            ..unpadded()
        };
        let probabilities = [
            run(0.9, 8),
            run(0.0, 4), // pause 8..12 (2048 samples)
            run(0.9, 6),
            run(0.0, 6), // the longer pause 18..24 (3072 samples)
            run(0.9, 10),
            run(0.0, 40),
        ]
        .concat();
        assert_eq!(
            regions(&probabilities, &options),
            vec![(0, 18 * 512), (24 * 512, 34 * 512)]
        );
    }

    #[test]
    fn long_speech_without_pauses_is_cut_where_it_stands() {
        let options = SpeechOptions {
            max_speech_duration_s: 1.0,
            ..unpadded()
        };
        // Cut at the first chunk past 15488 samples (chunk 31: 15872), then speech reopens.
        let regions = regions(&run(0.9, 64), &options);
        assert_eq!(regions[0], (0, 31 * 512));
        assert_eq!(regions[1].0, 32 * 512);
        assert!(regions.iter().all(|(start, end)| end - start <= 16_000));
    }
}
