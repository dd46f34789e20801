//! Multi-speaker recordings with exact reference turns, built by laying single-speaker clips of
//! different people one after another with pauses or overlaps: the ground truth for the
//! diarization benchmark and tests (real conversations with trustworthy labels are not to be
//! had here). [`interleave`] builds a conversation from whole recordings of each speaker.

use super::{SpeakerTurn, TimeSpan};

/// One clip of one speaker and how it follows the previous clip.
#[derive(Debug, Clone)]
pub struct Utterance<'a> {
    pub speaker: usize,
    /// 16 kHz mono samples.
    pub samples: &'a [f32],
    /// Silence before it, in seconds; negative overlaps it with the end of the previous clip.
    pub gap_secs: f64,
}

/// The mixed recording and one reference turn per utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub samples: Vec<f32>,
    pub turns: Vec<SpeakerTurn>,
}

/// Lays the utterances out at `sample_rate_hz`, adding samples where they overlap.
pub fn compose(utterances: &[Utterance<'_>], sample_rate_hz: u32) -> Composed {
    let rate = f64::from(sample_rate_hz);
    let mut samples: Vec<f32> = Vec::new();
    let mut turns = Vec::with_capacity(utterances.len());
    let mut end = 0usize;
    for utterance in utterances {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "gaps of seconds are far inside isize"
        )]
        let offset = (utterance.gap_secs * rate).round() as isize;
        let start = end.saturating_add_signed(offset);
        let stop = start + utterance.samples.len();
        if samples.len() < stop {
            samples.resize(stop, 0.0);
        }
        for (out, sample) in samples[start..stop].iter_mut().zip(utterance.samples) {
            *out += sample;
        }
        turns.push(SpeakerTurn {
            span: TimeSpan::new(start as f64 / rate, stop as f64 / rate),
            speaker: utterance.speaker,
        });
        end = end.max(stop);
    }
    Composed { samples, turns }
}

/// A tiny deterministic generator, so every run builds the same recordings.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Cuts a speaker's audio into utterances of 2–5 s (a last piece under 1 s is dropped).
fn cut_utterances<'a>(samples: &'a [f32], sample_rate_hz: u32, rng: &mut Lcg) -> Vec<&'a [f32]> {
    let rate = f64::from(sample_rate_hz);
    let shortest = sample_rate_hz as usize;
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < samples.len() {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a few seconds of samples"
        )]
        let length = ((2.0 + 3.0 * rng.next()) * rate) as usize;
        let end = (start + length).min(samples.len());
        if end - start >= shortest {
            pieces.push(&samples[start..end]);
        }
        start = end;
    }
    pieces
}

/// A conversation from one recording per speaker (`speakers[i]` is speaker `i`): each is cut
/// into 2–5 s utterances, taken round-robin, with a gap drawn from `gap_secs` (a range in
/// seconds; negative overlaps) before each but the first. The same `seed` gives the same
/// recording.
pub fn interleave(
    speakers: &[&[f32]],
    gap_secs: (f64, f64),
    seed: u64,
    sample_rate_hz: u32,
) -> Composed {
    let mut rng = Lcg(seed);
    let mut queues: Vec<std::collections::VecDeque<&[f32]>> = speakers
        .iter()
        .map(|samples| cut_utterances(samples, sample_rate_hz, &mut rng).into())
        .collect();
    let mut layout = Vec::new();
    let mut speaker = 0;
    while queues.iter().any(|queue| !queue.is_empty()) {
        if let Some(samples) = queues[speaker].pop_front() {
            let gap = if layout.is_empty() {
                0.0
            } else {
                gap_secs.0 + (gap_secs.1 - gap_secs.0) * rng.next()
            };
            layout.push(Utterance {
                speaker,
                samples,
                gap_secs: gap,
            });
        }
        speaker = (speaker + 1) % queues.len();
    }
    compose(&layout, sample_rate_hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_and_overlaps_place_the_turns() {
        let a = vec![1.0f32; 10];
        let b = vec![2.0f32; 10];
        let composed = compose(
            &[
                Utterance {
                    speaker: 0,
                    samples: &a,
                    gap_secs: 0.0,
                },
                Utterance {
                    speaker: 1,
                    samples: &b,
                    gap_secs: 0.5,
                },
                Utterance {
                    speaker: 0,
                    samples: &a,
                    gap_secs: -0.2,
                },
            ],
            10,
        );
        assert_eq!(composed.samples.len(), 33);
        assert_eq!(composed.samples[12], 0.0);
        assert_eq!(composed.samples[22], 2.0);
        assert_eq!(composed.samples[24], 3.0);
        let spans: Vec<(f64, f64)> = composed
            .turns
            .iter()
            .map(|t| (t.span.start_secs, t.span.end_secs))
            .collect();
        assert_eq!(spans, vec![(0.0, 1.0), (1.5, 2.5), (2.3, 3.3)]);
    }

    #[test]
    fn interleaving_takes_the_speakers_in_turn() {
        let a = vec![0.5f32; 90];
        let b = vec![-0.5f32; 100];
        let composed = interleave(&[&a, &b], (0.5, 1.0), 7, 10);
        let speakers: Vec<usize> = composed.turns.iter().map(|t| t.speaker).collect();
        assert_eq!(speakers[..4], [0, 1, 0, 1]);
        for turn in &composed.turns {
            assert!((1.0..=5.0).contains(&turn.span.duration_secs()), "{turn:?}");
        }
        for pair in composed.turns.windows(2) {
            let gap = pair[1].span.start_secs - pair[0].span.end_secs;
            assert!((0.45..=1.05).contains(&gap), "gap {gap}");
        }
        let spoken = |speaker: usize| -> f64 {
            composed
                .turns
                .iter()
                .filter(|t| t.speaker == speaker)
                .map(|t| t.span.duration_secs())
                .sum()
        };
        assert!(spoken(0) > 8.0 && spoken(1) > 9.0);
        assert_eq!(composed, interleave(&[&a, &b], (0.5, 1.0), 7, 10));
    }
}
