//! Multi-speaker recordings with exact reference turns, built by laying single-speaker clips of
//! different people one after another with pauses or overlaps: the ground truth for the
//! diarization benchmark and tests (real conversations with trustworthy labels are not to be
//! had here).

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
#[derive(Debug, Clone)]
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
}
