//! WebVTT (`.vtt`) subtitles.

use super::cue::{Cue, build_cues};
use super::timestamp::format_timestamp;
use super::{ExportError, ExportOptions};
use crate::transcript::Transcript;

/// Renders a `WEBVTT` document; an empty transcript renders as the header alone. With
/// `include_speakers`, each cue of a labelled segment opens a `<v SPEAKER_00>` voice span, which
/// players show as styling rather than text, so it does not count towards the line length.
///
/// # Errors
/// [`ExportError::InvalidOption`] for options out of range; [`ExportError::NoTimestamps`] when
/// the transcript has text but no segment timings.
pub fn render_vtt(transcript: &Transcript, options: &ExportOptions) -> Result<String, ExportError> {
    let cues = build_cues(transcript, options, |_| 0)?;
    let mut document = String::from("WEBVTT\n");
    for cue in &cues {
        document.push('\n');
        document.push_str(&render_cue(cue));
    }
    Ok(document)
}

fn render_cue(cue: &Cue<'_>) -> String {
    let start = format_timestamp(cue.start_secs, '.');
    let end = format_timestamp(cue.end_secs, '.');
    let voice = cue
        .speaker
        .map(|speaker| format!("<v {}>", escape(speaker)))
        .unwrap_or_default();
    let lines: Vec<String> = cue.lines.iter().map(|line| escape(line)).collect();
    format!("{start} --> {end}\n{voice}{}\n", lines.join("\n"))
}

/// Cue text is markup: a literal `<` or `&` would start a tag or an entity, and `-->` would end
/// the cue's timing line, so all three characters that can cause that are escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::fixtures::two_speakers;

    #[test]
    fn fixture_with_voice_tags() -> Result<(), ExportError> {
        let vtt = render_vtt(&two_speakers(), &ExportOptions::default())?;
        let expected = "\
WEBVTT

00:00:00.000 --> 00:00:02.500
<v SPEAKER_00>Hello there, how are you doing today?

00:00:02.500 --> 00:00:04.000
<v SPEAKER_01>Fine, thanks.

00:00:04.000 --> 01:01:01.250
<v SPEAKER_01>And you?
";
        assert_eq!(vtt, expected);
        Ok(())
    }

    #[test]
    fn fixture_without_speakers_wrapped_and_split() -> Result<(), ExportError> {
        let options = ExportOptions {
            include_speakers: false,
            max_line_length: 20,
            max_lines: 1,
        };
        let vtt = render_vtt(&two_speakers(), &options)?;
        // "Hello there, how are you doing today?": token weights 21 + 17 of 38 share 0–2.5 s.
        let expected = "\
WEBVTT

00:00:00.000 --> 00:00:01.382
Hello there, how are

00:00:01.382 --> 00:00:02.500
you doing today?

00:00:02.500 --> 00:00:04.000
Fine, thanks.

00:00:04.000 --> 01:01:01.250
And you?
";
        assert_eq!(vtt, expected);
        Ok(())
    }

    #[test]
    fn empty_transcript_is_the_header_alone() -> Result<(), ExportError> {
        let mut transcript = two_speakers();
        transcript.segments.clear();
        transcript.text.clear();
        assert_eq!(
            render_vtt(&transcript, &ExportOptions::default())?,
            "WEBVTT\n"
        );
        Ok(())
    }

    #[test]
    fn markup_characters_are_escaped() -> Result<(), ExportError> {
        let mut transcript = two_speakers();
        transcript.segments.truncate(1);
        transcript.segments[0].text = "a <b> & c --> d".into();
        let vtt = render_vtt(&transcript, &ExportOptions::default())?;
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n<v SPEAKER_00>a &lt;b&gt; &amp; c --&gt; d\n"
        );
        Ok(())
    }

    #[test]
    fn zero_duration_segments_need_timestamps() {
        let mut transcript = two_speakers();
        for segment in &mut transcript.segments {
            segment.end_secs = segment.start_secs;
        }
        let result = render_vtt(&transcript, &ExportOptions::default());
        assert!(
            matches!(result, Err(ExportError::NoTimestamps)),
            "{result:?}"
        );
    }
}
