//! Diarization error rate, as NIST md-eval and pyannote.metrics score it, on a 10 ms grid:
//! reference and hypothesis speakers are matched one-to-one to maximise the time they agree,
//! then every reference second is missed speech, false alarm or speaker confusion. Overlapped
//! speech counts once per reference speaker. A collar around each reference boundary is not
//! scored (0.25 s is the usual forgiveness; 0 scores everything).

use super::SpeakerTurn;

/// Scoring resolution.
const FRAME_SECS: f64 = 0.01;

/// The parts of the diarization error, in seconds, and the scored reference speech.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DiarizationError {
    pub reference_secs: f64,
    pub missed_secs: f64,
    pub false_alarm_secs: f64,
    pub confusion_secs: f64,
}

impl DiarizationError {
    /// `(missed + false alarm + confusion) / reference`; 0 when there is no reference speech.
    pub fn rate(&self) -> f64 {
        if self.reference_secs <= 0.0 {
            return 0.0;
        }
        (self.missed_secs + self.false_alarm_secs + self.confusion_secs) / self.reference_secs
    }

    /// Sums the parts, for a rate over several recordings.
    pub fn add(&mut self, other: &DiarizationError) {
        self.reference_secs += other.reference_secs;
        self.missed_secs += other.missed_secs;
        self.false_alarm_secs += other.false_alarm_secs;
        self.confusion_secs += other.confusion_secs;
    }
}

/// Scores `hypothesis` turns against `reference` turns with a `collar_secs` either side of each
/// reference boundary left out.
pub fn diarization_error(
    reference: &[SpeakerTurn],
    hypothesis: &[SpeakerTurn],
    collar_secs: f64,
) -> DiarizationError {
    let end = reference
        .iter()
        .chain(hypothesis)
        .map(|t| t.span.end_secs)
        .fold(0.0f64, f64::max);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a frame count of a recording"
    )]
    let frames = (end / FRAME_SECS).ceil() as usize + 1;
    let speakers = |turns: &[SpeakerTurn]| turns.iter().map(|t| t.speaker + 1).max().unwrap_or(0);
    let (n_ref, n_hyp) = (speakers(reference), speakers(hypothesis));
    let activity = |turns: &[SpeakerTurn], count: usize| {
        let mut active = vec![vec![false; frames]; count];
        for turn in turns {
            for frame in frame_range(turn.span.start_secs, turn.span.end_secs, frames) {
                active[turn.speaker][frame] = true;
            }
        }
        active
    };
    let reference_activity = activity(reference, n_ref);
    let hypothesis_activity = activity(hypothesis, n_hyp);
    let mut scored = vec![true; frames];
    if collar_secs > 0.0 {
        for turn in reference {
            for edge in [turn.span.start_secs, turn.span.end_secs] {
                for frame in frame_range(edge - collar_secs, edge + collar_secs, frames) {
                    scored[frame] = false;
                }
            }
        }
    }
    // Co-occurrence of every reference/hypothesis pair, then the best one-to-one mapping.
    let mut together = vec![vec![0usize; n_hyp]; n_ref];
    for (r, row) in together.iter_mut().enumerate() {
        for (h, cell) in row.iter_mut().enumerate() {
            *cell = (0..frames)
                .filter(|&f| scored[f] && reference_activity[r][f] && hypothesis_activity[h][f])
                .count();
        }
    }
    let mapping = best_mapping(&together, n_hyp);
    let mut error = DiarizationError::default();
    for frame in (0..frames).filter(|&f| scored[f]) {
        let refs = (0..n_ref).filter(|&r| reference_activity[r][frame]).count();
        let hyps = (0..n_hyp)
            .filter(|&h| hypothesis_activity[h][frame])
            .count();
        let correct = (0..n_ref)
            .filter(|&r| {
                reference_activity[r][frame]
                    && mapping[r].is_some_and(|h| hypothesis_activity[h][frame])
            })
            .count();
        error.reference_secs += refs as f64 * FRAME_SECS;
        error.missed_secs += refs.saturating_sub(hyps) as f64 * FRAME_SECS;
        error.false_alarm_secs += hyps.saturating_sub(refs) as f64 * FRAME_SECS;
        error.confusion_secs += (refs.min(hyps) - correct) as f64 * FRAME_SECS;
    }
    error
}

fn frame_range(start_secs: f64, end_secs: f64, frames: usize) -> std::ops::Range<usize> {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to the frame count"
    )]
    let to_frame = |secs: f64| ((secs / FRAME_SECS).round().max(0.0) as usize).min(frames);
    to_frame(start_secs)..to_frame(end_secs)
}

/// For each reference speaker, its hypothesis speaker (or none), maximising the total agreement
/// by exhaustive search: speaker counts here are small.
fn best_mapping(together: &[Vec<usize>], n_hyp: usize) -> Vec<Option<usize>> {
    fn search(
        together: &[Vec<usize>],
        r: usize,
        used: &mut Vec<bool>,
        current: &mut Vec<Option<usize>>,
        best: &mut (usize, Vec<Option<usize>>),
        score: usize,
    ) {
        if r == together.len() {
            if score > best.0 || best.1.is_empty() {
                *best = (score, current.clone());
            }
            return;
        }
        current.push(None);
        search(together, r + 1, used, current, best, score);
        current.pop();
        for h in 0..used.len() {
            if !used[h] && together[r][h] > 0 {
                used[h] = true;
                current.push(Some(h));
                search(together, r + 1, used, current, best, score + together[r][h]);
                current.pop();
                used[h] = false;
            }
        }
    }
    let mut best = (0, Vec::new());
    search(
        together,
        0,
        &mut vec![false; n_hyp],
        &mut Vec::new(),
        &mut best,
        0,
    );
    if best.1.is_empty() {
        best.1 = vec![None; together.len()];
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diarization::TimeSpan;

    fn turn(start: f64, end: f64, speaker: usize) -> SpeakerTurn {
        SpeakerTurn {
            span: TimeSpan::new(start, end),
            speaker,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.02
    }

    #[test]
    fn a_perfect_hypothesis_with_other_labels_scores_zero() {
        let reference = [turn(0.0, 5.0, 0), turn(5.0, 9.0, 1)];
        let hypothesis = [turn(0.0, 5.0, 1), turn(5.0, 9.0, 0)];
        assert_eq!(diarization_error(&reference, &hypothesis, 0.0).rate(), 0.0);
    }

    #[test]
    fn errors_are_split_into_their_kinds() {
        let reference = [turn(0.0, 4.0, 0), turn(4.0, 8.0, 1), turn(6.0, 8.0, 0)];
        // Speaker 1 found from 5 s, a false alarm at 9–10 s, the overlap missed.
        let hypothesis = [turn(0.0, 5.0, 0), turn(5.0, 8.0, 1), turn(9.0, 10.0, 1)];
        let error = diarization_error(&reference, &hypothesis, 0.0);
        assert!(close(error.reference_secs, 10.0), "{error:?}");
        assert!(close(error.missed_secs, 2.0), "{error:?}");
        assert!(close(error.false_alarm_secs, 1.0), "{error:?}");
        assert!(close(error.confusion_secs, 1.0), "{error:?}");
        assert!(close(error.rate(), 0.4));
        // A 0.25 s collar forgives half a second around each boundary.
        let collared = diarization_error(&reference, &hypothesis, 0.25);
        assert!(collared.reference_secs < error.reference_secs);
    }

    #[test]
    fn one_label_for_two_speakers_is_confusion() {
        let reference = [turn(0.0, 4.0, 0), turn(4.0, 6.0, 1)];
        let hypothesis = [turn(0.0, 6.0, 0)];
        let error = diarization_error(&reference, &hypothesis, 0.0);
        assert!(close(error.confusion_secs, 2.0), "{error:?}");
        assert!(close(error.rate(), 2.0 / 6.0));
    }
}
