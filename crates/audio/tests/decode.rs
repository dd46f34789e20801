//! `decode_file` on real files: generated signals at the rates uploads come in, broken input,
//! the JFK speech sample, and (when ffmpeg is installed) the same speech in every container
//! Dalston accepts.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions panic on setup failures"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use dalston_audio::{
    AudioError, DecodeOptions, DecodedAudio, FfmpegPolicy, TARGET_SAMPLE_RATE_HZ, decode_file,
    encode_wav_pcm16, is_silent,
};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn sine(frequency_hz: f32, rate_hz: u32, secs: f32, amplitude: f32) -> Vec<f32> {
    let frames = (rate_hz as f32 * secs) as usize;
    (0..frames)
        .map(|index| {
            amplitude
                * (2.0 * std::f32::consts::PI * frequency_hz * index as f32 / rate_hz as f32).sin()
        })
        .collect()
}

fn rms(samples: &[f32]) -> f32 {
    (samples.iter().map(|sample| sample * sample).sum::<f32>() / samples.len() as f32).sqrt()
}

/// Frequency of a pure tone from its zero crossings.
fn tone_frequency_hz(samples: &[f32], rate_hz: u32) -> f32 {
    let crossings = samples
        .windows(2)
        .filter(|pair| (pair[0] < 0.0) != (pair[1] < 0.0))
        .count();
    crossings as f32 / 2.0 / (samples.len() as f32 / rate_hz as f32)
}

/// A 16-bit stereo PCM WAV, interleaving `left` and `right`.
fn stereo_wav(left: &[f32], right: &[f32], rate_hz: u32) -> Vec<u8> {
    let frames = left.len().min(right.len());
    let data_len = (frames * 4) as u32;
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&2u16.to_le_bytes()); // channels
    bytes.extend_from_slice(&rate_hz.to_le_bytes());
    bytes.extend_from_slice(&(rate_hz * 4).to_le_bytes());
    bytes.extend_from_slice(&4u16.to_le_bytes()); // block align
    bytes.extend_from_slice(&16u16.to_le_bytes()); // bits
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for (l, r) in left.iter().zip(right) {
        for sample in [l, r] {
            let value = (sample.clamp(-1.0, 1.0) * 32_767.0).round() as i16;
            bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
    bytes
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn decode(path: &Path) -> Result<DecodedAudio, AudioError> {
    decode_file(path, &DecodeOptions::default())
}

fn decode_without_ffmpeg(path: &Path) -> Result<DecodedAudio, AudioError> {
    let options = DecodeOptions {
        ffmpeg: FfmpegPolicy::Never,
        ..DecodeOptions::default()
    };
    decode_file(path, &options)
}

fn error_code(result: Result<DecodedAudio, AudioError>) -> &'static str {
    match result {
        Ok(decoded) => panic!("expected an error, decoded {:?}", decoded.info),
        Err(error) => error.code(),
    }
}

/// Skip (locally) or fail (under `CI=true`) a test whose prerequisite is missing.
#[expect(
    clippy::print_stderr,
    reason = "a skipped test says why on the test output"
)]
fn skip_or_fail(what: &str) {
    let on_ci = std::env::var("CI").is_ok_and(|value| value == "true" || value == "1");
    assert!(!on_ci, "{what} is required under CI=true");
    eprintln!("skipping: {what} is not available");
}

#[expect(
    clippy::print_stderr,
    reason = "timings are reported on the test output"
)]
fn report(message: &str) {
    eprintln!("{message}");
}

fn test_data_file(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("DALSTON_TEST_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/dalston/test-data"))
        })?;
    let path = dir.join(name);
    if path.is_file() {
        Some(path)
    } else {
        skip_or_fail(&format!("test data file {}", path.display()));
        None
    }
}

fn ffmpeg_installed() -> bool {
    let works = |tool: &str| {
        Command::new(tool)
            .arg("-version")
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if works("ffmpeg") && works("ffprobe") {
        true
    } else {
        skip_or_fail("ffmpeg/ffprobe on PATH");
        false
    }
}

/// Convert `input` with ffmpeg, `arguments` going between input and output.
fn ffmpeg_convert(input: &Path, arguments: &[&str], output: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(input)
        .args(arguments)
        .arg(output)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "ffmpeg {arguments:?} -> {}",
        output.display()
    );
}

/// Largest normalised cross-correlation of `a` against `b` over lags up to `max_lag`.
fn best_correlation(a: &[f32], b: &[f32], max_lag: usize) -> (f32, isize) {
    let window = 4 * TARGET_SAMPLE_RATE_HZ as usize;
    let start = max_lag + TARGET_SAMPLE_RATE_HZ as usize;
    let a_window = &a[start..start + window];
    let mut best = (f32::MIN, 0isize);
    for lag in -(max_lag as isize)..=max_lag as isize {
        let b_start = (start as isize + lag) as usize;
        let b_window = &b[b_start..b_start + window];
        let dot: f32 = a_window.iter().zip(b_window).map(|(x, y)| x * y).sum();
        let norm = (a_window.iter().map(|x| x * x).sum::<f32>()
            * b_window.iter().map(|y| y * y).sum::<f32>())
        .sqrt();
        let correlation = dot / norm;
        if correlation > best.0 {
            best = (correlation, lag);
        }
    }
    best
}

// ---------------------------------------------------------------------------------------------
// Generated signals
// ---------------------------------------------------------------------------------------------

#[test]
fn wav_at_16k_decodes_sample_for_sample() {
    let dir = TempDir::new().unwrap();
    let input = sine(440.0, 16_000, 1.5, 0.5);
    let path = write(&dir, "tone.wav", &encode_wav_pcm16(&input, 16_000));
    let decoded = decode(&path).unwrap();
    assert_eq!(decoded.info.format, "wav/pcm_s16le");
    assert_eq!(decoded.info.channels, 1);
    assert_eq!(decoded.info.sample_rate_hz, 16_000);
    assert!((decoded.info.duration_secs - 1.5).abs() < 1e-9);
    assert_eq!(decoded.samples.len(), input.len());
    for (original, decoded) in input.iter().zip(&decoded.samples) {
        assert!((original - decoded).abs() <= 1.0 / 32_768.0);
    }
}

#[test]
fn common_rates_are_resampled_to_16k_keeping_tone_and_level() {
    let dir = TempDir::new().unwrap();
    for rate in [8_000, 22_050, 44_100, 48_000] {
        let input = sine(1_000.0, rate, 2.0, 0.5);
        let path = write(
            &dir,
            &format!("tone-{rate}.wav"),
            &encode_wav_pcm16(&input, rate),
        );
        let decoded = decode(&path).unwrap();
        assert_eq!(decoded.info.sample_rate_hz, rate);
        assert!((decoded.info.duration_secs - 2.0).abs() < 1e-3);
        assert_eq!(decoded.samples.len(), 32_000, "{rate} Hz");
        let middle = &decoded.samples[800..31_200];
        let frequency = tone_frequency_hz(middle, TARGET_SAMPLE_RATE_HZ);
        assert!(
            (frequency - 1_000.0).abs() < 5.0,
            "{rate} Hz: {frequency} Hz"
        );
        let level = rms(middle) / rms(&input);
        assert!((level - 1.0).abs() < 0.03, "{rate} Hz: level ratio {level}");
    }
}

#[test]
fn stereo_is_downmixed_by_averaging() {
    let dir = TempDir::new().unwrap();
    let tone = sine(1_000.0, 48_000, 1.0, 0.5);
    let silence = vec![0.0; tone.len()];
    let inverted: Vec<f32> = tone.iter().map(|sample| -sample).collect();

    let one_sided = decode(&write(
        &dir,
        "left.wav",
        &stereo_wav(&tone, &silence, 48_000),
    ))
    .unwrap();
    assert_eq!(one_sided.info.channels, 2);
    assert_eq!(one_sided.info.sample_rate_hz, 48_000);
    assert_eq!(one_sided.samples.len(), 16_000);
    let level = rms(&one_sided.samples[800..15_200]) / rms(&tone);
    assert!((level - 0.5).abs() < 0.02, "level ratio {level}");

    let cancelled = decode(&write(
        &dir,
        "phase.wav",
        &stereo_wav(&tone, &inverted, 48_000),
    ))
    .unwrap();
    assert!(is_silent(&cancelled.samples));
}

#[test]
fn silence_decodes_and_is_silent() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "silence.wav",
        &encode_wav_pcm16(&vec![0.0; 44_100], 44_100),
    );
    let decoded = decode(&path).unwrap();
    assert_eq!(decoded.samples.len(), 16_000);
    assert!(is_silent(&decoded.samples));
}

// ---------------------------------------------------------------------------------------------
// Broken and foreign input
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_file_is_empty_audio() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "empty.wav", b"");
    assert_eq!(error_code(decode(&path)), "empty_audio");
    assert_eq!(error_code(decode_without_ffmpeg(&path)), "empty_audio");
}

#[test]
fn wav_header_without_frames_is_empty_audio() {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "header.wav", &encode_wav_pcm16(&[], 16_000));
    assert_eq!(error_code(decode(&path)), "empty_audio");
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = TempDir::new().unwrap();
    assert_eq!(
        error_code(decode(&dir.path().join("absent.wav"))),
        "io_error"
    );
}

#[test]
fn text_png_and_random_bytes_are_unsupported() {
    let dir = TempDir::new().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00".to_vec();
    png.extend(std::iter::repeat_n(0u8, 200));
    // A fixed-seed xorshift, so the "random" file is the same on every run.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let random: Vec<u8> = (0..50_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let files = [
        write(
            &dir,
            "notes.txt",
            b"This is a meeting transcript, not audio.\n"
                .repeat(50)
                .as_slice(),
        ),
        write(&dir, "upload.wav", b"{\"not\": \"a wav file\"}"),
        write(&dir, "picture.png", &png),
        write(&dir, "random.bin", &random),
    ];
    for path in &files {
        assert_eq!(
            error_code(decode_without_ffmpeg(path)),
            "unsupported_audio",
            "{}",
            path.display()
        );
        assert_eq!(
            error_code(decode(path)),
            "unsupported_audio",
            "{}",
            path.display()
        );
    }
    let Err(error) = decode_without_ffmpeg(&files[0]) else {
        panic!("text decoded");
    };
    assert!(
        error.to_string().contains("not a recognised audio format"),
        "{error}"
    );
}

#[test]
fn truncated_wav_decodes_what_is_there() {
    let dir = TempDir::new().unwrap();
    let bytes = encode_wav_pcm16(&sine(300.0, 44_100, 2.0, 0.5), 44_100);
    let cut = bytes.len() * 2 / 5;
    let path = write(&dir, "cut.wav", &bytes[..cut]);
    match decode(&path) {
        Ok(decoded) => {
            let expected_secs = (cut - 44) as f64 / 2.0 / 44_100.0;
            assert!((decoded.info.duration_secs - expected_secs).abs() < 0.01);
            assert!((decoded.samples.len() as f64 / 16_000.0 - expected_secs).abs() < 0.01);
        }
        Err(error) => assert_eq!(error.code(), "corrupt_audio"),
    }
    // An odd cut leaves half a sample at the end.
    let path = write(&dir, "odd.wav", &bytes[..cut + 1]);
    assert!(decode(&path).is_ok_and(|decoded| decoded.samples.len() > 10_000));
}

#[test]
fn declared_length_over_the_limit_is_too_long() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "long.wav",
        &encode_wav_pcm16(&vec![0.1; 48_000], 16_000),
    );
    let options = DecodeOptions {
        max_duration_secs: Some(2.0),
        ..DecodeOptions::default()
    };
    match decode_file(&path, &options) {
        Err(AudioError::TooLong {
            duration_secs,
            max_secs,
        }) => {
            assert!((duration_secs - 3.0).abs() < 1e-9);
            assert_eq!(max_secs, 2.0);
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
    let options = DecodeOptions {
        max_duration_secs: Some(3.5),
        ..DecodeOptions::default()
    };
    assert!(decode_file(&path, &options).is_ok());
}

#[test]
fn placeholder_length_is_ignored_and_decoding_stops_at_the_limit() {
    // A WAV written by a streaming recorder: the sizes claim the largest possible data chunk
    // (37 hours), so the declared length is ignored and decoding itself enforces the limit.
    let dir = TempDir::new().unwrap();
    let mut bytes = encode_wav_pcm16(&vec![0.1; 16_000 * 5], 16_000);
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[40..44].copy_from_slice(&(u32::MAX - 44).to_le_bytes());
    let path = write(&dir, "stream.wav", &bytes);
    let limited = |max_secs: f64| DecodeOptions {
        max_duration_secs: Some(max_secs),
        ffmpeg: FfmpegPolicy::Never,
        channel: None,
    };
    let decoded = decode_file(&path, &limited(60.0)).unwrap();
    assert!((decoded.info.duration_secs - 5.0).abs() < 1e-6);
    match decode_file(&path, &limited(2.0)) {
        Err(AudioError::TooLong { duration_secs, .. }) => {
            assert!((2.0..3.0).contains(&duration_secs), "{duration_secs}");
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Real speech
// ---------------------------------------------------------------------------------------------

#[test]
fn jfk_wav_and_mp3_decode_to_the_same_speech() {
    let (Some(wav_path), Some(mp3_path)) = (test_data_file("jfk.wav"), test_data_file("jfk.mp3"))
    else {
        return;
    };
    let wav = decode_without_ffmpeg(&wav_path).unwrap();
    assert_eq!(wav.info.format, "wav/pcm_s16le");
    assert_eq!(wav.info.sample_rate_hz, 16_000);
    assert!(
        (wav.info.duration_secs - 11.0).abs() < 0.1,
        "{:?}",
        wav.info
    );
    assert!(!is_silent(&wav.samples));

    let started = Instant::now();
    let mp3 = decode_without_ffmpeg(&mp3_path).unwrap();
    report(&format!(
        "jfk.mp3 decoded in {:?}: {:?}",
        started.elapsed(),
        mp3.info
    ));
    assert_eq!(mp3.info.format, "mp3");
    assert!(
        (mp3.info.duration_secs - wav.info.duration_secs).abs() < 0.1,
        "{:?} vs {:?}",
        mp3.info,
        wav.info
    );
    let level = rms(&mp3.samples) / rms(&wav.samples);
    assert!((level - 1.0).abs() < 0.1, "level ratio {level}");
    let (correlation, lag) = best_correlation(&wav.samples, &mp3.samples, 1_600);
    assert!(correlation > 0.9, "correlation {correlation} at lag {lag}");
}

#[test]
fn truncated_mp3_decodes_what_is_there() {
    let Some(mp3_path) = test_data_file("jfk.mp3") else {
        return;
    };
    let bytes = std::fs::read(&mp3_path).unwrap();
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "cut.mp3", &bytes[..bytes.len() * 2 / 5]);
    match decode(&path) {
        Ok(decoded) => {
            let secs = decoded.samples.len() as f64 / 16_000.0;
            assert!((3.5..5.5).contains(&secs), "{secs} s from 40 % of 11 s");
        }
        Err(error) => assert_eq!(error.code(), "corrupt_audio"),
    }
}

// ---------------------------------------------------------------------------------------------
// Every container, made by ffmpeg from the JFK sample
// ---------------------------------------------------------------------------------------------

#[test]
fn jfk_in_every_container_decodes_to_the_same_speech() {
    let Some(wav_path) = test_data_file("jfk.wav") else {
        return;
    };
    if !ffmpeg_installed() {
        return;
    }
    let reference = decode_without_ffmpeg(&wav_path).unwrap();
    let dir = TempDir::new().unwrap();
    // (file name, ffmpeg output arguments, expected format, needs the ffmpeg fallback)
    let cases: &[(&str, &[&str], &str, bool)] = &[
        ("jfk.flac", &["-c:a", "flac"], "flac", false),
        (
            "jfk.ogg",
            &["-c:a", "libvorbis", "-q:a", "5"],
            "ogg/vorbis",
            false,
        ),
        ("jfk.m4a", &["-c:a", "aac", "-b:a", "96k"], "m4a/aac", false),
        // Both channels carry the speech at full level (ffmpeg's own mono-to-stereo upmix is -3 dB).
        (
            "jfk-48k-stereo.wav",
            &["-ar", "48000", "-af", "pan=stereo|c0=c0|c1=c0"],
            "wav/pcm_s16le",
            false,
        ),
        ("jfk-8k.wav", &["-ar", "8000"], "wav/pcm_s16le", false),
        (
            "jfk-44k.mp3",
            &["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k"],
            "mp3",
            false,
        ),
        ("jfk.mka", &["-c:a", "libvorbis"], "mkv/vorbis", false),
        (
            "jfk.opus",
            &["-c:a", "libopus", "-b:a", "32k"],
            "ffmpeg:opus",
            true,
        ),
        (
            "jfk.webm",
            &["-c:a", "libopus", "-b:a", "32k"],
            "ffmpeg:opus",
            true,
        ),
    ];
    for &(name, arguments, format, needs_ffmpeg) in cases {
        let path = dir.path().join(name);
        ffmpeg_convert(&wav_path, arguments, &path);
        let started = Instant::now();
        let decoded = decode(&path).unwrap_or_else(|error| panic!("{name}: {error}"));
        report(&format!(
            "{name} decoded in {:?}: {:?}",
            started.elapsed(),
            decoded.info
        ));
        assert_eq!(decoded.info.format, format, "{name}");
        assert!(
            (decoded.samples.len() as f64 / 16_000.0 - 11.0).abs() < 0.15,
            "{name}: {} samples",
            decoded.samples.len()
        );
        assert!(
            (decoded.info.duration_secs - 11.0).abs() < 0.15,
            "{name}: {:?}",
            decoded.info
        );
        let level = rms(&decoded.samples) / rms(&reference.samples);
        assert!((level - 1.0).abs() < 0.1, "{name}: level ratio {level}");
        // 8 kHz loses everything above 4 kHz, so it correlates less with the original.
        let min_correlation = if name == "jfk-8k.wav" { 0.8 } else { 0.9 };
        let (correlation, lag) = best_correlation(&reference.samples, &decoded.samples, 1_600);
        assert!(
            correlation > min_correlation,
            "{name}: correlation {correlation} at lag {lag}"
        );

        let without_ffmpeg = decode_without_ffmpeg(&path);
        if needs_ffmpeg {
            let Err(error) = without_ffmpeg else {
                panic!("{name} decoded without ffmpeg");
            };
            assert_eq!(error.code(), "unsupported_audio", "{name}");
            assert!(error.to_string().contains("ffmpeg"), "{name}: {error}");
        } else {
            assert!(without_ffmpeg.is_ok(), "{name}: {without_ffmpeg:?}");
        }
    }
}

#[test]
fn ffmpeg_fallback_respects_the_duration_limit() {
    let Some(wav_path) = test_data_file("jfk.wav") else {
        return;
    };
    if !ffmpeg_installed() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("jfk.opus");
    ffmpeg_convert(&wav_path, &["-c:a", "libopus"], &path);
    let options = DecodeOptions {
        max_duration_secs: Some(5.0),
        ffmpeg: FfmpegPolicy::Auto,
        channel: None,
    };
    assert_eq!(error_code(decode_file(&path, &options)), "audio_too_long");
}

#[test]
fn video_file_audio_track_is_decoded() {
    let Some(wav_path) = test_data_file("jfk.wav") else {
        return;
    };
    if !ffmpeg_installed() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("talk.mkv");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=64x48:rate=5:duration=11")
        .arg("-i")
        .arg(&wav_path)
        .args(["-c:v", "mpeg4", "-c:a", "libopus", "-shortest"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let decoded = decode(&path).unwrap();
    assert_eq!(decoded.info.format, "ffmpeg:opus");
    assert!(
        (decoded.info.duration_secs - 11.0).abs() < 0.2,
        "{:?}",
        decoded.info
    );
}

/// Cut every format at several points and flip bytes in its middle: each must decode something
/// or report `corrupt_audio` (or `unsupported_audio` when the cut removed the header), never
/// panic or hang.
#[test]
fn damaged_files_decode_partly_or_report_corrupt() {
    let Some(wav_path) = test_data_file("jfk.wav") else {
        return;
    };
    let dir = TempDir::new().unwrap();
    let mut sources = vec![wav_path.clone()];
    sources.extend(test_data_file("jfk.mp3"));
    if ffmpeg_installed() {
        for (name, arguments) in [
            ("jfk.flac", &["-c:a", "flac"][..]),
            ("jfk.ogg", &["-c:a", "libvorbis"][..]),
            ("jfk.m4a", &["-c:a", "aac"][..]),
            ("jfk.opus", &["-c:a", "libopus"][..]),
        ] {
            let path = dir.path().join(name);
            ffmpeg_convert(&wav_path, arguments, &path);
            sources.push(path);
        }
    }
    for source in &sources {
        let bytes = std::fs::read(source).unwrap();
        let name = source.file_name().unwrap().to_string_lossy().into_owned();
        let mut variants: Vec<(String, Vec<u8>)> = [10, 40, 90]
            .iter()
            .map(|percent| {
                (
                    format!("{percent}%-{name}"),
                    bytes[..bytes.len() * percent / 100].to_vec(),
                )
            })
            .collect();
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        for byte in &mut flipped[middle..middle + 2_000] {
            *byte ^= 0x5A;
        }
        variants.push((format!("flipped-{name}"), flipped));
        for (variant, bytes) in variants {
            let path = write(&dir, &variant, &bytes);
            let started = Instant::now();
            for result in [decode(&path), decode_without_ffmpeg(&path)] {
                match result {
                    Ok(decoded) => assert!(
                        decoded.info.duration_secs <= 11.2 && !decoded.samples.is_empty(),
                        "{variant}: {:?}",
                        decoded.info
                    ),
                    Err(error) => assert!(
                        matches!(
                            error.code(),
                            "corrupt_audio" | "unsupported_audio" | "empty_audio"
                        ),
                        "{variant}: {error}"
                    ),
                }
            }
            assert!(
                started.elapsed().as_secs() < 10,
                "{variant} took {:?}",
                started.elapsed()
            );
        }
    }
}

#[test]
fn mp4_cut_before_its_index_is_corrupt_not_unsupported() {
    let Some(wav_path) = test_data_file("jfk.wav") else {
        return;
    };
    if !ffmpeg_installed() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("jfk.m4a");
    // ffmpeg writes the `moov` index at the end unless told to move it.
    ffmpeg_convert(&wav_path, &["-c:a", "aac"], &path);
    let bytes = std::fs::read(&path).unwrap();
    let cut = write(&dir, "cut.m4a", &bytes[..bytes.len() / 2]);
    assert_eq!(error_code(decode(&cut)), "corrupt_audio");
}
