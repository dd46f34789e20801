//! The export formats a client can name, and how each is served.

use std::fmt;
use std::str::FromStr;

/// A transcript export format. Parsed from the `{format}` path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    Srt,
    Vtt,
    Txt,
    Json,
}

/// A format name that is not one of [`ExportFormat`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown export format {name:?}: expected one of srt, vtt (or webvtt), txt (or text), json"
)]
pub struct UnknownExportFormat {
    pub name: String,
}

impl ExportFormat {
    /// Every format, in the order they are documented.
    pub const ALL: [Self; 4] = [Self::Srt, Self::Vtt, Self::Txt, Self::Json];

    /// The canonical name, as used in URLs and file extensions.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Srt => "srt",
            Self::Vtt => "vtt",
            Self::Txt => "txt",
            Self::Json => "json",
        }
    }

    /// The `Content-Type` of a response carrying this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Srt => "application/x-subrip; charset=utf-8",
            Self::Vtt => "text/vtt; charset=utf-8",
            Self::Txt => "text/plain; charset=utf-8",
            Self::Json => "application/json",
        }
    }

    /// The file extension (without the dot) for a download of this format.
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    /// Whether the format needs segment timings (subtitles do; text and JSON do not).
    pub fn needs_timestamps(self) -> bool {
        matches!(self, Self::Srt | Self::Vtt)
    }
}

impl FromStr for ExportFormat {
    type Err = UnknownExportFormat;

    /// Accepts the canonical names and the aliases `webvtt` and `text`, in any ASCII case.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let known = [
            ("srt", Self::Srt),
            ("vtt", Self::Vtt),
            ("webvtt", Self::Vtt),
            ("txt", Self::Txt),
            ("text", Self::Txt),
            ("json", Self::Json),
        ];
        known
            .into_iter()
            .find(|(known_name, _)| known_name.eq_ignore_ascii_case(name))
            .map(|(_, format)| format)
            .ok_or_else(|| UnknownExportFormat {
                name: name.to_owned(),
            })
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_aliases() {
        let cases = [
            ("srt", ExportFormat::Srt),
            ("vtt", ExportFormat::Vtt),
            ("webvtt", ExportFormat::Vtt),
            ("txt", ExportFormat::Txt),
            ("text", ExportFormat::Txt),
            ("json", ExportFormat::Json),
            ("SRT", ExportFormat::Srt),
            ("WebVTT", ExportFormat::Vtt),
        ];
        for (name, expected) in cases {
            assert_eq!(name.parse::<ExportFormat>(), Ok(expected), "{name}");
        }
    }

    #[test]
    fn rejects_unknown_names_listing_the_accepted_ones() {
        for name in ["docx", "pdf", "", " srt", "srt "] {
            let error = name.parse::<ExportFormat>();
            assert_eq!(
                error,
                Err(UnknownExportFormat {
                    name: name.to_owned()
                })
            );
        }
        let message = "docx"
            .parse::<ExportFormat>()
            .err()
            .map(|error| error.to_string());
        assert_eq!(
            message.as_deref(),
            Some(
                "unknown export format \"docx\": expected one of srt, vtt (or webvtt), txt (or text), json"
            )
        );
    }

    #[test]
    fn canonical_name_round_trips() {
        for format in ExportFormat::ALL {
            assert_eq!(format.to_string().parse::<ExportFormat>(), Ok(format));
            assert_eq!(format.extension(), format.as_str());
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            ExportFormat::Srt.content_type(),
            "application/x-subrip; charset=utf-8"
        );
        assert_eq!(ExportFormat::Vtt.content_type(), "text/vtt; charset=utf-8");
        assert_eq!(
            ExportFormat::Txt.content_type(),
            "text/plain; charset=utf-8"
        );
        assert_eq!(ExportFormat::Json.content_type(), "application/json");
    }

    #[test]
    fn only_subtitles_need_timestamps() {
        let timed: Vec<_> = ExportFormat::ALL
            .into_iter()
            .filter(|format| format.needs_timestamps())
            .collect();
        assert_eq!(timed, [ExportFormat::Srt, ExportFormat::Vtt]);
    }
}
