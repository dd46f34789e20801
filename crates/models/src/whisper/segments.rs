//! Cutting a window's tokens into timestamped segments and deciding where the next window
//! starts, as OpenAI Whisper's `transcribe` does.
//!
//! A segment is text between two timestamp tokens; two timestamps in a row close one segment
//! and open the next. When the window ends on a complete segment the next window starts at
//! that segment's end, so speech cut by the window edge is decoded again whole; otherwise the
//! next window starts after this one.

use crate::whisper::logit_filters::TIME_PRECISION_SECS;

/// A segment before its text is decoded and before clipping to the audio.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSegment {
    pub start_secs: f64,
    pub end_secs: f64,
    pub tokens: Vec<u32>,
}

/// The segments of one window and how many mel frames to move forward.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WindowSegments {
    pub segments: Vec<RawSegment>,
    pub advance_frames: usize,
}

/// Splits `tokens` (sampled in a window starting at `time_offset_secs` and holding
/// `segment_frames` mel frames of audio) at timestamp pairs. `frames_per_position` is mel
/// frames per timestamp step (2: the encoder halves time).
pub(crate) fn split_segments(
    tokens: &[u32],
    timestamp_begin: u32,
    time_offset_secs: f64,
    segment_frames: usize,
    frames_per_position: usize,
) -> WindowSegments {
    let is_timestamp = |token: u32| token >= timestamp_begin;
    let position = |token: u32| token.saturating_sub(timestamp_begin) as usize;
    let seconds = |token: u32| time_offset_secs + position(token) as f64 * TIME_PRECISION_SECS;
    let n = tokens.len();
    let single_timestamp_ending =
        n >= 2 && !is_timestamp(tokens[n - 2]) && is_timestamp(tokens[n - 1]);
    let mut slices: Vec<usize> = (1..n)
        .filter(|&i| is_timestamp(tokens[i - 1]) && is_timestamp(tokens[i]))
        .collect();

    let mut segments = Vec::new();
    let advance_frames;
    if slices.is_empty() {
        let mut end = time_offset_secs + segment_frames as f64 * 0.01;
        if let Some(&last) = tokens.iter().rev().find(|&&t| is_timestamp(t))
            && last != timestamp_begin
        {
            end = seconds(last);
        }
        segments.push(RawSegment {
            start_secs: time_offset_secs,
            end_secs: end,
            tokens: tokens.to_vec(),
        });
        advance_frames = segment_frames;
    } else {
        if single_timestamp_ending {
            slices.push(n);
        }
        let mut last_slice = 0;
        for &current in &slices {
            let sliced = &tokens[last_slice..current];
            if let (Some(&first), Some(&last)) = (sliced.first(), sliced.last()) {
                segments.push(RawSegment {
                    start_secs: seconds(first),
                    end_secs: seconds(last),
                    tokens: sliced.to_vec(),
                });
            }
            last_slice = current;
        }
        advance_frames = if single_timestamp_ending {
            segment_frames
        } else {
            position(tokens[last_slice - 1]) * frames_per_position
        };
    }
    WindowSegments {
        segments,
        // A window must always move the seek forward, or decoding would never end.
        advance_frames: if advance_frames == 0 {
            segment_frames.max(1)
        } else {
            advance_frames
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TB: u32 = 1000;

    #[test]
    fn pairs_split_segments_and_seek_to_the_last_complete_one() {
        // <0.00> a b <1.00><1.00> c <2.00><2.00> d   (window cut mid-segment)
        let tokens = [TB, 1, 2, TB + 50, TB + 50, 3, TB + 100, TB + 100, 4];
        let out = split_segments(&tokens, TB, 10.0, 3000, 2);
        assert_eq!(out.segments.len(), 2);
        assert_eq!(out.segments[0].start_secs, 10.0);
        assert_eq!(out.segments[0].end_secs, 11.0);
        assert_eq!(out.segments[1].tokens, vec![TB + 50, 3, TB + 100]);
        assert_eq!(out.advance_frames, 200);
    }

    #[test]
    fn single_timestamp_ending_consumes_the_whole_window() {
        let tokens = [TB, 1, TB + 50, TB + 50, 2, TB + 120];
        let out = split_segments(&tokens, TB, 0.0, 2500, 2);
        assert_eq!(out.segments.len(), 2);
        assert!((out.segments[1].end_secs - 2.4).abs() < 1e-9);
        assert_eq!(out.advance_frames, 2500);
    }

    #[test]
    fn one_segment_window_ends_at_its_last_timestamp() {
        let tokens = [TB, 1, 2, TB + 70];
        let out = split_segments(&tokens, TB, 30.0, 1100, 2);
        assert_eq!(out.segments.len(), 1);
        assert!((out.segments[0].end_secs - 31.4).abs() < 1e-9);
        assert_eq!(out.advance_frames, 1100);
    }

    #[test]
    fn text_without_closing_timestamp_spans_the_window() {
        let out = split_segments(&[TB, 1, 2], TB, 0.0, 1100, 2);
        assert!((out.segments[0].end_secs - 11.0).abs() < 1e-9);
    }
}
