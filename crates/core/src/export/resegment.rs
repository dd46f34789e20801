//! Segments re-cut to a caller's limits (ElevenLabs' `segment_on_silence_longer_than_s`,
//! `max_segment_duration_s`, `max_segment_chars`), so every export of one request is laid out
//! the same way. Whisper's own segments end where the decoder put a timestamp, which can be a
//! 20-second run of text; subtitle and document exports often want shorter ones.

use crate::transcript::{Segment, Transcript, Word};

/// Where a new segment must start; `None` leaves that rule out.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SegmentLimits {
    /// A pause between words longer than this ends the segment.
    pub split_on_silence_secs: Option<f64>,
    /// A segment never spans more than this (unless one word does).
    pub max_duration_secs: Option<f64>,
    /// A segment's text never has more characters than this (unless one word does).
    pub max_chars: Option<usize>,
}

impl SegmentLimits {
    pub fn is_unlimited(&self) -> bool {
        *self == Self::default()
    }

    fn breaks_before(&self, segment: &[Word], chars: usize, next: &Word) -> bool {
        let (Some(first), Some(last)) = (segment.first(), segment.last()) else {
            return false;
        };
        let pause = next.start_secs - last.end_secs;
        last.speaker != next.speaker
            || self.split_on_silence_secs.is_some_and(|secs| pause > secs)
            || self
                .max_duration_secs
                .is_some_and(|secs| next.end_secs - first.start_secs > secs)
            || self
                .max_chars
                .is_some_and(|max| chars + 1 + next.text.trim().chars().count() > max)
    }
}

/// The transcript with its segments re-cut from its words under `limits`: a segment also ends
/// at every speaker change. Segment-level decoder figures (log-probability, …) do not survive a
/// re-cut and are left out. A transcript without word timings, or unlimited limits, is
/// returned as it is.
pub fn resegment(transcript: &Transcript, limits: &SegmentLimits) -> Transcript {
    if limits.is_unlimited() || transcript.words.is_empty() {
        return transcript.clone();
    }
    let mut runs: Vec<Vec<Word>> = Vec::new();
    let mut chars = 0;
    for word in &transcript.words {
        let length = word.text.trim().chars().count();
        match runs.last_mut() {
            Some(run) if !limits.breaks_before(run, chars, word) => {
                run.push(word.clone());
                chars += 1 + length;
            }
            _ => {
                runs.push(vec![word.clone()]);
                chars = length;
            }
        }
    }
    let segments = runs
        .into_iter()
        .enumerate()
        .map(|(index, words)| segment_of(index, words))
        .collect();
    Transcript {
        segments,
        ..transcript.clone()
    }
}

fn segment_of(index: usize, words: Vec<Word>) -> Segment {
    Segment {
        id: Transcript::segment_id(index),
        start_secs: words.first().map_or(0.0, |word| word.start_secs),
        end_secs: words.last().map_or(0.0, |word| word.end_secs),
        text: words
            .iter()
            .map(|word| word.text.trim())
            .collect::<Vec<_>>()
            .join(" "),
        speaker: words.first().and_then(|word| word.speaker.clone()),
        words,
        avg_logprob: None,
        compression_ratio: None,
        no_speech_prob: None,
        temperature: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start: f64, end: f64, speaker: &str) -> Word {
        Word {
            text: text.into(),
            start_secs: start,
            end_secs: end,
            confidence: None,
            speaker: Some(speaker.into()),
        }
    }

    fn transcript(words: Vec<Word>) -> Transcript {
        let mut transcript = crate::transcript::fixtures::two_speakers();
        transcript.words = words;
        transcript
    }

    fn texts(transcript: &Transcript) -> Vec<&str> {
        transcript
            .segments
            .iter()
            .map(|s| s.text.as_str())
            .collect()
    }

    fn sample() -> Transcript {
        transcript(vec![
            word("One", 0.0, 0.4, "SPEAKER_00"),
            word("two", 0.5, 0.9, "SPEAKER_00"),
            word("three", 2.0, 2.4, "SPEAKER_00"),
            word("four", 2.5, 2.9, "SPEAKER_01"),
            word("five", 3.0, 3.4, "SPEAKER_01"),
        ])
    }

    #[test]
    fn pauses_and_speaker_changes_end_segments() {
        let limits = SegmentLimits {
            split_on_silence_secs: Some(1.0),
            ..SegmentLimits::default()
        };
        let cut = resegment(&sample(), &limits);
        assert_eq!(texts(&cut), ["One two", "three", "four five"]);
        assert_eq!(cut.segments[2].speaker.as_deref(), Some("SPEAKER_01"));
        assert_eq!(cut.segments[2].id, "seg_002");
        assert!((cut.segments[1].start_secs - 2.0).abs() < 1e-9);
        assert!((cut.segments[2].end_secs - 3.4).abs() < 1e-9);
        assert_eq!(cut.words, sample().words, "words are untouched");
    }

    #[test]
    fn duration_and_character_limits_end_segments() {
        let by_duration = SegmentLimits {
            max_duration_secs: Some(1.0),
            ..SegmentLimits::default()
        };
        assert_eq!(
            texts(&resegment(&sample(), &by_duration)),
            ["One two", "three", "four five"]
        );
        let by_chars = SegmentLimits {
            max_chars: Some(4),
            ..SegmentLimits::default()
        };
        // "three" alone is longer than the limit: a word is never split.
        assert_eq!(
            texts(&resegment(&sample(), &by_chars)),
            ["One", "two", "three", "four", "five"]
        );
    }

    #[test]
    fn no_limits_or_no_words_leave_the_transcript_as_it_is() {
        assert_eq!(resegment(&sample(), &SegmentLimits::default()), sample());
        let without_words = transcript(Vec::new());
        let limits = SegmentLimits {
            max_chars: Some(5),
            ..SegmentLimits::default()
        };
        assert_eq!(resegment(&without_words, &limits), without_words);
    }
}
