//! A standalone HTML document of the transcript (ElevenLabs' `html` additional format).

use super::ExportOptions;
use super::timestamp::format_timestamp;
use crate::transcript::Transcript;

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// One `<p>` per segment with its start time (and speaker when `include_speakers`), in a complete
/// UTF-8 document that needs no stylesheet or script.
pub fn render_html(transcript: &Transcript, options: &ExportOptions) -> String {
    let mut body = String::new();
    for segment in transcript
        .segments
        .iter()
        .filter(|segment| !segment.text.trim().is_empty())
    {
        let time = format_timestamp(segment.start_secs, '.');
        let speaker = match (&segment.speaker, options.include_speakers) {
            (Some(speaker), true) => format!("<b class=\"speaker\">{}</b> ", escape(speaker)),
            _ => String::new(),
        };
        body.push_str(&format!(
            "<p data-start=\"{:.3}\" data-end=\"{:.3}\"><time>{time}</time> {speaker}{}</p>\n",
            segment.start_secs,
            segment.end_secs,
            escape(segment.text.trim())
        ));
    }
    if body.is_empty() && !transcript.text.trim().is_empty() {
        body = format!("<p>{}</p>\n", escape(transcript.text.trim()));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n<title>Transcript</title>\n\
         <style>time{{color:#666;font-family:monospace;margin-right:.5em}}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        lang = escape(&transcript.language_code),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::fixtures::two_speakers;

    #[test]
    fn segments_become_paragraphs_with_times_and_speakers() {
        let html = render_html(&two_speakers(), &ExportOptions::default());
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.contains(
            "<p data-start=\"0.000\" data-end=\"2.500\"><time>00:00:00.000</time> <b class=\"speaker\">SPEAKER_00</b> Hello there, how are you doing today?</p>"
        ), "{html}");
        let without = render_html(
            &two_speakers(),
            &ExportOptions {
                include_speakers: false,
                ..ExportOptions::default()
            },
        );
        assert!(!without.contains("SPEAKER_00"));
    }

    #[test]
    fn markup_in_text_is_escaped() {
        let mut transcript = two_speakers();
        transcript.segments[0].text = "<script>alert('x')</script> & more".into();
        let html = render_html(&transcript, &ExportOptions::default());
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
    }
}
