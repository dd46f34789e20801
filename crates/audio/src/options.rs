//! How [`decode_file`](crate::decode_file) may treat its input.

/// Limits and fallbacks for [`decode_file`](crate::decode_file).
///
/// The default accepts any length and falls back to ffmpeg when it is installed.
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Reject input longer than this with [`AudioError::TooLong`](crate::AudioError::TooLong).
    ///
    /// The container's declared length is checked before decoding when it is known, and decoding
    /// also stops as soon as the decoded audio passes the limit, so a file that lies about its
    /// length cannot make the decoder use unbounded memory.
    pub max_duration_secs: Option<f64>,
    /// Whether to fall back to an `ffmpeg` binary for formats symphonia cannot decode.
    pub ffmpeg: FfmpegPolicy,
    /// Keep only this channel (0-based) instead of averaging them all: per-channel
    /// transcription decodes a file once per channel. A channel the audio lacks decodes as
    /// silence.
    pub channel: Option<u16>,
}

/// Whether [`decode_file`](crate::decode_file) may run `ffmpeg` and `ffprobe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FfmpegPolicy {
    /// Use `ffmpeg`/`ffprobe` from `PATH` for input symphonia cannot probe or decode (opus,
    /// webm, video containers, AAC-HE, …); when they are not installed, report the input as
    /// unsupported with a hint to install them.
    #[default]
    Auto,
    /// Decode with symphonia only.
    Never,
}
