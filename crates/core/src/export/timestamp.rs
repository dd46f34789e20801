//! Subtitle timestamps (`HH:MM:SS,mmm` for SRT, `HH:MM:SS.mmm` for VTT).

/// Seconds made safe to render: negative, NaN and infinite times become 0, since a model's
/// occasional bad timing must not produce an unparsable subtitle file.
pub(crate) fn clamp_secs(secs: f64) -> f64 {
    if secs.is_finite() && secs > 0.0 {
        secs
    } else {
        0.0
    }
}

/// Formats `secs` as `HH:MM:SS<separator>mmm`, rounded to the millisecond. Hours keep growing
/// past 99 (`100:00:00,000`) rather than wrapping.
pub(crate) fn format_timestamp(secs: f64, millis_separator: char) -> String {
    // The float-to-int cast saturates, so absurdly large times cannot panic.
    let total_millis = (clamp_secs(secs) * 1000.0).round() as u64;
    let millis = total_millis % 1000;
    let total_secs = total_millis / 1000;
    let seconds = total_secs % 60;
    let minutes = (total_secs / 60) % 60;
    let hours = total_secs / 3600;
    format!("{hours:02}:{minutes:02}:{seconds:02}{millis_separator}{millis:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_common_times() {
        assert_eq!(format_timestamp(0.0, ','), "00:00:00,000");
        assert_eq!(format_timestamp(2.5, ','), "00:00:02,500");
        assert_eq!(format_timestamp(59.999, '.'), "00:00:59.999");
        assert_eq!(format_timestamp(61.0, '.'), "00:01:01.000");
        assert_eq!(format_timestamp(3661.25, ','), "01:01:01,250");
    }

    #[test]
    fn rounds_to_the_nearest_millisecond_and_carries() {
        assert_eq!(format_timestamp(1.0004, ','), "00:00:01,000");
        assert_eq!(format_timestamp(1.0006, ','), "00:00:01,001");
        assert_eq!(format_timestamp(59.9996, ','), "00:01:00,000");
    }

    #[test]
    fn hours_past_ninety_nine_do_not_wrap() {
        assert_eq!(format_timestamp(100.0 * 3600.0, ','), "100:00:00,000");
        assert_eq!(
            format_timestamp(123.0 * 3600.0 + 45.0 * 60.0 + 6.789, '.'),
            "123:45:06.789"
        );
    }

    #[test]
    fn invalid_times_clamp_to_zero() {
        for secs in [-1.0, -0.0004, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(format_timestamp(secs, ','), "00:00:00,000", "{secs}");
        }
    }
}
