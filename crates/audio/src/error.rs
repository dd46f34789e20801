//! The crate's error type.

/// Why audio could not be decoded, encoded or resampled.
///
/// Each variant has a stable machine-readable [`code`](AudioError::code) that the server puts in
/// API error bodies.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The input holds zero bytes, or a recognised container holds no audio frames.
    #[error("failed to find any audio: the input is empty or holds no audio frames")]
    Empty,
    /// The input is not an audio (or video) format that symphonia or ffmpeg can read.
    #[error("failed to read the input as audio: {detail}")]
    Unsupported {
        /// What was tried and, where it helps, what to do about it (e.g. install ffmpeg).
        detail: String,
    },
    /// The format was recognised but its audio could not be decoded (truncated or damaged data).
    #[error("failed to decode the audio stream: {detail}")]
    Corrupt {
        /// Which step failed and the decoder's own message.
        detail: String,
    },
    /// The audio is longer than [`DecodeOptions::max_duration_secs`](crate::DecodeOptions).
    #[error("refused audio lasting {duration_secs:.1} s: the limit is {max_secs:.1} s")]
    TooLong {
        /// The duration the container declares or, when decoding stopped at the limit, the
        /// length decoded so far (then a lower bound).
        duration_secs: f64,
        /// The limit that was exceeded.
        max_secs: f64,
    },
    /// Reading the input (or talking to the ffmpeg process) failed.
    #[error("failed to read audio input")]
    Io(#[source] std::io::Error),
    /// The resampler could not be built or failed while running.
    #[error("failed to resample audio: {detail}")]
    Resample {
        /// The resampler's own message.
        detail: String,
    },
    /// The [`SampleSink`](crate::SampleSink) the audio was decoded into failed.
    #[error("failed to process the decoded audio: {detail}")]
    Sink {
        /// The sink's own message.
        detail: String,
    },
}

impl AudioError {
    /// A stable machine-readable code for API responses and logs.
    pub fn code(&self) -> &'static str {
        match self {
            AudioError::Empty => "empty_audio",
            AudioError::Unsupported { .. } => "unsupported_audio",
            AudioError::Corrupt { .. } => "corrupt_audio",
            AudioError::TooLong { .. } => "audio_too_long",
            AudioError::Io(_) => "io_error",
            AudioError::Resample { .. } => "resample_error",
            AudioError::Sink { .. } => "sink_error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AudioError;

    #[test]
    fn codes_are_stable() {
        let cases = [
            (AudioError::Empty, "empty_audio"),
            (
                AudioError::Unsupported {
                    detail: String::new(),
                },
                "unsupported_audio",
            ),
            (
                AudioError::Corrupt {
                    detail: String::new(),
                },
                "corrupt_audio",
            ),
            (
                AudioError::TooLong {
                    duration_secs: 2.0,
                    max_secs: 1.0,
                },
                "audio_too_long",
            ),
            (AudioError::Io(std::io::Error::other("x")), "io_error"),
            (
                AudioError::Resample {
                    detail: String::new(),
                },
                "resample_error",
            ),
            (
                AudioError::Sink {
                    detail: String::new(),
                },
                "sink_error",
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error}");
        }
    }

    #[test]
    fn too_long_message_names_both_durations() {
        let error = AudioError::TooLong {
            duration_secs: 7261.04,
            max_secs: 3600.0,
        };
        assert_eq!(
            error.to_string(),
            "refused audio lasting 7261.0 s: the limit is 3600.0 s"
        );
    }
}
