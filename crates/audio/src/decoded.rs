//! The result of decoding: model-ready samples plus a description of the original input.

/// What the original input was, before downmixing and resampling.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    /// Length of the decoded audio in seconds (what was actually decoded, which for a truncated
    /// file is less than the container declares).
    pub duration_secs: f64,
    /// Channel count of the original stream.
    pub channels: u16,
    /// Sample rate of the original stream.
    pub sample_rate_hz: u32,
    /// Container and codec as a short lowercase name: `"wav/pcm_s16le"`, `"mp3"`, `"flac"`,
    /// `"ogg/vorbis"`, `"m4a/aac"`, `"mkv/vorbis"`; `"ffmpeg:<codec>"` when ffmpeg decoded it.
    pub format: String,
}

/// Audio ready for a model: 16 kHz mono samples and the description of the original.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// Mono samples at [`TARGET_SAMPLE_RATE_HZ`](crate::TARGET_SAMPLE_RATE_HZ), nominally in
    /// `[-1, 1]` (resampling can overshoot full-scale input slightly).
    pub samples: Vec<f32>,
    /// The original input's properties.
    pub info: AudioInfo,
}
