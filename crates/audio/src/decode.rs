//! [`decode_file`]: symphonia first, ffmpeg when symphonia cannot handle the input.

use std::fs::File;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Instant;

use tracing::{debug, info};

use crate::ffmpeg::{FfmpegFailure, decode_with_ffmpeg};
use crate::native::{NativeFailure, decode_with_symphonia};
use crate::sniff::{SNIFF_LEN, header_is_media, looks_like_media};
use crate::{
    AudioError, AudioInfo, DecodeOptions, DecodedAudio, FfmpegPolicy, SampleCounter, SampleSink,
};

/// Decode any supported file to 16 kHz mono `f32`, all in memory: [`decode_file_to`] into a
/// `Vec`. See there for the rules and errors.
///
/// # Errors
/// As [`decode_file_to`].
pub fn decode_file(path: &Path, options: &DecodeOptions) -> Result<DecodedAudio, AudioError> {
    let mut samples = Vec::new();
    let info = decode_file_to(path, options, &mut samples)?;
    Ok(DecodedAudio { samples, info })
}

/// Decode a whole file and keep nothing: whether it is audio Dalston can read, and how long it
/// is, in the memory of one decoded block. [`decode_file_to`] into a [`SampleCounter`].
///
/// # Errors
/// As [`decode_file_to`].
pub fn probe_file(path: &Path, options: &DecodeOptions) -> Result<AudioInfo, AudioError> {
    decode_file_to(path, options, &mut SampleCounter::default())
}

/// Decode any supported file to 16 kHz mono `f32` blocks, handed to `sink` as they are
/// decoded.
///
/// Channels are downmixed by averaging; other rates are resampled to
/// [`TARGET_SAMPLE_RATE_HZ`](crate::TARGET_SAMPLE_RATE_HZ) with rubato's FFT resampler. symphonia
/// decodes in-process; with [`FfmpegPolicy::Auto`] an `ffmpeg` on `PATH` handles what symphonia
/// cannot probe or decode, and gets a second try at a stream symphonia found corrupt.
///
/// A truncated file yields the audio before the cut; a few undecodable packets are skipped. The
/// call is synchronous and CPU-bound: well under 1 % of real time on one core (ten minutes of
/// 44.1 kHz stereo MP3 take about 1.2 s in a dev build).
///
/// # Errors
///
/// - [`AudioError::Empty`]: zero bytes, or no audio frames.
/// - [`AudioError::Unsupported`]: not audio, or a format only ffmpeg reads while ffmpeg is
///   missing or disabled (the message says which).
/// - [`AudioError::Corrupt`]: a recognised format whose audio cannot be decoded.
/// - [`AudioError::TooLong`]: longer than [`DecodeOptions::max_duration_secs`].
/// - [`AudioError::Io`]: the file cannot be read.
/// - [`AudioError::Resample`]: the resampler failed.
/// - whatever error `sink` returns, which stops decoding.
pub fn decode_file_to(
    path: &Path,
    options: &DecodeOptions,
    sink: &mut dyn SampleSink,
) -> Result<AudioInfo, AudioError> {
    let started = Instant::now();
    let header = read_header(path)?;
    if header.is_empty() {
        return Err(AudioError::Empty);
    }
    // symphonia is pure safe Rust, but a decoder bug on hostile input surfaces as a panic (an
    // index out of bounds); one bad upload must not take down the worker, so it becomes
    // `Corrupt`. The closure owns all its state, so nothing half-updated is observed afterwards.
    let native = catch_unwind(AssertUnwindSafe(|| {
        decode_with_symphonia(path, options, &mut *sink)
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(NativeFailure::Failed(AudioError::Corrupt {
            detail: format!("the symphonia decoder crashed on this input: {message}"),
        }))
    });
    let decoded = match native {
        Ok(decoded) => Ok(decoded),
        Err(NativeFailure::NotHandled { detail }) => {
            decode_with_fallback(path, options, &header, &detail, None, sink)
        }
        Err(NativeFailure::Failed(error @ AudioError::Corrupt { .. })) => {
            let detail = error.to_string();
            decode_with_fallback(path, options, &header, &detail, Some(error), sink)
        }
        Err(NativeFailure::Failed(error)) => Err(error),
    }?;
    debug!(
        format = %decoded.format,
        duration_secs = decoded.duration_secs,
        elapsed_ms = started.elapsed().as_millis(),
        "decoded audio file"
    );
    Ok(decoded)
}

/// Try ffmpeg after symphonia failed with `symphonia_detail`. `symphonia_error` is what to
/// return when ffmpeg does no better; `None` means symphonia could not take the input at all.
/// `sink` is restarted first: symphonia may have fed it part of the stream.
fn decode_with_fallback(
    path: &Path,
    options: &DecodeOptions,
    header: &[u8],
    symphonia_detail: &str,
    symphonia_error: Option<AudioError>,
    sink: &mut dyn SampleSink,
) -> Result<AudioInfo, AudioError> {
    let unsupported = |remedy: &str| AudioError::Unsupported {
        detail: if looks_like_media(path, header) {
            format!("audio or video that symphonia cannot decode ({symphonia_detail}); {remedy}")
        } else {
            format!("not a recognised audio format ({symphonia_detail})")
        },
    };
    if options.ffmpeg == FfmpegPolicy::Never {
        return Err(
            symphonia_error.unwrap_or_else(|| unsupported("the ffmpeg fallback is disabled"))
        );
    }
    sink.restart()?;
    let failure = match decode_with_ffmpeg(path, options, sink) {
        Ok(decoded) => {
            info!(
                format = %decoded.format,
                symphonia_error = symphonia_detail,
                "decoded audio with the ffmpeg fallback"
            );
            return Ok(decoded);
        }
        Err(failure) => failure,
    };
    Err(match (symphonia_error, failure) {
        // The limit and read errors stand whichever decoder found them.
        (_, FfmpegFailure::Failed(error @ (AudioError::TooLong { .. } | AudioError::Io(_)))) => {
            error
        }
        (Some(symphonia_error), _) => symphonia_error,
        (None, FfmpegFailure::NotInstalled) => {
            unsupported("install ffmpeg (with ffprobe) on the server to decode it")
        }
        // A container signature that neither decoder can open is most likely a file cut short
        // before its index (an MP4 without its `moov` box) or otherwise damaged.
        (None, FfmpegFailure::Unreadable { detail }) if header_is_media(header) => {
            AudioError::Corrupt {
                detail: format!(
                    "the file starts like audio or video but neither symphonia \
                     ({symphonia_detail}) nor ffmpeg ({detail}) can read it"
                ),
            }
        }
        (None, FfmpegFailure::Unreadable { detail }) => AudioError::Unsupported {
            detail: format!(
                "neither symphonia ({symphonia_detail}) nor ffmpeg ({detail}) can read it"
            ),
        },
        (None, FfmpegFailure::Failed(error)) => error,
    })
}

/// The file's first [`SNIFF_LEN`] bytes (fewer for a shorter file).
fn read_header(path: &Path) -> Result<Vec<u8>, AudioError> {
    let file = File::open(path).map_err(AudioError::Io)?;
    let mut header = Vec::with_capacity(SNIFF_LEN);
    file.take(SNIFF_LEN as u64)
        .read_to_end(&mut header)
        .map_err(AudioError::Io)?;
    Ok(header)
}
