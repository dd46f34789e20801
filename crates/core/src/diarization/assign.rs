//! Gives every word and segment of a transcript a speaker from the diarization turns: the turn
//! it overlaps most, else the nearest turn, so no word is left without a speaker (the whisperX
//! pitfall). Segments whose words change speaker are split at each change; `speakers[]` lists
//! each speaker once with its talk time.

use super::{SpeakerTurn, TimeSpan, speaker_label};
use crate::transcript::{Segment, Speaker, Transcript, Word};

/// The speaker of `span`: the one whose turns overlap it most, else that of the nearest turn;
/// `None` only when there are no turns.
pub fn speaker_for(span: &TimeSpan, turns: &[SpeakerTurn]) -> Option<usize> {
    let speakers = turns.iter().map(|t| t.speaker).max()?;
    let mut overlap = vec![0.0f64; speakers + 1];
    for turn in turns {
        overlap[turn.speaker] += turn.span.overlap_secs(span);
    }
    let (best, most) = overlap
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    if *most > 0.0 {
        return Some(best);
    }
    turns
        .iter()
        .min_by(|a, b| a.span.gap_secs(span).total_cmp(&b.span.gap_secs(span)))
        .map(|turn| turn.speaker)
}

/// Labels the transcript's words and segments from `turns`, splits segments at speaker
/// changes, renumbers segment ids and fills `speakers` (with `channel` left empty).
pub fn assign_speakers(transcript: &mut Transcript, turns: &[SpeakerTurn]) {
    if turns.is_empty() {
        return;
    }
    let label = |span: TimeSpan| speaker_for(&span, turns).map(speaker_label);
    let mut segments = Vec::with_capacity(transcript.segments.len());
    for mut segment in std::mem::take(&mut transcript.segments) {
        if segment.words.is_empty() {
            segment.speaker = label(TimeSpan::new(segment.start_secs, segment.end_secs));
            segments.push(segment);
            continue;
        }
        for word in &mut segment.words {
            word.speaker = label(TimeSpan::new(word.start_secs, word.end_secs));
        }
        segments.extend(split_at_speaker_changes(segment));
    }
    for (index, segment) in segments.iter_mut().enumerate() {
        segment.id = Transcript::segment_id(index);
    }
    transcript.words = segments.iter().flat_map(|s| s.words.clone()).collect();
    transcript.segments = segments;
    transcript.speakers = talk_times(turns);
}

/// One segment per run of words with the same speaker; a segment with one speaker is kept
/// whole (text included).
fn split_at_speaker_changes(segment: Segment) -> Vec<Segment> {
    let mut runs: Vec<Vec<Word>> = Vec::new();
    for word in &segment.words {
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|w| w.speaker == word.speaker) => {
                run.push(word.clone());
            }
            _ => runs.push(vec![word.clone()]),
        }
    }
    if runs.len() <= 1 {
        let speaker = segment.words.first().and_then(|w| w.speaker.clone());
        return vec![Segment { speaker, ..segment }];
    }
    let last = runs.len() - 1;
    runs.into_iter()
        .enumerate()
        .map(|(index, words)| Segment {
            id: String::new(),
            // The first and last pieces keep the segment's own edges.
            start_secs: if index == 0 {
                segment.start_secs
            } else {
                words.first().map_or(segment.start_secs, |w| w.start_secs)
            },
            end_secs: if index == last {
                segment.end_secs
            } else {
                words.last().map_or(segment.end_secs, |w| w.end_secs)
            },
            text: words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            speaker: words.first().and_then(|w| w.speaker.clone()),
            words,
            ..segment.clone()
        })
        .collect()
}

/// Each speaker of the turns, in number order, with the seconds of its turns.
pub fn talk_times(turns: &[SpeakerTurn]) -> Vec<Speaker> {
    let count = turns.iter().map(|t| t.speaker + 1).max().unwrap_or(0);
    (0..count)
        .map(|speaker| Speaker {
            id: speaker_label(speaker),
            channel: None,
            talk_time_secs: turns
                .iter()
                .filter(|t| t.speaker == speaker)
                .map(|t| t.span.duration_secs())
                .sum(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::TranscriptMetadata;

    fn turn(start: f64, end: f64, speaker: usize) -> SpeakerTurn {
        SpeakerTurn {
            span: TimeSpan::new(start, end),
            speaker,
        }
    }

    fn word(text: &str, start: f64, end: f64) -> Word {
        Word {
            text: text.into(),
            start_secs: start,
            end_secs: end,
            confidence: Some(0.9),
            speaker: None,
        }
    }

    fn transcript(segments: Vec<Segment>) -> Transcript {
        Transcript {
            version: "1.0".into(),
            text: Transcript::join_segment_text(&segments),
            language_code: "en".into(),
            language_probability: None,
            duration_secs: 10.0,
            words: segments.iter().flat_map(|s| s.words.clone()).collect(),
            segments,
            speakers: Vec::new(),
            metadata: TranscriptMetadata::default(),
        }
    }

    fn segment(start: f64, end: f64, text: &str, words: Vec<Word>) -> Segment {
        Segment {
            id: "x".into(),
            start_secs: start,
            end_secs: end,
            text: text.into(),
            speaker: None,
            words,
            avg_logprob: Some(-0.2),
            compression_ratio: None,
            no_speech_prob: None,
            temperature: Some(0.0),
        }
    }

    #[test]
    fn most_overlap_wins_and_gaps_take_the_nearest_turn() {
        let turns = [turn(0.0, 2.0, 0), turn(2.0, 5.0, 1), turn(8.0, 9.0, 0)];
        assert_eq!(speaker_for(&TimeSpan::new(1.5, 2.8), &turns), Some(1));
        assert_eq!(speaker_for(&TimeSpan::new(1.0, 2.2), &turns), Some(0));
        assert_eq!(speaker_for(&TimeSpan::new(7.0, 7.5), &turns), Some(0));
        assert_eq!(speaker_for(&TimeSpan::new(5.5, 6.0), &turns), Some(1));
        assert_eq!(speaker_for(&TimeSpan::new(0.0, 1.0), &[]), None);
    }

    #[test]
    fn segments_split_where_the_speaker_changes() {
        let words = vec![
            word("Hello", 0.0, 0.5),
            word("there.", 0.5, 1.0),
            word("Hi!", 2.1, 2.5),
            word("How", 2.6, 2.8),
            word("are", 2.8, 3.0),
        ];
        let mut t = transcript(vec![
            segment(0.0, 3.1, "Hello there. Hi! How are", words),
            segment(6.0, 7.0, "Later.", vec![word("Later.", 6.2, 6.8)]),
        ]);
        let turns = [turn(0.0, 2.0, 0), turn(2.0, 4.0, 1)];
        assign_speakers(&mut t, &turns);
        let summary: Vec<(&str, &str, f64, f64, Option<&str>)> = t
            .segments
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.text.as_str(),
                    s.start_secs,
                    s.end_secs,
                    s.speaker.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("seg_000", "Hello there.", 0.0, 1.0, Some("SPEAKER_00")),
                ("seg_001", "Hi! How are", 2.1, 3.1, Some("SPEAKER_01")),
                ("seg_002", "Later.", 6.0, 7.0, Some("SPEAKER_01")),
            ]
        );
        assert!(t.words.iter().all(|w| w.speaker.is_some()));
        assert_eq!(t.words.len(), 6);
        assert_eq!(t.speakers.len(), 2);
        assert_eq!(t.speakers[1].id, "SPEAKER_01");
        assert!((t.speakers[1].talk_time_secs - 2.0).abs() < 1e-9);
    }

    #[test]
    fn segments_without_words_take_their_own_speaker() {
        let mut t = transcript(vec![segment(2.5, 3.5, "Hi.", Vec::new())]);
        assign_speakers(&mut t, &[turn(0.0, 2.0, 0), turn(2.0, 4.0, 1)]);
        assert_eq!(t.segments[0].speaker.as_deref(), Some("SPEAKER_01"));
        assert_eq!(t.segments[0].text, "Hi.");
    }
}
