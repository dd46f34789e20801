//! Plain text, in paragraphs.

use super::ExportOptions;
use crate::transcript::{Segment, Transcript};

/// A silence at least this long between segments starts a new paragraph, so a long recording
/// without speakers still reads as paragraphs rather than one block.
pub const PARAGRAPH_PAUSE_SECS: f64 = 2.0;

/// Renders the transcript as paragraphs separated by blank lines, ending with a newline (an
/// empty transcript renders as an empty string).
///
/// A paragraph ends where the speaker changes or after a pause of [`PARAGRAPH_PAUSE_SECS`].
/// With `include_speakers`, a paragraph where the speaker changes starts with `SPEAKER_00: `.
/// Whitespace inside segment text is collapsed to single spaces. A transcript with text but no
/// segments renders that text as one paragraph. Line-length options do not apply.
pub fn render_txt(transcript: &Transcript, options: &ExportOptions) -> String {
    let mut paragraphs: Vec<String> = Vec::new();
    let mut previous: Option<&Segment> = None;
    for segment in &transcript.segments {
        let words: Vec<&str> = segment.text.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let speaker = speaker_of(segment);
        let speaker_changed = previous.is_none_or(|previous| speaker_of(previous) != speaker);
        let paused = previous
            .is_some_and(|previous| segment.start_secs - previous.end_secs >= PARAGRAPH_PAUSE_SECS);
        match paragraphs.last_mut() {
            Some(paragraph) if !speaker_changed && !paused => {
                paragraph.push(' ');
                paragraph.push_str(&words.join(" "));
            }
            _ => {
                let label = match speaker {
                    Some(speaker) if options.include_speakers && speaker_changed => {
                        format!("{speaker}: ")
                    }
                    _ => String::new(),
                };
                paragraphs.push(format!("{label}{}", words.join(" ")));
            }
        }
        previous = Some(segment);
    }
    if transcript.segments.is_empty() {
        let text = transcript
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() {
            paragraphs.push(text);
        }
    }
    if paragraphs.is_empty() {
        return String::new();
    }
    let mut document = paragraphs.join("\n\n");
    document.push('\n');
    document
}

fn speaker_of(segment: &Segment) -> Option<&str> {
    segment
        .speaker
        .as_deref()
        .filter(|speaker| !speaker.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::fixtures::two_speakers;

    #[test]
    fn fixture_with_speakers() {
        let txt = render_txt(&two_speakers(), &ExportOptions::default());
        let expected = "\
SPEAKER_00: Hello there, how are you doing today?

SPEAKER_01: Fine, thanks. And you?
";
        assert_eq!(txt, expected);
    }

    #[test]
    fn fixture_without_speakers_keeps_turns_as_paragraphs() {
        let options = ExportOptions {
            include_speakers: false,
            ..ExportOptions::default()
        };
        let txt = render_txt(&two_speakers(), &options);
        let expected = "\
Hello there, how are you doing today?

Fine, thanks. And you?
";
        assert_eq!(txt, expected);
    }

    #[test]
    fn unlabelled_segments_break_on_pauses_only() {
        let mut transcript = two_speakers();
        for segment in &mut transcript.segments {
            segment.speaker = None;
        }
        transcript.segments[1].text = "  Fine,\n thanks. ".into();
        transcript.segments[2].start_secs = 6.0;
        let txt = render_txt(&transcript, &ExportOptions::default());
        let expected = "\
Hello there, how are you doing today? Fine, thanks.

And you?
";
        assert_eq!(txt, expected);
    }

    #[test]
    fn same_speaker_after_a_pause_continues_without_a_label() {
        let mut transcript = two_speakers();
        transcript.segments[2].start_secs = 10.0;
        let txt = render_txt(&transcript, &ExportOptions::default());
        let expected = "\
SPEAKER_00: Hello there, how are you doing today?

SPEAKER_01: Fine, thanks.

And you?
";
        assert_eq!(txt, expected);
    }

    #[test]
    fn text_without_segments_is_one_paragraph() {
        let mut transcript = two_speakers();
        transcript.segments.clear();
        assert_eq!(
            render_txt(&transcript, &ExportOptions::default()),
            "Hello there, how are you doing today? Fine, thanks. And you?\n"
        );
    }

    #[test]
    fn empty_transcript_is_empty() {
        let mut transcript = two_speakers();
        transcript.segments.clear();
        transcript.text.clear();
        assert_eq!(render_txt(&transcript, &ExportOptions::default()), "");
    }
}
