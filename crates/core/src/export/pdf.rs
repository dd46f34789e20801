//! A PDF document of the transcript, set in Helvetica so no font is embedded.
//!
//! Helvetica is one of the 14 standard fonts every PDF reader provides, which keeps the file
//! small and the writer simple, at a cost: the standard fonts cover only the WinAnsi
//! (Windows-1252) character set, so any other character (CJK, Cyrillic, Greek, emoji, …) is
//! written as `?`. Lines wrap at word boundaries using Helvetica's published glyph widths.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::docx::{DOCUMENT_TITLE, document_paragraphs};
use super::{ExportError, ExportOptions};
use crate::transcript::Transcript;

/// A4 (ISO 216, 210 × 297 mm) in points, rounded to whole points as most writers do.
const PAGE_WIDTH_PT: f32 = 595.0;
const PAGE_HEIGHT_PT: f32 = 842.0;
const MARGIN_PT: f32 = 50.0;
const TEXT_WIDTH_PT: f32 = PAGE_WIDTH_PT - 2.0 * MARGIN_PT;
const BODY_FONT_SIZE_PT: f32 = 11.0;
/// Baseline to baseline; about 1.3 times the font size reads comfortably.
const LINE_HEIGHT_PT: f32 = 14.0;
/// Extra space between paragraphs.
const PARAGRAPH_GAP_PT: f32 = 6.0;
const TITLE_FONT_SIZE_PT: f32 = 18.0;
/// From the title's baseline to the first body baseline.
const TITLE_GAP_PT: f32 = 28.0;

const REGULAR_FONT: Name<'static> = Name(b"F1");
const BOLD_FONT: Name<'static> = Name(b"F2");

/// What replaces a character WinAnsi cannot encode.
const REPLACEMENT: u8 = b'?';

/// Renders the transcript as a PDF on A4 pages with 50 pt margins: a "Transcript" title in
/// Helvetica-Bold, then one paragraph per segment with text in 11 pt Helvetica, prefixed by
/// `[HH:MM:SS] ` and, when `include_speakers` and the segment has a speaker, `SPEAKER_00: `.
/// A transcript without segments renders its text as one paragraph. Paragraphs wrap to the page
/// width and continue on new pages as needed.
///
/// Only WinAnsi (Windows-1252) characters can be shown with the standard fonts: others become
/// `?`, and control characters are dropped. Content streams are left uncompressed.
///
/// # Errors
/// [`ExportError::InvalidOption`] for options out of range (validated as for every format).
pub fn render_pdf(
    transcript: &Transcript,
    options: &ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    options.validate()?;
    let paragraphs: Vec<Vec<u8>> = document_paragraphs(transcript, options)
        .iter()
        .map(|paragraph| encode_win_ansi(&paragraph.plain_text()))
        .collect();
    Ok(write_pdf(&lay_out(&paragraphs)))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Font {
    Regular,
    Bold,
}

/// One line of text placed on a page; `bytes` are WinAnsi-encoded.
#[derive(Debug, Clone, PartialEq)]
struct PlacedLine {
    font: Font,
    size_pt: f32,
    baseline_pt: f32,
    bytes: Vec<u8>,
}

/// Places the title and the wrapped paragraphs on as many pages as they need (at least one).
fn lay_out(paragraphs: &[Vec<u8>]) -> Vec<Vec<PlacedLine>> {
    let top_pt = PAGE_HEIGHT_PT - MARGIN_PT;
    let title_baseline_pt = top_pt - TITLE_FONT_SIZE_PT;
    let mut pages = vec![vec![PlacedLine {
        font: Font::Bold,
        size_pt: TITLE_FONT_SIZE_PT,
        baseline_pt: title_baseline_pt,
        bytes: DOCUMENT_TITLE.as_bytes().to_vec(),
    }]];
    let mut baseline_pt = title_baseline_pt - TITLE_GAP_PT;
    for paragraph in paragraphs {
        for line in wrap(paragraph, TEXT_WIDTH_PT, BODY_FONT_SIZE_PT) {
            if baseline_pt < MARGIN_PT {
                pages.push(Vec::new());
                baseline_pt = top_pt - BODY_FONT_SIZE_PT;
            }
            if let Some(page) = pages.last_mut() {
                page.push(PlacedLine {
                    font: Font::Regular,
                    size_pt: BODY_FONT_SIZE_PT,
                    baseline_pt,
                    bytes: line,
                });
            }
            baseline_pt -= LINE_HEIGHT_PT;
        }
        baseline_pt -= PARAGRAPH_GAP_PT;
    }
    pages
}

fn write_pdf(pages: &[Vec<PlacedLine>]) -> Vec<u8> {
    let mut next_id = Ref::new(1);
    let catalog_id = next_id.bump();
    let page_tree_id = next_id.bump();
    let regular_font_id = next_id.bump();
    let bold_font_id = next_id.bump();
    let info_id = next_id.bump();
    let page_ids: Vec<(Ref, Ref)> = pages
        .iter()
        .map(|_| (next_id.bump(), next_id.bump()))
        .collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(page_tree_id);
    pdf.pages(page_tree_id)
        .kids(page_ids.iter().map(|(page_id, _)| *page_id))
        .count(i32::try_from(page_ids.len()).unwrap_or(i32::MAX));
    pdf.document_info(info_id)
        .title(TextStr(DOCUMENT_TITLE))
        .producer(TextStr("Dalston"));
    for (font_id, base_font) in [
        (regular_font_id, Name(b"Helvetica")),
        (bold_font_id, Name(b"Helvetica-Bold")),
    ] {
        pdf.type1_font(font_id)
            .base_font(base_font)
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }

    for (lines, (page_id, content_id)) in pages.iter().zip(&page_ids) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH_PT, PAGE_HEIGHT_PT))
            .parent(page_tree_id)
            .contents(*content_id);
        page.resources()
            .fonts()
            .pair(REGULAR_FONT, regular_font_id)
            .pair(BOLD_FONT, bold_font_id);
        page.finish();

        let mut content = Content::new();
        for line in lines {
            let font = match line.font {
                Font::Regular => REGULAR_FONT,
                Font::Bold => BOLD_FONT,
            };
            content
                .begin_text()
                .set_font(font, line.size_pt)
                .next_line(MARGIN_PT, line.baseline_pt)
                .show(Str(&line.bytes))
                .end_text();
        }
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}

/// Splits WinAnsi text into lines no wider than `max_width_pt` at `font_size_pt`, breaking at
/// spaces; a word wider than a whole line is broken between characters.
fn wrap(text: &[u8], max_width_pt: f32, font_size_pt: f32) -> Vec<Vec<u8>> {
    let width_pt = |bytes: &[u8]| text_width_units(bytes) as f32 * font_size_pt / 1000.0;
    let space_pt = width_pt(b" ");
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut line_width_pt = 0.0;
    for word in text
        .split(|&byte| byte == b' ')
        .filter(|word| !word.is_empty())
    {
        let word_width_pt = width_pt(word);
        if !line.is_empty() && line_width_pt + space_pt + word_width_pt <= max_width_pt {
            line.push(b' ');
            line.extend_from_slice(word);
            line_width_pt += space_pt + word_width_pt;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        line_width_pt = 0.0;
        for &byte in word {
            let byte_width_pt = width_pt(&[byte]);
            if !line.is_empty() && line_width_pt + byte_width_pt > max_width_pt {
                lines.push(std::mem::take(&mut line));
                line_width_pt = 0.0;
            }
            line.push(byte);
            line_width_pt += byte_width_pt;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Width in thousandths of the font size (the AFM unit).
fn text_width_units(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .map(|&byte| u32::from(helvetica_width(byte)))
        .sum()
}

/// Helvetica's advance widths from Adobe's AFM (`Helvetica.afm`, 1997) for printable ASCII as
/// WinAnsi maps it, indexed from `b' '`.
const HELVETICA_ASCII_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
    278, // space to /
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 to ?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ to O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P to _
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` to o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p to ~
];

/// The width of one WinAnsi byte. Outside ASCII, the widest glyphs are listed and the rest take
/// 556 (a typical letter), close enough for wrapping within the 50 pt margin.
fn helvetica_width(byte: u8) -> u16 {
    match byte {
        b' '..=b'~' => HELVETICA_ASCII_WIDTHS[usize::from(byte - b' ')],
        // Ellipsis, per mille, OE, em dash, trade mark, AE.
        0x85 | 0x89 | 0x8C | 0x97 | 0x99 | 0xC6 => 1000,
        // oe, ae.
        0x9C => 944,
        0xE6 => 889,
        // Capital letters with diacritics (À to ß), mostly 667 to 778 wide.
        0xC0..=0xDF => 778,
        _ => 556,
    }
}

/// Encodes text for a standard font's WinAnsiEncoding: Latin-1 maps to itself, the typographic
/// characters Windows-1252 adds in 0x80–0x9F (curly quotes, dashes, ellipsis, euro, …) to their
/// codes, control characters are dropped and everything else becomes [`REPLACEMENT`].
fn encode_win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            ' '..='~' | '\u{A0}'..='\u{FF}' => u8::try_from(u32::from(c)).unwrap_or(REPLACEMENT),
            other => windows_1252_extra(other).unwrap_or(REPLACEMENT),
        })
        .collect()
}

/// The Windows-1252 code of a character in its 0x80–0x9F block.
fn windows_1252_extra(c: char) -> Option<u8> {
    let byte = match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    };
    Some(byte)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::fixtures::two_speakers;

    fn render(transcript: &Transcript, options: &ExportOptions) -> String {
        let bytes = render_pdf(transcript, options).expect("pdf");
        // Lossy is fine: the structure and the ASCII text are what the tests read.
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn page_count(pdf: &str) -> usize {
        pdf.matches("/Type /Page\n").count()
    }

    fn long_transcript(segment_count: usize) -> Transcript {
        let mut transcript = two_speakers();
        let template = transcript.segments[0].clone();
        transcript.segments = (0..segment_count)
            .map(|index| {
                let mut segment = template.clone();
                segment.id = Transcript::segment_id(index);
                segment.start_secs = index as f64 * 5.0;
                segment.end_secs = segment.start_secs + 5.0;
                segment.text = format!("Segment number {index} says something worth reading.");
                segment
            })
            .collect();
        transcript
    }

    #[test]
    fn document_is_a_complete_pdf_with_title_times_speakers_and_text() {
        let pdf = render(&two_speakers(), &ExportOptions::default());
        assert!(pdf.starts_with("%PDF-"), "{pdf}");
        assert!(pdf.trim_end().ends_with("%%EOF"), "{pdf}");
        assert!(pdf.contains("/BaseFont /Helvetica\n"), "{pdf}");
        assert!(pdf.contains("/Encoding /WinAnsiEncoding"), "{pdf}");
        assert!(pdf.contains("/F2 18 Tf"), "{pdf}");
        assert!(pdf.contains("(Transcript) Tj"), "{pdf}");
        assert!(
            pdf.contains("([00:00:00] SPEAKER_00: Hello there, how are you doing today?) Tj"),
            "{pdf}"
        );
        assert!(
            pdf.contains("([00:00:04] SPEAKER_01: And you?) Tj"),
            "{pdf}"
        );
        assert_eq!(page_count(&pdf), 1);
    }

    #[test]
    fn speakers_are_left_out_when_not_asked_for() {
        let options = ExportOptions {
            include_speakers: false,
            ..ExportOptions::default()
        };
        let pdf = render(&two_speakers(), &options);
        assert!(!pdf.contains("SPEAKER_"), "{pdf}");
        assert!(pdf.contains("([00:00:02] Fine, thanks.) Tj"), "{pdf}");
    }

    #[test]
    fn text_without_segments_is_one_unprefixed_paragraph() {
        let mut transcript = two_speakers();
        transcript.segments.clear();
        let pdf = render(&transcript, &ExportOptions::default());
        assert!(
            pdf.contains("(Hello there, how are you doing today? Fine, thanks. And you?) Tj"),
            "{pdf}"
        );
    }

    #[test]
    fn empty_transcript_is_a_title_page() {
        let mut transcript = two_speakers();
        transcript.segments.clear();
        transcript.text.clear();
        let pdf = render(&transcript, &ExportOptions::default());
        assert!(pdf.contains("(Transcript) Tj"));
        assert_eq!(pdf.matches(" Tj").count(), 1);
        assert_eq!(page_count(&pdf), 1);
    }

    #[test]
    fn long_transcript_continues_on_new_pages() {
        let pdf = render(&long_transcript(200), &ExportOptions::default());
        let pages = page_count(&pdf);
        assert!(pages > 1, "{pages} pages");
        assert!(pdf.contains(&format!("/Count {pages}")), "{pdf}");
        assert!(pdf.contains(
            "([00:16:35] SPEAKER_00: Segment number 199 says something worth reading.) Tj"
        ));
        assert!(pdf.trim_end().ends_with("%%EOF"));
    }

    #[test]
    fn pages_keep_every_line_inside_the_margins() {
        let mut transcript = long_transcript(150);
        transcript.segments[3].text = "word ".repeat(400) + &"x".repeat(300);
        let paragraphs: Vec<Vec<u8>> = document_paragraphs(&transcript, &ExportOptions::default())
            .iter()
            .map(|paragraph| encode_win_ansi(&paragraph.plain_text()))
            .collect();
        let pages = lay_out(&paragraphs);
        assert!(pages.len() > 1);
        for line in pages.iter().flatten() {
            assert!(line.baseline_pt >= MARGIN_PT, "{line:?}");
            assert!(
                line.baseline_pt <= PAGE_HEIGHT_PT - MARGIN_PT - line.size_pt,
                "{line:?}"
            );
            let width_pt = text_width_units(&line.bytes) as f32 * line.size_pt / 1000.0;
            assert!(width_pt <= TEXT_WIDTH_PT, "{width_pt} pt: {line:?}");
        }
        let words = |bytes: &[u8]| {
            bytes
                .split(|&byte| byte == b' ')
                .filter(|word| !word.is_empty())
                .count()
        };
        let placed_words: usize = pages.iter().flatten().map(|line| words(&line.bytes)).sum();
        let paragraph_words: usize = paragraphs.iter().map(|paragraph| words(paragraph)).sum();
        // The title is one word; the 300-character word is broken across lines.
        assert!(
            placed_words > paragraph_words,
            "{placed_words} vs {paragraph_words}"
        );
    }

    #[test]
    fn wrap_breaks_at_spaces_within_the_width() {
        let lines = wrap(b"aaaa bbbb cccc", 60.0, 10.0);
        // Each word is 22.24 pt and a space 2.78 pt at 10 pt, so two words fit in 60 pt.
        assert_eq!(lines, vec![b"aaaa bbbb".to_vec(), b"cccc".to_vec()]);
        assert_eq!(wrap(b"", 60.0, 10.0), Vec::<Vec<u8>>::new());
        assert_eq!(
            wrap(b"mmmmmmmmmm", 30.0, 10.0),
            vec![
                b"mmm".to_vec(),
                b"mmm".to_vec(),
                b"mmm".to_vec(),
                b"m".to_vec()
            ]
        );
    }

    #[test]
    fn characters_outside_win_ansi_are_replaced() {
        assert_eq!(
            encode_win_ansi("Grüße “quoted” — 日本 €5…\u{7}"),
            b"Gr\xFC\xDFe \x93quoted\x94 \x97 ?? \x805\x85".to_vec()
        );
        let mut transcript = two_speakers();
        transcript.segments[0].text = "Привет (world)".into();
        let pdf = render(&transcript, &ExportOptions::default());
        assert!(pdf.contains("SPEAKER_00: ?????? (world)) Tj"), "{pdf}");
    }

    #[test]
    fn same_transcript_renders_the_same_bytes() {
        let options = ExportOptions::default();
        assert_eq!(
            render_pdf(&two_speakers(), &options).ok(),
            render_pdf(&two_speakers(), &options).ok()
        );
    }

    #[test]
    fn invalid_options_are_rejected() {
        let options = ExportOptions {
            max_line_length: 5,
            ..ExportOptions::default()
        };
        assert!(matches!(
            render_pdf(&two_speakers(), &options),
            Err(ExportError::InvalidOption {
                name: "max_line_length",
                ..
            })
        ));
    }
}
