//! Snapshot tests of every export format for one fixed transcript (two speakers, an hour-long
//! gap, a long segment that wraps and splits), so any change to what a user downloads shows up
//! as a reviewed diff. DOCX is checked as its `document.xml`, PDF as its (uncompressed) text,
//! after their structure is validated: no office suite or PDF reader is installed here.

use std::io::Read as _;

use super::*;
use crate::transcript::Word;
use crate::transcript::fixtures::two_speakers;

const LONG_TEXT: &str = " This long segment goes on for quite a while, so the subtitle exports \
                         have to wrap it over several lines and split it into cues of their own.";

/// The shared two-speaker fixture plus a long timed segment by the first speaker.
fn fixture() -> Transcript {
    let mut transcript = two_speakers();
    let start = transcript.duration_secs;
    let tokens: Vec<&str> = LONG_TEXT.split_whitespace().collect();
    let words = tokens
        .iter()
        .enumerate()
        .map(|(index, token)| Word {
            text: format!(" {token}"),
            start_secs: start + 0.4 * index as f64,
            end_secs: start + 0.4 * index as f64 + 0.35,
            confidence: Some(0.9),
            speaker: Some("SPEAKER_00".into()),
        })
        .collect();
    let mut segment = transcript.segments[0].clone();
    segment.id = Transcript::segment_id(3);
    segment.start_secs = start;
    segment.end_secs = start + 0.4 * tokens.len() as f64;
    segment.text = LONG_TEXT.into();
    segment.words = words;
    transcript.duration_secs = segment.end_secs;
    transcript.segments.push(segment);
    transcript.text = Transcript::join_segment_text(&transcript.segments);
    transcript
}

fn with_speakers() -> ExportOptions {
    ExportOptions::default()
}

fn without_speakers() -> ExportOptions {
    ExportOptions {
        include_speakers: false,
        ..ExportOptions::default()
    }
}

/// Narrow lines, one per cue: every long segment splits.
fn narrow() -> ExportOptions {
    ExportOptions {
        include_speakers: true,
        max_line_length: 24,
        max_lines: 1,
    }
}

fn rendered(format: ExportFormat, options: &ExportOptions) -> String {
    render(&fixture(), format, options).unwrap_or_else(|error| panic!("{format:?}: {error}"))
}

#[test]
fn srt() {
    insta::assert_snapshot!(
        "srt_speakers",
        rendered(ExportFormat::Srt, &with_speakers())
    );
    insta::assert_snapshot!("srt_narrow", rendered(ExportFormat::Srt, &narrow()));
    insta::assert_snapshot!(
        "srt_plain",
        rendered(ExportFormat::Srt, &without_speakers())
    );
}

#[test]
fn vtt() {
    insta::assert_snapshot!(
        "vtt_speakers",
        rendered(ExportFormat::Vtt, &with_speakers())
    );
    insta::assert_snapshot!("vtt_narrow", rendered(ExportFormat::Vtt, &narrow()));
}

#[test]
fn txt() {
    insta::assert_snapshot!(
        "txt_speakers",
        rendered(ExportFormat::Txt, &with_speakers())
    );
    insta::assert_snapshot!(
        "txt_plain",
        rendered(ExportFormat::Txt, &without_speakers())
    );
}

#[test]
fn json() {
    insta::assert_snapshot!("json", rendered(ExportFormat::Json, &with_speakers()));
}

#[test]
fn segmented_json() {
    let render = |include_speakers, include_timestamps| {
        let options = SegmentedJsonOptions {
            include_speakers,
            include_timestamps,
        };
        render_segmented_json(&fixture(), &options).unwrap_or_else(|error| panic!("{error}"))
    };
    insta::assert_snapshot!("segmented_json", render(true, true));
    insta::assert_snapshot!("segmented_json_plain", render(false, false));
}

/// ElevenLabs' words: a spacing entry between words, so the entries' texts spell the segment,
/// and with `characters` each word's span shared out over its characters.
#[test]
fn elevenlabs_words_are_spaced_and_split_into_characters() {
    let transcript = fixture();
    let segment = &transcript.segments[3];
    let options = WordListOptions {
        timestamps: true,
        characters: true,
        speakers: true,
        channel: Some(1),
    };
    let entries = elevenlabs_word_list(&segment.words, &options);
    assert_eq!(entries.len(), segment.words.len() * 2 - 1);
    let rebuilt: String = entries.iter().map(|entry| entry.text.as_str()).collect();
    assert_eq!(rebuilt, segment.text.trim());
    for (index, entry) in entries.iter().enumerate() {
        assert_eq!(entry.kind == WordKind::Spacing, index % 2 == 1, "{entry:?}");
        assert_eq!(entry.speaker_id.as_deref(), Some("speaker_0"));
        assert_eq!(entry.channel_index, Some(1));
    }
    assert_eq!(entries[1].start, Some(segment.words[0].end_secs));
    assert_eq!(entries[1].end, Some(segment.words[1].start_secs));
    let word = &entries[2];
    let characters = word.characters.as_deref().unwrap_or_default();
    assert_eq!(characters.len(), word.text.chars().count());
    assert_eq!(characters[0].start, segment.words[1].start_secs);
    let last = characters.last().map_or(0.0, |c| c.end);
    assert!((last - segment.words[1].end_secs).abs() < 1e-9);
    assert!((word.logprob - 0.9f64.ln()).abs() < 1e-6);
}

#[test]
fn html() {
    insta::assert_snapshot!("html", render_html(&fixture(), &with_speakers()));
}

#[test]
fn docx_is_a_valid_package_with_the_transcript_in_its_document() {
    let bytes = render_docx(&fixture(), &with_speakers()).unwrap_or_default();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip package");
    let mut part = |name: &str| {
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap_or_else(|error| panic!("{name}: {error}"))
            .read_to_string(&mut text)
            .expect("UTF-8 XML");
        text
    };
    // The parts Word and LibreOffice need to open a document.
    let content_types = part("[Content_Types].xml");
    assert!(
        content_types.contains("/word/document.xml"),
        "{content_types}"
    );
    let relationships = part("_rels/.rels");
    assert!(
        relationships.contains("word/document.xml"),
        "{relationships}"
    );
    let document = part("word/document.xml");
    assert!(document.starts_with("<?xml"));
    assert_balanced_xml(&document);
    insta::assert_snapshot!("docx_document_xml", document.replace("><", ">\n<"));
}

/// Every start tag has its end tag, in order (a well-formedness check without an XML parser).
fn assert_balanced_xml(xml: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unterminated tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or_default();
        if tag.starts_with('/') {
            assert_eq!(open.pop(), Some(name), "mismatched </{name}>");
        } else {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
}

#[test]
fn pdf_has_a_valid_cross_reference_table_and_the_transcript_text() {
    let bytes = render_pdf(&fixture(), &with_speakers()).unwrap_or_default();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(bytes.trim_ascii_end().ends_with(b"%%EOF"));
    // `startxref` names the offset of the xref table, whose entries name each object's offset.
    let text = String::from_utf8_lossy(&bytes);
    let startxref: usize = text
        .rsplit_once("startxref")
        .and_then(|(_, tail)| tail.split_whitespace().next())
        .and_then(|offset| offset.parse().ok())
        .expect("startxref");
    assert!(bytes[startxref..].starts_with(b"xref"));
    let table = String::from_utf8_lossy(&bytes[startxref..]);
    let mut lines = table.lines().skip(1);
    let header = lines.next().expect("subsection header");
    let (first, count) = header.split_once(' ').expect("first count");
    let (first, count): (usize, usize) = (
        first.parse().expect("first"),
        count.trim().parse().expect("count"),
    );
    for (number, entry) in (first..first + count).zip(lines) {
        let fields: Vec<&str> = entry.split_whitespace().collect();
        if fields.get(2) == Some(&"n") {
            let offset: usize = fields[0].parse().expect("offset");
            let expected = format!("{number} 0 obj");
            assert!(
                bytes[offset..].starts_with(expected.as_bytes()),
                "object {number} is not at {offset}"
            );
        }
    }
    insta::assert_snapshot!("pdf", text);
}
