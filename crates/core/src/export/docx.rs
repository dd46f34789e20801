//! A Word document (`.docx`): a minimal WordprocessingML package, zipped in memory.
//!
//! The package holds only the parts Word, LibreOffice and Google Docs need to open it:
//! `[Content_Types].xml`, `_rels/.rels`, `word/document.xml`, and `word/styles.xml` (with its
//! relationship) so the title uses a real "Title" style. Every entry is dated 1980-01-01 (the zip
//! format's earliest date), so the same transcript always renders the same bytes.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::timestamp::clamp_secs;
use super::{ExportError, ExportOptions};
use crate::transcript::Transcript;

/// The heading both document exports open with.
pub(super) const DOCUMENT_TITLE: &str = "Transcript";

/// One paragraph of a document export: a segment, or the whole text of an unsegmented transcript.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Paragraph {
    /// `[HH:MM:SS] ` (with the trailing space), absent for an unsegmented transcript.
    pub(super) time_prefix: Option<String>,
    /// `SPEAKER_00: ` (with the trailing space), present only when speakers are asked for.
    pub(super) speaker_prefix: Option<String>,
    /// The text with its whitespace collapsed to single spaces.
    pub(super) text: String,
}

impl Paragraph {
    /// The paragraph as one line of plain text.
    pub(super) fn plain_text(&self) -> String {
        let time = self.time_prefix.as_deref().unwrap_or_default();
        let speaker = self.speaker_prefix.as_deref().unwrap_or_default();
        format!("{time}{speaker}{}", self.text)
    }
}

/// The paragraphs shared by the DOCX and PDF exports: one per segment with text, each prefixed by
/// its start time (whole seconds, rounded down) and, when `include_speakers` and the segment has
/// one, its speaker. A transcript without segments yields its text as one unprefixed paragraph;
/// an empty transcript yields none.
pub(super) fn document_paragraphs(
    transcript: &Transcript,
    options: &ExportOptions,
) -> Vec<Paragraph> {
    if transcript.segments.is_empty() {
        let text = collapse_whitespace(&transcript.text);
        if text.is_empty() {
            return Vec::new();
        }
        return vec![Paragraph {
            time_prefix: None,
            speaker_prefix: None,
            text,
        }];
    }
    transcript
        .segments
        .iter()
        .filter_map(|segment| {
            let text = collapse_whitespace(&segment.text);
            if text.is_empty() {
                return None;
            }
            let speaker_prefix = segment
                .speaker
                .as_deref()
                .filter(|speaker| options.include_speakers && !speaker.is_empty())
                .map(|speaker| format!("{speaker}: "));
            Some(Paragraph {
                time_prefix: Some(format!("[{}] ", format_clock(segment.start_secs))),
                speaker_prefix,
                text,
            })
        })
        .collect()
}

/// `HH:MM:SS`, rounded down to the second; hours keep growing past 99.
fn format_clock(secs: f64) -> String {
    // The float-to-int cast saturates, so absurdly large times cannot panic.
    let total_secs = clamp_secs(secs).floor() as u64;
    let hours = total_secs / 3600;
    let minutes = (total_secs / 60) % 60;
    let seconds = total_secs % 60;
    format!("{hours:02}:{minutes:02}:{seconds:02}")
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const CONTENT_TYPES_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>
"#;

const PACKAGE_RELATIONSHIPS_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>
"#;

const DOCUMENT_RELATIONSHIPS_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>
"#;

/// Sizes are in half-points (`w:sz`) and spacing in twentieths of a point (`w:after`).
const STYLES_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:docDefaults><w:rPrDefault><w:rPr><w:sz w:val="22"/><w:szCs w:val="22"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="160"/></w:pPr></w:pPrDefault></w:docDefaults><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/></w:style><w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/><w:next w:val="Normal"/><w:qFormat/><w:pPr><w:spacing w:after="240"/></w:pPr><w:rPr><w:b/><w:sz w:val="36"/><w:szCs w:val="36"/></w:rPr></w:style></w:styles>
"#;

/// A4 with 50 pt margins, in twentieths of a point, matching the PDF export.
const SECTION_PROPERTIES_XML: &str = r#"<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1000" w:right="1000" w:bottom="1000" w:left="1000" w:header="708" w:footer="708" w:gutter="0"/></w:sectPr>"#;

/// Renders the transcript as a `.docx` package: a "Transcript" title, then one paragraph per
/// segment with text, `[HH:MM:SS] ` in grey, then `SPEAKER_00: ` in bold when `include_speakers`
/// and the segment has a speaker, then the text. A transcript without segments renders its text
/// as one paragraph. Characters XML 1.0 cannot hold (control characters) are dropped.
///
/// # Errors
/// [`ExportError::InvalidOption`] for options out of range (validated as for every format),
/// [`ExportError::Docx`] if the zip writer fails (not expected: it writes to memory).
pub fn render_docx(
    transcript: &Transcript,
    options: &ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    options.validate()?;
    let document = document_xml(&document_paragraphs(transcript, options));
    let parts = [
        ("[Content_Types].xml", CONTENT_TYPES_XML),
        ("_rels/.rels", PACKAGE_RELATIONSHIPS_XML),
        ("word/document.xml", document.as_str()),
        ("word/_rels/document.xml.rels", DOCUMENT_RELATIONSHIPS_XML),
        ("word/styles.xml", STYLES_XML),
    ];
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    // Set explicitly: with zip's `time` feature (enabled anywhere in the build) the default is
    // the current time, which would make the bytes differ on every render.
    let file_options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default());
    for (name, content) in parts {
        writer
            .start_file(name, file_options)
            .map_err(ExportError::Docx)?;
        writer
            .write_all(content.as_bytes())
            .map_err(|error| ExportError::Docx(error.into()))?;
    }
    let cursor = writer.finish().map_err(ExportError::Docx)?;
    Ok(cursor.into_inner())
}

fn document_xml(paragraphs: &[Paragraph]) -> String {
    let mut body = format!(
        r#"<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>{DOCUMENT_TITLE}</w:t></w:r></w:p>"#
    );
    for paragraph in paragraphs {
        body.push_str("<w:p>");
        if let Some(time) = &paragraph.time_prefix {
            push_run(&mut body, r#"<w:color w:val="666666"/>"#, time);
        }
        if let Some(speaker) = &paragraph.speaker_prefix {
            push_run(&mut body, "<w:b/>", speaker);
        }
        push_run(&mut body, "", &paragraph.text);
        body.push_str("</w:p>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
         <w:body>{body}{SECTION_PROPERTIES_XML}</w:body></w:document>\n"
    )
}

/// Appends a run; `xml:space="preserve"` keeps the prefixes' trailing spaces.
fn push_run(body: &mut String, run_properties: &str, text: &str) {
    body.push_str("<w:r>");
    if !run_properties.is_empty() {
        body.push_str("<w:rPr>");
        body.push_str(run_properties);
        body.push_str("</w:rPr>");
    }
    body.push_str(r#"<w:t xml:space="preserve">"#);
    push_escaped(body, text);
    body.push_str("</w:t></w:r>");
}

/// Escapes XML markup and drops the characters XML 1.0 forbids, which would make Word refuse
/// the whole file.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::transcript::fixtures::two_speakers;

    fn unzip(bytes: Vec<u8>) -> Vec<(String, String)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a valid zip");
        (0..archive.len())
            .map(|index| {
                let mut file = archive.by_index(index).expect("an entry");
                let mut content = String::new();
                file.read_to_string(&mut content).expect("UTF-8 content");
                (file.name().expect("a UTF-8 name").into_owned(), content)
            })
            .collect()
    }

    fn part(parts: &[(String, String)], name: &str) -> String {
        parts
            .iter()
            .find(|(part_name, _)| part_name == name)
            .map(|(_, content)| content.clone())
            .unwrap_or_else(|| panic!("{name} missing from {parts:?}"))
    }

    #[test]
    fn package_has_the_required_parts_in_order() {
        let parts = unzip(render_docx(&two_speakers(), &ExportOptions::default()).expect("docx"));
        let names: Vec<&str> = parts.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "[Content_Types].xml",
                "_rels/.rels",
                "word/document.xml",
                "word/_rels/document.xml.rels",
                "word/styles.xml",
            ]
        );
        assert!(part(&parts, "[Content_Types].xml").contains(r#"PartName="/word/document.xml""#));
        assert!(part(&parts, "_rels/.rels").contains(r#"Target="word/document.xml""#));
    }

    #[test]
    fn document_has_title_times_speakers_and_text() {
        let parts = unzip(render_docx(&two_speakers(), &ExportOptions::default()).expect("docx"));
        let document = part(&parts, "word/document.xml");
        assert!(
            document.contains(r#"<w:pStyle w:val="Title"/></w:pPr><w:r><w:t>Transcript</w:t>"#)
        );
        assert!(document.contains(concat!(
            r#"<w:p><w:r><w:rPr><w:color w:val="666666"/></w:rPr><w:t xml:space="preserve">[00:00:00] </w:t></w:r>"#,
            r#"<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">SPEAKER_00: </w:t></w:r>"#,
            r#"<w:r><w:t xml:space="preserve">Hello there, how are you doing today?</w:t></w:r></w:p>"#,
        )), "{document}");
        assert!(document.contains(">[00:00:04] <"), "{document}");
        assert!(document.contains(">SPEAKER_01: <"), "{document}");
    }

    #[test]
    fn speakers_are_left_out_when_not_asked_for() {
        let options = ExportOptions {
            include_speakers: false,
            ..ExportOptions::default()
        };
        let parts = unzip(render_docx(&two_speakers(), &options).expect("docx"));
        let document = part(&parts, "word/document.xml");
        assert!(!document.contains("SPEAKER_"), "{document}");
        assert!(document.contains(">[00:00:02] <"), "{document}");
    }

    #[test]
    fn markup_and_control_characters_are_escaped_or_dropped() {
        let mut transcript = two_speakers();
        transcript.segments[0].text = "<b>Tom & \"Jerry\"</b>\u{0}\u{7}".into();
        let parts = unzip(render_docx(&transcript, &ExportOptions::default()).expect("docx"));
        let document = part(&parts, "word/document.xml");
        assert!(
            document.contains(">&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;</w:t>"),
            "{document}"
        );
        assert!(!document.contains('\u{0}') && !document.contains('\u{7}'));
    }

    #[test]
    fn text_without_segments_is_one_unprefixed_paragraph() {
        let mut transcript = two_speakers();
        transcript.segments.clear();
        let parts = unzip(render_docx(&transcript, &ExportOptions::default()).expect("docx"));
        let document = part(&parts, "word/document.xml");
        assert!(document.contains(
            r#"<w:p><w:r><w:t xml:space="preserve">Hello there, how are you doing today? Fine, thanks. And you?</w:t></w:r></w:p>"#
        ), "{document}");
        assert!(!document.contains("[00:"));
    }

    #[test]
    fn same_transcript_renders_the_same_bytes() {
        let options = ExportOptions::default();
        assert_eq!(
            render_docx(&two_speakers(), &options).ok(),
            render_docx(&two_speakers(), &options).ok()
        );
    }

    #[test]
    fn invalid_options_are_rejected() {
        let options = ExportOptions {
            max_lines: 0,
            ..ExportOptions::default()
        };
        assert!(matches!(
            render_docx(&two_speakers(), &options),
            Err(ExportError::InvalidOption {
                name: "max_lines",
                ..
            })
        ));
    }

    #[test]
    fn clock_rounds_down_and_grows_past_99_hours() {
        assert_eq!(format_clock(0.0), "00:00:00");
        assert_eq!(format_clock(2.999), "00:00:02");
        assert_eq!(format_clock(3661.25), "01:01:01");
        assert_eq!(format_clock(360_000.0), "100:00:00");
        assert_eq!(format_clock(-1.0), "00:00:00");
        assert_eq!(format_clock(f64::NAN), "00:00:00");
    }
}
