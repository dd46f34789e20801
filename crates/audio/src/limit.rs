//! Refusing over-long input up front, from the length its container declares.

use crate::AudioError;

/// Lowest bitrate real audio is stored at, in bits per second (speech codecs go down to about
/// 2.4 kbit/s). A declared length needing a lower bitrate than this to fit in the file is a
/// placeholder, such as the `0xFFFFFFFF` data size streaming WAV recorders write, not a length.
const MIN_PLAUSIBLE_BITRATE_BPS: f64 = 2_000.0;

/// Fail with [`AudioError::TooLong`] when the container's declared length is over the limit.
///
/// A declared length the file is too small to hold is ignored; decoding then enforces the limit
/// on the audio actually decoded.
pub(crate) fn check_declared_duration(
    declared_secs: Option<f64>,
    file_len_bytes: u64,
    max_duration_secs: Option<f64>,
) -> Result<(), AudioError> {
    let (Some(declared_secs), Some(max_secs)) = (declared_secs, max_duration_secs) else {
        return Ok(());
    };
    let plausible_max_secs = file_len_bytes as f64 * 8.0 / MIN_PLAUSIBLE_BITRATE_BPS;
    if declared_secs > max_secs && declared_secs <= plausible_max_secs {
        return Err(AudioError::TooLong {
            duration_secs: declared_secs,
            max_secs,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_declared_duration;

    #[test]
    fn declared_length_over_the_limit_is_refused() {
        // Two hours of 64 kbit/s audio.
        let error = check_declared_duration(Some(7_200.0), 57_600_000, Some(3_600.0)).unwrap_err();
        assert_eq!(error.code(), "audio_too_long");
        assert!(check_declared_duration(Some(1_800.0), 57_600_000, Some(3_600.0)).is_ok());
    }

    #[test]
    fn unknown_length_or_no_limit_passes() {
        assert!(check_declared_duration(None, 1_000, Some(1.0)).is_ok());
        assert!(check_declared_duration(Some(1e9), 1_000, None).is_ok());
    }

    #[test]
    fn placeholder_length_is_ignored() {
        // A 160 kB streaming WAV whose header claims 37 hours.
        assert!(check_declared_duration(Some(134_217.0), 160_044, Some(3_600.0)).is_ok());
    }
}
