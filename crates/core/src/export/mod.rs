//! Exports of the canonical transcript (SRT, VTT, TXT, JSON, HTML, DOCX, PDF, ElevenLabs'
//! segmented JSON): pure functions.
//!
//! Every export is a function of the stored [`Transcript`] and the caller's [`ExportOptions`], so
//! the gateway, the CLI and the realtime session export all render the same bytes. Subtitle
//! formats share one cue builder (`cue.rs`) that wraps text and splits long segments; each format
//! file only decides how a cue is written.

mod cue;
mod docx;
mod elevenlabs;
mod format;
mod html;
mod json;
mod options;
mod pdf;
mod resegment;
#[cfg(test)]
mod snapshot_tests;
mod srt;
mod timestamp;
mod txt;
mod vtt;

pub use docx::render_docx;
pub use elevenlabs::{
    Character, SegmentedJsonOptions, WordEntry, WordKind, WordListOptions, render_segmented_json,
    speaker_id as elevenlabs_speaker_id, word_list as elevenlabs_word_list,
};
pub use format::{ExportFormat, UnknownExportFormat};
pub use html::render_html;
pub use json::render_json;
pub use options::ExportOptions;
pub use pdf::render_pdf;
pub use resegment::{SegmentLimits, resegment};
pub use srt::render_srt;
pub use txt::{PARAGRAPH_PAUSE_SECS, render_txt};
pub use vtt::render_vtt;

use crate::transcript::Transcript;

/// Why a transcript could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// An option is outside the range the renderers accept (a client error).
    #[error("{name} must be between {min} and {max}, got {value}")]
    InvalidOption {
        name: &'static str,
        value: usize,
        min: usize,
        max: usize,
    },
    /// Subtitles were asked for but the transcript has no usable segment timings (a client error:
    /// the job was run without timestamps).
    #[error("subtitle export needs segment timestamps, but this transcript has none")]
    NoTimestamps,
    /// The transcript could not be serialised (a server error; not expected in practice).
    #[error("failed to serialise the transcript as JSON")]
    Json(#[source] serde_json::Error),
    /// The DOCX package could not be zipped (a server error; not expected in practice, since it
    /// is written to memory).
    #[error("failed to write the DOCX package")]
    Docx(#[source] zip::result::ZipError),
}

/// Renders `transcript` in `format`.
///
/// Options are validated for every format, even those that ignore the line limits, so a bad
/// request is rejected the same way whichever format it names.
///
/// # Errors
/// [`ExportError::InvalidOption`] for options out of range, [`ExportError::NoTimestamps`] for
/// subtitles of an untimed transcript, [`ExportError::Json`] if serialisation fails.
pub fn render(
    transcript: &Transcript,
    format: ExportFormat,
    options: &ExportOptions,
) -> Result<String, ExportError> {
    options.validate()?;
    match format {
        ExportFormat::Srt => render_srt(transcript, options),
        ExportFormat::Vtt => render_vtt(transcript, options),
        ExportFormat::Txt => Ok(render_txt(transcript, options)),
        ExportFormat::Json => render_json(transcript),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::fixtures::two_speakers;

    #[test]
    fn render_dispatches_to_each_format() {
        let transcript = two_speakers();
        let options = ExportOptions::default();
        for format in ExportFormat::ALL {
            let rendered = render(&transcript, format, &options);
            assert!(rendered.is_ok(), "{format} failed: {rendered:?}");
        }
        let srt = render(&transcript, ExportFormat::Srt, &options).ok();
        assert_eq!(srt, render_srt(&transcript, &options).ok());
        let txt = render(&transcript, ExportFormat::Txt, &options).ok();
        assert_eq!(txt, Some(render_txt(&transcript, &options)));
    }

    #[test]
    fn render_rejects_invalid_options_for_every_format() {
        let transcript = two_speakers();
        let options = ExportOptions {
            max_lines: 0,
            ..ExportOptions::default()
        };
        for format in ExportFormat::ALL {
            let rendered = render(&transcript, format, &options);
            assert!(
                matches!(
                    rendered,
                    Err(ExportError::InvalidOption {
                        name: "max_lines",
                        ..
                    })
                ),
                "{format}: {rendered:?}"
            );
        }
    }

    #[test]
    fn error_messages_are_readable() {
        let error = ExportError::InvalidOption {
            name: "max_line_length",
            value: 5,
            min: 10,
            max: 200,
        };
        assert_eq!(
            error.to_string(),
            "max_line_length must be between 10 and 200, got 5"
        );
    }
}
