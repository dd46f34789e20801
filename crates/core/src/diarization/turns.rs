//! From labelled windows to speaker turns. Overlapping windows split their shared time at its
//! middle, so each window stands for its central part; consecutive parts of one speaker become a
//! turn (bridging pauses up to [`MAX_BRIDGED_GAP_SECS`]), and turns shorter than
//! [`MIN_TURN_SECS`] that sit inside or at the edge of another speaker's talk are given to that
//! speaker: a lone half-second window is more often a misjudged embedding than a real reply.

use super::{SpeakerTurn, TimeSpan};

/// Turns shorter than this are smoothed into their neighbours.
pub const MIN_TURN_SECS: f64 = 0.6;
/// One speaker's turns this close together are one turn (the pause belongs to it).
pub const MAX_BRIDGED_GAP_SECS: f64 = 1.0;

/// Turns from windows (sorted by start, as [`super::windows::plan_windows`] gives them) and
/// one cluster label per window, speakers renumbered in order of first appearance.
pub fn build_turns(windows: &[TimeSpan], labels: &[usize]) -> Vec<SpeakerTurn> {
    let mut turns: Vec<SpeakerTurn> = Vec::new();
    for (index, (window, &label)) in windows.iter().zip(labels).enumerate() {
        let previous = index.checked_sub(1).map(|i| windows[i]);
        let next = windows.get(index + 1);
        let start = match previous {
            Some(p) if p.end_secs > window.start_secs => (p.end_secs + window.start_secs) / 2.0,
            _ => window.start_secs,
        };
        let end = match next {
            Some(n) if n.start_secs < window.end_secs => (window.end_secs + n.start_secs) / 2.0,
            _ => window.end_secs,
        };
        turns.push(SpeakerTurn {
            span: TimeSpan::new(start, end.max(start)),
            speaker: label,
        });
    }
    let turns = smooth(join(turns));
    renumber(join(turns))
}

/// Merges consecutive turns of one speaker that touch or are at most
/// [`MAX_BRIDGED_GAP_SECS`] apart.
fn join(turns: Vec<SpeakerTurn>) -> Vec<SpeakerTurn> {
    let mut joined: Vec<SpeakerTurn> = Vec::with_capacity(turns.len());
    for turn in turns {
        match joined.last_mut() {
            Some(last)
                if last.speaker == turn.speaker
                    && turn.span.start_secs - last.span.end_secs <= MAX_BRIDGED_GAP_SECS =>
            {
                last.span.end_secs = last.span.end_secs.max(turn.span.end_secs);
            }
            _ => joined.push(turn),
        }
    }
    joined
}

/// Relabels short turns whose close neighbours agree on one other speaker (or that have only
/// one close neighbour).
fn smooth(mut turns: Vec<SpeakerTurn>) -> Vec<SpeakerTurn> {
    let close = |a: &SpeakerTurn, b: &SpeakerTurn| a.span.gap_secs(&b.span) <= MAX_BRIDGED_GAP_SECS;
    for index in 0..turns.len() {
        if turns[index].span.duration_secs() >= MIN_TURN_SECS {
            continue;
        }
        let before = index
            .checked_sub(1)
            .map(|i| turns[i])
            .filter(|t| close(t, &turns[index]));
        let after = turns
            .get(index + 1)
            .copied()
            .filter(|t| close(t, &turns[index]));
        let speaker = match (before, after) {
            (Some(b), Some(a)) if b.speaker == a.speaker => Some(b.speaker),
            (Some(only), None) | (None, Some(only)) => Some(only.speaker),
            _ => None,
        };
        if let Some(speaker) = speaker {
            turns[index].speaker = speaker;
        }
    }
    turns
}

fn renumber(mut turns: Vec<SpeakerTurn>) -> Vec<SpeakerTurn> {
    let mut order: Vec<usize> = Vec::new();
    for turn in &mut turns {
        turn.speaker = match order.iter().position(|&s| s == turn.speaker) {
            Some(index) => index,
            None => {
                order.push(turn.speaker);
                order.len() - 1
            }
        };
    }
    turns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diarization::windows::plan_windows;

    fn spans(turns: &[SpeakerTurn]) -> Vec<(f64, f64, usize)> {
        turns
            .iter()
            .map(|t| (t.span.start_secs, t.span.end_secs, t.speaker))
            .collect()
    }

    #[test]
    fn consecutive_windows_become_turns_split_mid_overlap() {
        let windows = plan_windows(&[TimeSpan::new(0.0, 4.0)]);
        // 0.0, 0.5, …, 3.0: seven windows.
        let labels = [5, 5, 5, 2, 2, 2, 2];
        assert_eq!(
            spans(&build_turns(&windows, &labels)),
            vec![(0.0, 1.75, 0), (1.75, 4.0, 1)]
        );
    }

    #[test]
    fn pauses_are_bridged_within_a_speaker_only() {
        let windows = plan_windows(&[
            TimeSpan::new(0.0, 2.0),
            TimeSpan::new(2.5, 4.5),
            TimeSpan::new(7.0, 9.0),
        ]);
        let labels = [0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            spans(&build_turns(&windows, &labels)),
            vec![(0.0, 4.5, 0), (7.0, 9.0, 0)]
        );
    }

    #[test]
    fn a_lone_window_inside_another_speaker_is_smoothed() {
        let windows = plan_windows(&[TimeSpan::new(0.0, 5.0)]);
        let labels = [0, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(spans(&build_turns(&windows, &labels)), vec![(0.0, 5.0, 0)]);
        // At a change between two speakers a short turn stays.
        let labels = [0, 0, 0, 0, 2, 1, 1, 1, 1];
        let turns = build_turns(&windows, &labels);
        assert_eq!(turns.len(), 3, "{turns:?}");
        assert_eq!(turns[1].speaker, 1);
    }
}
