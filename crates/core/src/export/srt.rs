//! SubRip (`.srt`) subtitles.

use super::cue::{Cue, build_cues};
use super::timestamp::format_timestamp;
use super::{ExportError, ExportOptions};
use crate::transcript::Transcript;

/// Renders numbered SRT cues separated by blank lines; an empty transcript renders as an empty
/// string. With `include_speakers`, each cue of a labelled segment starts with `[SPEAKER_00] `
/// (every cue, not just the first of a segment, since each is read on its own), and the label
/// counts towards the first line's length.
///
/// # Errors
/// [`ExportError::InvalidOption`] for options out of range; [`ExportError::NoTimestamps`] when
/// the transcript has text but no segment timings.
pub fn render_srt(transcript: &Transcript, options: &ExportOptions) -> Result<String, ExportError> {
    let cues = build_cues(transcript, options, |speaker| {
        speaker_label(speaker).chars().count()
    })?;
    let blocks: Vec<String> = cues
        .iter()
        .enumerate()
        .map(|(index, cue)| render_cue(index + 1, cue))
        .collect();
    Ok(blocks.join("\n"))
}

fn speaker_label(speaker: &str) -> String {
    format!("[{speaker}] ")
}

fn render_cue(number: usize, cue: &Cue<'_>) -> String {
    let start = format_timestamp(cue.start_secs, ',');
    let end = format_timestamp(cue.end_secs, ',');
    let label = cue.speaker.map(speaker_label).unwrap_or_default();
    format!(
        "{number}\n{start} --> {end}\n{label}{}\n",
        cue.lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::fixtures::two_speakers;

    #[test]
    fn fixture_with_speakers() -> Result<(), ExportError> {
        let srt = render_srt(&two_speakers(), &ExportOptions::default())?;
        let expected = "\
1
00:00:00,000 --> 00:00:02,500
[SPEAKER_00] Hello there, how are you
doing today?

2
00:00:02,500 --> 00:00:04,000
[SPEAKER_01] Fine, thanks.

3
00:00:04,000 --> 01:01:01,250
[SPEAKER_01] And you?
";
        assert_eq!(srt, expected);
        Ok(())
    }

    #[test]
    fn fixture_without_speakers() -> Result<(), ExportError> {
        let options = ExportOptions {
            include_speakers: false,
            ..ExportOptions::default()
        };
        let srt = render_srt(&two_speakers(), &options)?;
        let expected = "\
1
00:00:00,000 --> 00:00:02,500
Hello there, how are you doing today?

2
00:00:02,500 --> 00:00:04,000
Fine, thanks.

3
00:00:04,000 --> 01:01:01,250
And you?
";
        assert_eq!(srt, expected);
        Ok(())
    }

    #[test]
    fn long_segment_splits_into_numbered_cues() -> Result<(), ExportError> {
        let options = ExportOptions {
            include_speakers: false,
            max_line_length: 10,
            max_lines: 2,
        };
        let srt = render_srt(&two_speakers(), &options)?;
        // The first segment's 0–2.5 s is shared by characters (token weights 13, 12, 13 of 38),
        // and its words are shared evenly among the three cues rather than leaving "today?"
        // alone in the last.
        let expected = "\
1
00:00:00,000 --> 00:00:00,855
Hello
there,

2
00:00:00,855 --> 00:00:01,645
how are
you

3
00:00:01,645 --> 00:00:02,500
doing
today?

4
00:00:02,500 --> 00:00:04,000
Fine,
thanks.

5
00:00:04,000 --> 01:01:01,250
And you?
";
        assert_eq!(srt, expected);
        Ok(())
    }

    #[test]
    fn every_split_cue_carries_the_label_within_the_line_length() -> Result<(), ExportError> {
        // 25 characters less the 13 of "[SPEAKER_00] " leaves 12 for the words.
        let options = ExportOptions {
            include_speakers: true,
            max_line_length: 25,
            max_lines: 1,
        };
        let srt = render_srt(&two_speakers(), &options)?;
        let expected = "\
1
00:00:00,000 --> 00:00:00,855
[SPEAKER_00] Hello there,

2
00:00:00,855 --> 00:00:01,645
[SPEAKER_00] how are you

3
00:00:01,645 --> 00:00:02,500
[SPEAKER_00] doing today?

4
00:00:02,500 --> 00:00:03,143
[SPEAKER_01] Fine,

5
00:00:03,143 --> 00:00:04,000
[SPEAKER_01] thanks.

6
00:00:04,000 --> 01:01:01,250
[SPEAKER_01] And you?
";
        assert_eq!(srt, expected);
        let text_lines = srt.lines().filter(|line| !line.contains("-->"));
        assert!(
            text_lines
                .into_iter()
                .all(|line| line.chars().count() <= 25)
        );
        Ok(())
    }

    #[test]
    fn empty_transcript_is_an_empty_document() -> Result<(), ExportError> {
        let mut transcript = two_speakers();
        transcript.segments.clear();
        transcript.text.clear();
        assert_eq!(render_srt(&transcript, &ExportOptions::default())?, "");
        Ok(())
    }

    #[test]
    fn zero_duration_segments_need_timestamps() {
        let mut transcript = two_speakers();
        for segment in &mut transcript.segments {
            segment.start_secs = 0.0;
            segment.end_secs = 0.0;
        }
        let result = render_srt(&transcript, &ExportOptions::default());
        assert!(
            matches!(result, Err(ExportError::NoTimestamps)),
            "{result:?}"
        );
    }
}
