//! The caller's choices for an export: speaker labels and subtitle line limits.

use std::ops::RangeInclusive;

use super::ExportError;

/// How an export is laid out. Subtitle formats use every field; TXT uses only
/// `include_speakers`; JSON uses none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// Label each cue or paragraph with its speaker when the transcript has speakers.
    pub include_speakers: bool,
    /// Characters per subtitle line; text wraps at word boundaries to stay within it.
    pub max_line_length: usize,
    /// Lines per subtitle cue; a segment needing more lines becomes several cues.
    pub max_lines: usize,
}

impl ExportOptions {
    /// 42 characters is the common broadcast subtitle guideline (Netflix, BBC).
    pub const DEFAULT_MAX_LINE_LENGTH: usize = 42;
    pub const DEFAULT_MAX_LINES: usize = 2;
    pub const MAX_LINE_LENGTH_RANGE: RangeInclusive<usize> = 10..=200;
    pub const MAX_LINES_RANGE: RangeInclusive<usize> = 1..=10;

    /// Checks the limits are in the ranges the API documents.
    ///
    /// # Errors
    /// [`ExportError::InvalidOption`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), ExportError> {
        check(
            "max_line_length",
            self.max_line_length,
            Self::MAX_LINE_LENGTH_RANGE,
        )?;
        check("max_lines", self.max_lines, Self::MAX_LINES_RANGE)
    }
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            include_speakers: true,
            max_line_length: Self::DEFAULT_MAX_LINE_LENGTH,
            max_lines: Self::DEFAULT_MAX_LINES,
        }
    }
}

fn check(
    name: &'static str,
    value: usize,
    range: RangeInclusive<usize>,
) -> Result<(), ExportError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ExportError::InvalidOption {
            name,
            value,
            min: *range.start(),
            max: *range.end(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let options = ExportOptions::default();
        assert!(options.include_speakers);
        assert_eq!(options.max_line_length, 42);
        assert_eq!(options.max_lines, 2);
        assert!(options.validate().is_ok());
    }

    #[test]
    fn range_bounds_are_inclusive() {
        for (max_line_length, max_lines) in [(10, 1), (200, 10)] {
            let options = ExportOptions {
                include_speakers: false,
                max_line_length,
                max_lines,
            };
            assert!(options.validate().is_ok(), "{options:?}");
        }
    }

    #[test]
    fn out_of_range_values_are_rejected_by_name() {
        let cases = [
            (9, 2, "max_line_length", 9),
            (201, 2, "max_line_length", 201),
            (42, 0, "max_lines", 0),
            (42, 11, "max_lines", 11),
        ];
        for (max_line_length, max_lines, expected_name, expected_value) in cases {
            let options = ExportOptions {
                include_speakers: true,
                max_line_length,
                max_lines,
            };
            let result = options.validate();
            assert!(
                matches!(result, Err(ExportError::InvalidOption { name, value, .. }) if name == expected_name && value == expected_value),
                "{options:?}: {result:?}"
            );
        }
    }
}
