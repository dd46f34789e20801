//! Deciding whether a signal has anything in it worth transcribing.

/// Peak level below which a signal counts as silent: -60 dBFS, i.e. `10^(-60/20)` of full scale.
/// Quieter than 16-bit dither on a real recording of a quiet room, far quieter than speech.
pub const SILENCE_PEAK_THRESHOLD: f32 = 0.001;

/// True when the signal has no audible content.
///
/// The rule: every sample's magnitude is below [`SILENCE_PEAK_THRESHOLD`] (-60 dBFS). An empty
/// signal is silent. Non-finite samples (NaN, infinities) count as content, so a broken signal is
/// never quietly skipped as silence.
pub fn is_silent(samples: &[f32]) -> bool {
    samples
        .iter()
        .all(|sample| sample.abs() < SILENCE_PEAK_THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::is_silent;

    #[test]
    fn empty_and_zero_signals_are_silent() {
        assert!(is_silent(&[]));
        assert!(is_silent(&[0.0; 16_000]));
    }

    #[test]
    fn signals_below_minus_60_dbfs_are_silent() {
        // -66 dBFS noise-like signal.
        let quiet: Vec<f32> = (0..16_000)
            .map(|index| 0.0005 * ((index as f32) * 0.37).sin())
            .collect();
        assert!(is_silent(&quiet));
    }

    #[test]
    fn audible_content_is_not_silent() {
        let mut signal = vec![0.0; 16_000];
        signal[8_000] = 0.01;
        assert!(!is_silent(&signal));
        assert!(!is_silent(&[0.0, -0.5, 0.0]));
    }

    #[test]
    fn non_finite_samples_are_not_silent() {
        assert!(!is_silent(&[0.0, f32::NAN]));
        assert!(!is_silent(&[f32::NEG_INFINITY]));
    }
}
