//! Audio decoding for Dalston: any supported file in, 16 kHz mono `f32` samples out.
//!
//! This crate owns turning uploaded bytes into what every model consumes: it probes and decodes
//! with symphonia in-process (wav, flac, mp3, ogg/vorbis, m4a/aac, mkv), falls back to an
//! `ffmpeg` binary on `PATH` for everything else (opus, webm, video containers) unless told not
//! to, downmixes by averaging channels (or keeps the one asked for) and resamples with rubato. Decoding streams: blocks go to
//! a [`SampleSink`] as they are decoded ([`decode_file_to`]), so a long file never has to be in
//! memory whole ([`decode_file`] is the collect-everything convenience). It also writes
//! (incrementally) and reads (by range) the 16-bit PCM WAV "prepared audio" artifact and says
//! whether a signal is silent. It must never panic or hang on hostile input, never touch the
//! network, and never know about jobs, stores or models. Everything here is synchronous and
//! CPU-bound: async callers run the decoders inside `spawn_blocking`.

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
mod sink;
mod sniff;
mod wav;

pub use decode::{decode_file, decode_file_to, probe_file};
pub use decoded::{AudioInfo, DecodedAudio};
pub use error::AudioError;
pub use options::{DecodeOptions, FfmpegPolicy};
pub use resample::{StreamResampler, resample_mono};
pub use silence::{SILENCE_PEAK_THRESHOLD, is_silent};
pub use sink::{SampleCounter, SampleSink};
pub use wav::{WavReader, WavWriter, decode_wav_pcm16, encode_wav_pcm16, wav_pcm16_header};

/// Sample rate every model in Dalston consumes.
pub const TARGET_SAMPLE_RATE_HZ: u32 = 16_000;
