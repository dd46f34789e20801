//! In-process decoding with symphonia: wav, flac, mp3, ogg/vorbis, m4a/aac, mkv/webm with a
//! supported codec.

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, Track, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use tracing::{debug, warn};

use crate::limit::check_declared_duration;
use crate::mono::MonoSink;
use crate::{AudioError, AudioInfo, DecodeOptions, SampleSink};

/// Undecodable packets tolerated before a stream counts as corrupt, plus one per
/// [`DECODED_PACKETS_PER_EXTRA_SKIP`] packets decoded well. A damaged byte range in a long file
/// costs a few packets; a stream where most packets fail is not worth transcribing.
const MAX_SKIPPED_PACKETS: usize = 16;
const DECODED_PACKETS_PER_EXTRA_SKIP: usize = 20;
/// Longest stretch of silence stood in for one undecodable packet; a damaged packet can declare
/// any duration, and real audio packets last well under a second.
const MAX_LOST_PACKET_SECS: f64 = 1.0;
/// Track-list resets in a row (without a packet between them) after which a stream counts as
/// corrupt rather than being re-read forever.
const MAX_RESETS_IN_A_ROW: usize = 8;

/// Why symphonia did not return audio.
#[derive(Debug)]
pub(crate) enum NativeFailure {
    /// symphonia does not handle this input (no format recognised, no audio track, no decoder
    /// for the codec); another decoder may.
    NotHandled { detail: String },
    /// symphonia took the input and decoding failed; the error stands unless a fallback does
    /// better.
    Failed(AudioError),
}

impl From<AudioError> for NativeFailure {
    fn from(error: AudioError) -> Self {
        NativeFailure::Failed(error)
    }
}

/// Decode `path` with symphonia into 16 kHz mono blocks for `output`.
pub(crate) fn decode_with_symphonia(
    path: &Path,
    options: &DecodeOptions,
    output: &mut dyn SampleSink,
) -> Result<AudioInfo, NativeFailure> {
    let file = File::open(path).map_err(AudioError::Io)?;
    let file_len_bytes = file.metadata().map_err(AudioError::Io)?.len();
    let source = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|extension| extension.to_str()) {
        hint.with_extension(extension);
    }
    let mut reader = symphonia::default::get_probe()
        .probe(
            &hint,
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|error| match error {
            SymphoniaError::IoError(error) if error.kind() != ErrorKind::UnexpectedEof => {
                NativeFailure::Failed(AudioError::Io(error))
            }
            error => NativeFailure::NotHandled {
                detail: format!("probing the container failed: {error}"),
            },
        })?;
    let container = container_name(reader.format_info().short_name);
    let track = select_audio_track(reader.as_ref(), container)?;
    check_declared_duration(
        declared_duration_secs(&track),
        file_len_bytes,
        options.max_duration_secs,
    )?;
    let mut decoder = make_decoder(&track, container)?;
    let codec = decoder.codec_info().short_name;
    let format = if codec == container {
        codec.to_owned()
    } else {
        format!("{container}/{codec}")
    };
    let mut track_id = track.id;
    let mut time_base = track.time_base;
    // Channels and rate of the first decoded buffer: what the stream really holds, which for
    // AAC with implicit SBR can differ from what the container declares.
    let mut first_spec: Option<(usize, u32)> = None;

    let mut sink = MonoSink::new(options.max_duration_secs, options.channel);
    let mut interleaved: Vec<f32> = Vec::new();
    let mut silence: Vec<f32> = Vec::new();
    let mut decoded_packets = 0usize;
    let mut skipped_packets = 0usize;
    let mut resets_in_a_row = 0usize;
    loop {
        let packet = match reader.next_packet() {
            Ok(Some(packet)) => {
                resets_in_a_row = 0;
                packet
            }
            Ok(None) => break,
            Err(SymphoniaError::IoError(error)) if error.kind() == ErrorKind::UnexpectedEof => {
                debug!(format = %format, "audio stream ended without a clean end marker");
                break;
            }
            Err(SymphoniaError::ResetRequired) => {
                // A chained stream (e.g. concatenated Ogg files) starts a new track list.
                resets_in_a_row += 1;
                if resets_in_a_row > MAX_RESETS_IN_A_ROW {
                    return Err(AudioError::Corrupt {
                        detail: format!("the {format} stream keeps restarting without audio"),
                    }
                    .into());
                }
                let track = select_audio_track(reader.as_ref(), container)?;
                decoder = make_decoder(&track, container)?;
                track_id = track.id;
                time_base = track.time_base;
                continue;
            }
            Err(SymphoniaError::IoError(error)) => return Err(AudioError::Io(error).into()),
            Err(error) if decoded_packets > 0 => {
                warn!(
                    format = %format,
                    error = %error,
                    decoded_secs = sink.source_secs(),
                    "audio container is damaged past this point; keeping the audio decoded so far"
                );
                break;
            }
            Err(error) => {
                return Err(AudioError::Corrupt {
                    detail: format!("reading the first {format} packet failed: {error}"),
                }
                .into());
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buffer) => {
                decoded_packets += 1;
                if buffer.frames() == 0 {
                    continue;
                }
                let spec = buffer.spec();
                let rate = spec.rate();
                let channel_count = spec.channels().count();
                first_spec.get_or_insert((channel_count, rate));
                buffer.copy_to_vec_interleaved(&mut interleaved);
                sink.push_interleaved(rate, channel_count, &interleaved, output)?;
            }
            Err(SymphoniaError::Unsupported(feature)) if decoded_packets == 0 => {
                // The stream needs something symphonia lacks (AAC Main profile, …); ffmpeg may
                // have it.
                return Err(NativeFailure::NotHandled {
                    detail: format!("the {format} stream uses an unsupported feature: {feature}"),
                });
            }
            // Once packets have decoded, an "unsupported feature" is a damaged packet whose
            // garbage parsed as a rare feature; skip it like any other bad packet.
            Err(
                SymphoniaError::DecodeError(_)
                | SymphoniaError::IoError(_)
                | SymphoniaError::Unsupported(_),
            ) => {
                skipped_packets += 1;
                // Keep later audio at its true time: stand in silence for the lost packet.
                if let Some((_, rate)) = first_spec {
                    let lost_secs = time_base
                        .and_then(|time_base| time_base.calc_duration(packet.dur))
                        .map_or(0.0, |time| time.as_secs_f64())
                        .min(MAX_LOST_PACKET_SECS);
                    let lost_frames = (lost_secs * f64::from(rate)).round() as usize;
                    silence.resize(lost_frames, 0.0);
                    sink.push_interleaved(rate, 1, &silence, output)?;
                }
                if skipped_packets
                    > MAX_SKIPPED_PACKETS + decoded_packets / DECODED_PACKETS_PER_EXTRA_SKIP
                {
                    return Err(AudioError::Corrupt {
                        detail: format!(
                            "{skipped_packets} {format} packets failed to decode \
                             ({decoded_packets} decoded)"
                        ),
                    }
                    .into());
                }
            }
            Err(error) => {
                return Err(AudioError::Corrupt {
                    detail: format!("decoding {format} failed: {error}"),
                }
                .into());
            }
        }
    }
    if skipped_packets > 0 {
        warn!(
            format = %format,
            skipped_packets,
            decoded_packets,
            "skipped undecodable audio packets"
        );
    }
    let duration_secs = sink.source_secs();
    let emitted = sink.finish(output)?;
    let Some((channels, sample_rate_hz)) = first_spec.filter(|_| emitted > 0) else {
        return Err(AudioError::Empty.into());
    };
    Ok(AudioInfo {
        duration_secs,
        channels: u16::try_from(channels).unwrap_or(u16::MAX),
        sample_rate_hz,
        format,
    })
}

/// The default audio track, or [`NativeFailure::NotHandled`] when there is none.
fn select_audio_track(reader: &dyn FormatReader, container: &str) -> Result<Track, NativeFailure> {
    reader
        .default_track(TrackType::Audio)
        .cloned()
        .ok_or_else(|| NativeFailure::NotHandled {
            detail: format!("no audio track symphonia can read in the {container} container"),
        })
}

fn make_decoder(track: &Track, container: &str) -> Result<Box<dyn AudioDecoder>, NativeFailure> {
    let params = track
        .codec_params
        .as_ref()
        .and_then(|params| params.audio())
        .ok_or_else(|| NativeFailure::NotHandled {
            detail: format!("the {container} audio track has no codec parameters"),
        })?;
    symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|error| NativeFailure::NotHandled {
            detail: format!(
                "no symphonia decoder for codec {} in the {container} container ({error})",
                params.codec
            ),
        })
}

/// The track's length as the container declares it, in seconds.
fn declared_duration_secs(track: &Track) -> Option<f64> {
    let from_frames = || {
        let frames = track.num_frames?;
        let rate = track
            .codec_params
            .as_ref()?
            .audio()?
            .sample_rate
            .filter(|&rate| rate > 0)?;
        Some(frames as f64 / f64::from(rate))
    };
    let from_duration = || {
        let time = track.time_base?.calc_duration(track.duration?)?;
        Some(time.as_secs_f64())
    };
    from_frames().or_else(from_duration)
}

/// symphonia's container names, as Dalston reports them.
fn container_name(short_name: &'static str) -> &'static str {
    match short_name {
        "wave" => "wav",
        "isomp4" => "m4a",
        "matroska" => "mkv",
        other => other,
    }
}
