//! Subtitle cues: segment text wrapped to the line limits, long segments split into several
//! consecutive cues with their time shared out.
//!
//! SRT and VTT differ only in how a cue is written, so both build their cues here.

use std::ops::Range;

use super::timestamp::clamp_secs;
use super::{ExportError, ExportOptions};
use crate::transcript::{Segment, Transcript};

/// One subtitle on screen.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cue<'a> {
    pub start_secs: f64,
    pub end_secs: f64,
    /// Set only when the options ask for speakers and the segment has one.
    pub speaker: Option<&'a str>,
    /// Wrapped lines, at most `max_lines` of them.
    pub lines: Vec<String>,
}

/// Builds the cues of every segment that has text, in segment order.
///
/// `label_width` is how many characters a format's speaker label takes from a cue's first line
/// (SRT writes `[SPEAKER_00] ` into the text; VTT's voice tag is markup and takes none), so that
/// labelled lines still respect `max_line_length`.
///
/// # Errors
/// [`ExportError::InvalidOption`] for options out of range; [`ExportError::NoTimestamps`] when
/// there is text but no segment has a positive duration (or there is text and no segments).
pub(crate) fn build_cues<'a>(
    transcript: &'a Transcript,
    options: &ExportOptions,
    label_width: impl Fn(&str) -> usize,
) -> Result<Vec<Cue<'a>>, ExportError> {
    options.validate()?;
    let segments: Vec<(&Segment, Vec<&str>)> = transcript
        .segments
        .iter()
        .map(|segment| (segment, segment.text.split_whitespace().collect::<Vec<_>>()))
        .filter(|(_, tokens)| !tokens.is_empty())
        .collect();
    if segments.is_empty() {
        // Text without segments has nothing to time; no text at all is a valid empty document.
        return if transcript.text.trim().is_empty() {
            Ok(Vec::new())
        } else {
            Err(ExportError::NoTimestamps)
        };
    }
    if segments
        .iter()
        .all(|(segment, _)| time_span(segment).is_empty())
    {
        return Err(ExportError::NoTimestamps);
    }

    let mut cues = Vec::new();
    for (segment, tokens) in segments {
        let speaker = if options.include_speakers {
            segment
                .speaker
                .as_deref()
                .filter(|speaker| !speaker.is_empty())
        } else {
            None
        };
        let reserved = speaker.map_or(0, &label_width);
        let chunks = pack_tokens(
            &tokens,
            options.max_line_length,
            options.max_lines,
            reserved,
        );
        let boundaries = chunk_boundaries(segment, &tokens, &chunks);
        for (chunk, times) in chunks.into_iter().zip(boundaries.windows(2)) {
            if let [start_secs, end_secs] = *times {
                cues.push(Cue {
                    start_secs,
                    end_secs,
                    speaker,
                    lines: chunk.lines,
                });
            }
        }
    }
    Ok(cues)
}

/// The segment's times made renderable: clamped to be non-negative, and never ending before
/// they start.
fn time_span(segment: &Segment) -> Range<f64> {
    let start = clamp_secs(segment.start_secs);
    let end = clamp_secs(segment.end_secs).max(start);
    start..end
}

/// The text of one cue and which of the segment's tokens it holds.
#[derive(Debug, PartialEq)]
struct Chunk {
    lines: Vec<String>,
    tokens: Range<usize>,
}

/// Word wrap into lines of at most `max_line_length` characters (the first line of each chunk
/// `reserved` characters shorter), `max_lines` lines per chunk, with the chunks balanced: as few
/// chunks as greedy wrapping needs, but with the text shared out evenly among them, so a long
/// segment does not end with a one-word cue. A token longer than a line gets a line of its own
/// rather than being broken mid-word.
fn pack_tokens(
    tokens: &[&str],
    max_line_length: usize,
    max_lines: usize,
    reserved: usize,
) -> Vec<Chunk> {
    let greedy = pack_within(tokens, max_line_length, max_lines, reserved, usize::MAX);
    if greedy.len() < 2 {
        return greedy;
    }
    // The smallest per-chunk character budget that still needs no more chunks than greedy.
    let total: usize = tokens.iter().map(|token| token.chars().count() + 1).sum();
    let (mut low, mut high) = (1, total);
    while low < high {
        let budget = low + (high - low) / 2;
        if pack_within(tokens, max_line_length, max_lines, reserved, budget).len() <= greedy.len() {
            high = budget;
        } else {
            low = budget + 1;
        }
    }
    let balanced = pack_within(tokens, max_line_length, max_lines, reserved, high);
    if balanced.len() <= greedy.len() {
        balanced
    } else {
        greedy
    }
}

/// Greedy wrap as [`pack_tokens`] describes, also closing a chunk before its text (tokens and
/// the spaces between them) would exceed `budget` characters.
fn pack_within(
    tokens: &[&str],
    max_line_length: usize,
    max_lines: usize,
    reserved: usize,
    budget: usize,
) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut line_chars = 0;
    let mut chunk_chars = 0;
    let mut first_token = 0;
    for (index, token) in tokens.iter().enumerate() {
        let width = if lines.is_empty() {
            max_line_length.saturating_sub(reserved)
        } else {
            max_line_length
        };
        let token_chars = token.chars().count();
        let chunk_full = chunk_chars > 0 && chunk_chars + 1 + token_chars > budget;
        if line_chars > 0 && (chunk_full || line_chars + 1 + token_chars > width) {
            lines.push(std::mem::take(&mut line));
            line_chars = 0;
            if chunk_full || lines.len() >= max_lines {
                chunks.push(Chunk {
                    lines: std::mem::take(&mut lines),
                    tokens: first_token..index,
                });
                first_token = index;
                chunk_chars = 0;
            }
        }
        if line_chars > 0 {
            line.push(' ');
            line_chars += 1;
        }
        if chunk_chars > 0 {
            chunk_chars += 1;
        }
        line.push_str(token);
        line_chars += token_chars;
        chunk_chars += token_chars;
    }
    if line_chars > 0 {
        lines.push(line);
    }
    if !lines.is_empty() {
        chunks.push(Chunk {
            lines,
            tokens: first_token..tokens.len(),
        });
    }
    chunks
}

/// The `chunks.len() + 1` times at which the chunks start and the last one ends. The first chunk
/// starts with the segment and the last ends with it, so a split segment's cues are contiguous.
///
/// Inner boundaries come from word timings when the segment's words line up one-to-one with its
/// text tokens; otherwise the segment's time is shared in proportion to characters, which is
/// what a reader's pace roughly follows.
fn chunk_boundaries(segment: &Segment, tokens: &[&str], chunks: &[Chunk]) -> Vec<f64> {
    let span = time_span(segment);
    let token_starts = word_token_starts(segment).filter(|starts| starts.len() == tokens.len());
    let token_weights: Vec<f64> = tokens
        .iter()
        .map(|token| (token.chars().count() + 1) as f64)
        .collect();
    let total_weight: f64 = token_weights.iter().sum();

    let mut boundaries = Vec::with_capacity(chunks.len() + 1);
    boundaries.push(span.start);
    for chunk in chunks.iter().skip(1) {
        let first_token = chunk.tokens.start;
        let boundary = match &token_starts {
            Some(starts) => starts.get(first_token).copied().unwrap_or(span.start),
            None => {
                let before: f64 = token_weights.iter().take(first_token).sum();
                span.start + (span.end - span.start) * before / total_weight
            }
        };
        let previous = boundaries.last().copied().unwrap_or(span.start);
        boundaries.push(boundary.clamp(previous, span.end));
    }
    boundaries.push(span.end);
    boundaries
}

/// The start time of every whitespace-separated token of the segment's words, or `None` when
/// the segment has no word timings.
fn word_token_starts(segment: &Segment) -> Option<Vec<f64>> {
    if segment.words.is_empty() {
        return None;
    }
    let starts = segment
        .words
        .iter()
        .flat_map(|word| {
            word.text
                .split_whitespace()
                .map(|_| clamp_secs(word.start_secs))
        })
        .collect();
    Some(starts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Word;
    use crate::transcript::fixtures::two_speakers;

    fn segment(start_secs: f64, end_secs: f64, text: &str) -> Segment {
        Segment {
            id: Transcript::segment_id(0),
            start_secs,
            end_secs,
            text: text.into(),
            speaker: Some("SPEAKER_00".into()),
            words: Vec::new(),
            avg_logprob: None,
            compression_ratio: None,
            no_speech_prob: None,
            temperature: None,
        }
    }

    fn transcript_of(segments: Vec<Segment>) -> Transcript {
        let mut transcript = two_speakers();
        transcript.text = Transcript::join_segment_text(&segments);
        transcript.segments = segments;
        transcript
    }

    fn options(max_line_length: usize, max_lines: usize) -> ExportOptions {
        ExportOptions {
            include_speakers: true,
            max_line_length,
            max_lines,
        }
    }

    #[test]
    fn wraps_at_word_boundaries() {
        let tokens = ["the", "quick", "brown", "fox", "jumps"];
        let chunks = pack_tokens(&tokens, 10, 3, 0);
        assert_eq!(
            chunks,
            [Chunk {
                lines: vec!["the quick".into(), "brown fox".into(), "jumps".into()],
                tokens: 0..5
            }]
        );
    }

    #[test]
    fn a_line_may_be_exactly_the_limit() {
        let chunks = pack_tokens(&["abcd", "efghi"], 10, 1, 0);
        assert_eq!(
            chunks,
            [Chunk {
                lines: vec!["abcd efghi".into()],
                tokens: 0..2
            }]
        );
    }

    #[test]
    fn overlong_word_gets_its_own_line() {
        let chunks = pack_tokens(&["a", "supercalifragilistic", "b"], 10, 3, 0);
        assert_eq!(chunks[0].lines, ["a", "supercalifragilistic", "b"]);
    }

    #[test]
    fn splits_into_chunks_of_max_lines() {
        let tokens = ["one", "two", "three", "four", "five"];
        let chunks = pack_tokens(&tokens, 10, 1, 0);
        let lines: Vec<_> = chunks.iter().map(|chunk| chunk.lines.join("|")).collect();
        // Three cues either way; balanced, the longest is 9 characters instead of 10.
        assert_eq!(lines, ["one two", "three", "four five"]);
        let ranges: Vec<_> = chunks.iter().map(|chunk| chunk.tokens.clone()).collect();
        assert_eq!(ranges, [0..2, 2..3, 3..5]);
    }

    #[test]
    fn a_long_segment_does_not_end_with_a_one_word_cue() {
        // Greedy wrapping gives "aaa bbb ccc ddd" | "eee fff ggg hhh" | "iii".
        let tokens = [
            "aaa", "bbb", "ccc", "ddd", "eee", "fff", "ggg", "hhh", "iii",
        ];
        let chunks = pack_tokens(&tokens, 8, 2, 0);
        let lines: Vec<_> = chunks.iter().map(|chunk| chunk.lines.join("|")).collect();
        assert_eq!(lines, ["aaa bbb|ccc", "ddd eee|fff", "ggg hhh|iii"]);
        let ranges: Vec<_> = chunks.iter().map(|chunk| chunk.tokens.clone()).collect();
        assert_eq!(ranges, [0..3, 3..6, 6..9]);
    }

    #[test]
    fn reserved_label_width_shortens_each_chunks_first_line() {
        let tokens = ["aaaa", "bbbb", "cccc", "dddd"];
        let chunks = pack_tokens(&tokens, 10, 2, 5);
        let lines: Vec<_> = chunks.iter().map(|chunk| chunk.lines.clone()).collect();
        assert_eq!(lines, [vec!["aaaa", "bbbb"], vec!["cccc", "dddd"]]);
    }

    #[test]
    fn label_wider_than_the_line_still_places_one_word() {
        let chunks = pack_tokens(&["aa", "bb"], 10, 1, 13);
        let lines: Vec<_> = chunks.iter().map(|chunk| chunk.lines.join("|")).collect();
        assert_eq!(lines, ["aa", "bb"]);
    }

    #[test]
    fn split_time_is_proportional_to_characters() {
        // Weights (chars + 1): "aaaa bbbb" = 10, "cccc dddd" = 10 → halves of 0..10 s.
        let transcript = transcript_of(vec![segment(0.0, 10.0, "aaaa bbbb cccc dddd")]);
        let cues = build_cues(&transcript, &options(10, 1), |_| 0).unwrap_or_default();
        let times: Vec<_> = cues
            .iter()
            .map(|cue| (cue.start_secs, cue.end_secs))
            .collect();
        assert_eq!(times, [(0.0, 5.0), (5.0, 10.0)]);
    }

    #[test]
    fn split_time_follows_word_timings_when_they_line_up() {
        let mut timed = segment(1.0, 9.0, "aaaa bbbb cccc dddd");
        timed.words = [("aaaa", 1.0), ("bbbb", 2.0), ("cccc", 7.5), ("dddd", 8.0)]
            .into_iter()
            .map(|(text, start_secs)| Word {
                text: text.into(),
                start_secs,
                end_secs: start_secs + 0.4,
                confidence: None,
                speaker: None,
            })
            .collect();
        let transcript = transcript_of(vec![timed]);
        let cues = build_cues(&transcript, &options(10, 1), |_| 0).unwrap_or_default();
        let times: Vec<_> = cues
            .iter()
            .map(|cue| (cue.start_secs, cue.end_secs))
            .collect();
        assert_eq!(times, [(1.0, 7.5), (7.5, 9.0)]);
    }

    #[test]
    fn mismatched_word_timings_fall_back_to_proportional() {
        let mut timed = segment(0.0, 10.0, "aaaa bbbb cccc dddd");
        timed.words = vec![Word {
            text: "aaaa".into(),
            start_secs: 9.0,
            end_secs: 9.5,
            confidence: None,
            speaker: None,
        }];
        let transcript = transcript_of(vec![timed]);
        let cues = build_cues(&transcript, &options(10, 1), |_| 0).unwrap_or_default();
        let times: Vec<_> = cues
            .iter()
            .map(|cue| (cue.start_secs, cue.end_secs))
            .collect();
        assert_eq!(times, [(0.0, 5.0), (5.0, 10.0)]);
    }

    #[test]
    fn speakers_are_dropped_when_not_requested() {
        let transcript = two_speakers();
        let with = build_cues(&transcript, &options(42, 2), |_| 0).unwrap_or_default();
        assert_eq!(
            with.iter().map(|cue| cue.speaker).collect::<Vec<_>>(),
            [Some("SPEAKER_00"), Some("SPEAKER_01"), Some("SPEAKER_01")]
        );
        let without = ExportOptions {
            include_speakers: false,
            ..options(42, 2)
        };
        let cues = build_cues(&transcript, &without, |_| 0).unwrap_or_default();
        assert!(cues.iter().all(|cue| cue.speaker.is_none()));
    }

    #[test]
    fn untimed_segments_are_refused() {
        let transcript =
            transcript_of(vec![segment(0.0, 0.0, "hello"), segment(3.0, 2.0, "world")]);
        assert!(matches!(
            build_cues(&transcript, &options(42, 2), |_| 0),
            Err(ExportError::NoTimestamps)
        ));
    }

    #[test]
    fn text_without_segments_is_refused() {
        let mut transcript = transcript_of(Vec::new());
        transcript.text = "hello".into();
        assert!(matches!(
            build_cues(&transcript, &options(42, 2), |_| 0),
            Err(ExportError::NoTimestamps)
        ));
    }

    #[test]
    fn empty_transcript_has_no_cues() {
        let transcript = transcript_of(vec![segment(0.0, 0.0, "   ")]);
        let cues = build_cues(&transcript, &options(42, 2), |_| 0);
        assert!(matches!(cues.as_deref(), Ok([])));
    }

    #[test]
    fn one_untimed_segment_among_timed_ones_is_kept() {
        let transcript = transcript_of(vec![
            segment(0.0, 1.0, "hello"),
            segment(f64::NAN, -1.0, "world"),
        ]);
        let cues = build_cues(&transcript, &options(42, 2), |_| 0).unwrap_or_default();
        let times: Vec<_> = cues
            .iter()
            .map(|cue| (cue.start_secs, cue.end_secs))
            .collect();
        assert_eq!(times, [(0.0, 1.0), (0.0, 0.0)]);
    }
}
