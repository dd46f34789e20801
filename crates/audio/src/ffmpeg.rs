//! Fallback decoding through the `ffmpeg` and `ffprobe` binaries on `PATH`, for what symphonia
//! cannot decode: opus, webm, video containers, AAC-HE, AMR, WMA…
//!
//! ffmpeg is spawned as a child process, never linked, so the single Dalston binary still works
//! without it. The input is passed as a `file:` URL so a crafted file name cannot select another
//! ffmpeg protocol.

use std::ffi::OsString;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;

use serde::Deserialize;
use tracing::warn;

use crate::limit::check_declared_duration;
use crate::{AudioError, AudioInfo, DecodeOptions, SampleSink, TARGET_SAMPLE_RATE_HZ};

/// Most bytes of ffmpeg's error output kept for error messages; a damaged file can make ffmpeg
/// print one line per bad packet.
const MAX_STDERR_BYTES: usize = 16 * 1024;
/// Bytes read from ffmpeg's output per read call.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Why ffmpeg did not return audio.
#[derive(Debug)]
pub(crate) enum FfmpegFailure {
    /// `ffmpeg` or `ffprobe` is not on `PATH`.
    NotInstalled,
    /// ffprobe cannot open the input at all; `detail` is its complaint.
    Unreadable { detail: String },
    /// ffmpeg ran and the input is unsupported, corrupt, too long or empty.
    Failed(AudioError),
}

impl From<AudioError> for FfmpegFailure {
    fn from(error: AudioError) -> Self {
        FfmpegFailure::Failed(error)
    }
}

/// Decode `path` with ffmpeg into 16 kHz mono blocks for `output`, describing the input with
/// ffprobe.
pub(crate) fn decode_with_ffmpeg(
    path: &Path,
    options: &DecodeOptions,
    output: &mut dyn SampleSink,
) -> Result<AudioInfo, FfmpegFailure> {
    let input = file_url(path);
    let probe = probe_first_audio_stream(&input)?;
    let file_len_bytes = std::fs::metadata(path).map_err(AudioError::Io)?.len();
    check_declared_duration(
        probe.duration_secs,
        file_len_bytes,
        options.max_duration_secs,
    )?;
    let format = format!("ffmpeg:{}", probe.codec);
    let (samples, status, stderr) = run_ffmpeg(&input, options, output)?;
    if !status.success() {
        if samples == 0 {
            return Err(AudioError::Corrupt {
                detail: format!("ffmpeg failed to decode {}: {stderr}", probe.codec),
            }
            .into());
        }
        warn!(
            format = %format,
            error = %stderr,
            "ffmpeg stopped with an error; keeping the audio decoded so far"
        );
    }
    if samples == 0 {
        return Err(AudioError::Empty.into());
    }
    let duration_secs = samples as f64 / f64::from(TARGET_SAMPLE_RATE_HZ);
    Ok(AudioInfo {
        duration_secs,
        channels: probe.channels,
        sample_rate_hz: probe.sample_rate_hz,
        format,
    })
}

/// What ffprobe says about the first audio stream.
struct ProbedStream {
    codec: String,
    channels: u16,
    sample_rate_hz: u32,
    duration_secs: Option<f64>,
}

#[derive(Deserialize)]
struct ProbeOutput {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Deserialize)]
struct ProbeStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    channels: Option<u16>,
    sample_rate: Option<String>,
}

#[derive(Deserialize)]
struct ProbeFormat {
    format_name: Option<String>,
    duration: Option<String>,
}

fn probe_first_audio_stream(input: &OsString) -> Result<ProbedStream, FfmpegFailure> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries"])
        .arg("stream=codec_type,codec_name,channels,sample_rate")
        .args([
            "-show_entries",
            "format=format_name,duration",
            "-of",
            "json",
        ])
        .arg(input)
        .stdin(Stdio::null())
        .output()
        .map_err(spawn_failure)?;
    let stderr = first_lines(&output.stderr);
    if !output.status.success() {
        return Err(FfmpegFailure::Unreadable { detail: stderr });
    }
    let parsed: ProbeOutput =
        serde_json::from_slice(&output.stdout).map_err(|error| FfmpegFailure::Unreadable {
            detail: format!("ffprobe printed output that is not the expected JSON ({error})"),
        })?;
    let container = parsed
        .format
        .as_ref()
        .and_then(|format| format.format_name.clone())
        .unwrap_or_else(|| "unknown".to_owned());
    let Some(stream) = parsed
        .streams
        .into_iter()
        .find(|stream| stream.codec_type.as_deref() == Some("audio"))
    else {
        return Err(AudioError::Unsupported {
            detail: format!("ffmpeg reads it as {container} but finds no audio stream"),
        }
        .into());
    };
    Ok(ProbedStream {
        codec: stream.codec_name.unwrap_or_else(|| "unknown".to_owned()),
        channels: stream.channels.unwrap_or(0),
        sample_rate_hz: stream
            .sample_rate
            .and_then(|rate| rate.parse().ok())
            .unwrap_or(0),
        duration_secs: parsed
            .format
            .and_then(|format| format.duration)
            .and_then(|duration| duration.parse::<f64>().ok())
            .filter(|duration| duration.is_finite()),
    })
}

/// Run ffmpeg into `output`, returning how many samples it wrote, its exit status and its error
/// output.
fn run_ffmpeg(
    input: &OsString,
    options: &DecodeOptions,
    output: &mut dyn SampleSink,
) -> Result<(u64, std::process::ExitStatus, String), FfmpegFailure> {
    let max_duration_secs = options.max_duration_secs;
    let rate = TARGET_SAMPLE_RATE_HZ.to_string();
    // `-ac 1` averages the channels; a chosen channel is picked out with the pan filter.
    let mono = match options.channel {
        None => vec!["-ac".to_owned(), "1".to_owned()],
        Some(channel) => vec!["-af".to_owned(), format!("pan=mono|c0=c{channel}")],
    };
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(input)
        .args(["-map", "0:a:0", "-vn", "-sn", "-dn"])
        .args(["-f", "f32le"])
        .args(&mono)
        .args(["-ar", &rate, "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_failure)?;
    // Drain stderr on its own thread: a child blocked writing errors would never finish stdout.
    let stderr_reader = child.stderr.take().map(|mut stderr| {
        thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stderr.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                let room = MAX_STDERR_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..read.min(room)]);
            }
            kept
        })
    });
    let read_result = read_samples(&mut child, max_duration_secs, output);
    if read_result.is_err() {
        // Stop ffmpeg at once rather than letting it decode the rest of a refused file.
        if let Err(error) = child.kill() {
            warn!(error = %error, "failed to stop ffmpeg");
        }
    }
    let status = child.wait().map_err(AudioError::Io);
    let stderr = stderr_reader
        .and_then(|handle| handle.join().ok())
        .map(|bytes| first_lines(&bytes))
        .unwrap_or_default();
    let samples = read_result?;
    Ok((samples, status?, stderr))
}

/// Read ffmpeg's `f32le` output into `output` until it ends or passes `max_duration_secs`;
/// returns the number of samples read.
fn read_samples(
    child: &mut Child,
    max_duration_secs: Option<f64>,
    output: &mut dyn SampleSink,
) -> Result<u64, AudioError> {
    let Some(stdout) = child.stdout.as_mut() else {
        return Err(AudioError::Io(std::io::Error::other(
            "ffmpeg stdout was not captured",
        )));
    };
    let max_samples = max_duration_secs.map(|secs| secs * f64::from(TARGET_SAMPLE_RATE_HZ));
    let mut total = 0u64;
    let mut samples = Vec::with_capacity(READ_CHUNK_BYTES / 4 + 1);
    let mut buffer = vec![0u8; READ_CHUNK_BYTES];
    // Bytes of a sample split across two reads.
    let mut carry: Vec<u8> = Vec::with_capacity(4);
    loop {
        let read = match stdout.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(AudioError::Io(error)),
        };
        let mut bytes = &buffer[..read];
        if !carry.is_empty() {
            let needed = (4 - carry.len()).min(bytes.len());
            carry.extend_from_slice(&bytes[..needed]);
            bytes = &bytes[needed..];
            if let Ok(sample) = <[u8; 4]>::try_from(carry.as_slice()) {
                samples.push(f32::from_le_bytes(sample));
                carry.clear();
            }
        }
        let whole = bytes.len() / 4 * 4;
        samples.extend(
            bytes[..whole]
                .chunks_exact(4)
                .map(|sample| f32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]])),
        );
        carry.extend_from_slice(&bytes[whole..]);
        total += samples.len() as u64;
        if let Some(max_samples) = max_samples
            && total as f64 > max_samples
        {
            return Err(AudioError::TooLong {
                duration_secs: total as f64 / f64::from(TARGET_SAMPLE_RATE_HZ),
                max_secs: max_duration_secs.unwrap_or_default(),
            });
        }
        output.push(&samples)?;
        samples.clear();
    }
    Ok(total)
}

fn spawn_failure(error: std::io::Error) -> FfmpegFailure {
    if error.kind() == ErrorKind::NotFound {
        FfmpegFailure::NotInstalled
    } else {
        FfmpegFailure::Failed(AudioError::Io(error))
    }
}

/// `file:<path>`, so ffmpeg treats the argument as a local file whatever its name looks like.
fn file_url(path: &Path) -> OsString {
    let mut url = OsString::from("file:");
    url.push(path.as_os_str());
    url
}

/// The first few lines of a tool's error output, for an error message.
fn first_lines(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .take(3)
        .collect();
    if lines.is_empty() {
        "no error output".to_owned()
    } else {
        lines.join("; ")
    }
}
