//! Audio decoding for Dalston: any supported file in, 16 kHz mono `f32` samples out.
//!
//! This crate owns turning uploaded bytes into what every model consumes: it probes and decodes
//! with symphonia in-process (wav, flac, mp3, ogg/vorbis, m4a/aac, mkv), falls back to an
//! `ffmpeg` binary on `PATH` for everything else (opus, webm, video containers) unless told not
//! to, downmixes by averaging channels and resamples with rubato. It also writes and reads the
//! 16-bit PCM WAV "prepared audio" artifact and says whether a signal is silent. It must never
//! panic or hang on hostile input, never touch the network, and never know about jobs, stores
//! or models. Everything here is synchronous and CPU-bound: async callers run
//! [`decode_file`] inside `spawn_blocking`.

mod decode;
mod decoded;
mod error;
mod ffmpeg;
mod limit;
mod mono;
mod native;
mod options;
mod resample;
mod silence;
mod sniff;
mod wav;

pub use decode::decode_file;
pub use decoded::{AudioInfo, DecodedAudio};
pub use error::AudioError;
pub use options::{DecodeOptions, FfmpegPolicy};
pub use resample::resample_mono;
pub use silence::{SILENCE_PEAK_THRESHOLD, is_silent};
pub use wav::{decode_wav_pcm16, encode_wav_pcm16};

/// Sample rate every model in Dalston consumes.
pub const TARGET_SAMPLE_RATE_HZ: u32 = 16_000;
