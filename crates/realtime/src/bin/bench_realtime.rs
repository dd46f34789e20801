//! Streams real speech into live sessions at real-time pace, N sessions at once, and prints
//! what a caller of the realtime API would feel: time from the end of speech to its final
//! transcript, from speech onset to the first partial, the finals' WER, and how far each
//! session fell behind the audio. Not a test: nothing about speed is asserted.
//!
//! `bench_realtime [--model whisper-base] [--sessions 1,2,4] [--beam 1] [--short-finals]
//! [--no-partials] FILE.wav...` (default
//! files: jfk.wav and the LibriVox clips from `scripts/fetch-models`). Sessions run in this
//! process on one loaded model, as they do in a gateway, without the WebSocket around them.
#![expect(clippy::print_stdout, reason = "a benchmark prints its results")]
#![expect(
    clippy::print_stderr,
    reason = "a command-line tool reports its errors"
)]

#[path = "../../../testkit/src/references.rs"]
mod references;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dalston_core::wer::word_error_rate;
use dalston_models::vad::SileroVad;
use dalston_models::{LoadOptions, WhisperModel};
use dalston_realtime::{Event, LagLimits, Session, SessionConfig, SessionModels};

/// 100 ms frames, as live clients send.
const FRAME: usize = 1_600;
/// Silence around each recording, so every utterance ends by VAD.
const LEAD_SECS: f64 = 1.0;
const TAIL_SECS: f64 = 2.0;

struct Options {
    model: String,
    sessions: Vec<usize>,
    beam: usize,
    /// Finals on the utterance's own length instead of a full window.
    short_finals: bool,
    /// Partial transcripts on (the default) or off.
    partials: bool,
    files: Vec<PathBuf>,
}

fn cache_dir(leaf: &str, variable: &str) -> PathBuf {
    std::env::var_os(variable).map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/dalston")
                .join(leaf)
        },
        PathBuf::from,
    )
}

fn parse(mut arguments: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        model: "whisper-base".into(),
        sessions: vec![1, 2, 4],
        beam: 1,
        short_finals: false,
        partials: true,
        files: Vec::new(),
    };
    while let Some(argument) = arguments.next() {
        let mut value = |name: &str| arguments.next().ok_or(format!("{name} needs a value"));
        match argument.as_str() {
            "--model" => options.model = value("--model")?,
            "--short-finals" => options.short_finals = true,
            "--no-partials" => options.partials = false,
            "--beam" => {
                options.beam = value("--beam")?
                    .parse()
                    .map_err(|_| "--beam takes a number")?;
            }
            "--sessions" => {
                options.sessions = value("--sessions")?
                    .split(',')
                    .map(|n| {
                        n.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("bad count {n:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            file => options.files.push(PathBuf::from(file)),
        }
    }
    if options.files.is_empty() {
        let data = cache_dir("test-data", "DALSTON_TEST_DATA_DIR");
        options.files.push(data.join("jfk.wav"));
        let mut clips: Vec<PathBuf> = std::fs::read_dir(data.join("librivox"))
            .map_err(|error| format!("test data missing (run scripts/fetch-models): {error}"))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "wav"))
            .collect();
        clips.sort();
        options.files.extend(clips);
    }
    Ok(options)
}

/// One recording, ready to stream.
struct Recording {
    audio: Vec<f32>,
    reference: String,
}

fn load_recording(path: &Path) -> Result<Recording, String> {
    let decoded = dalston_audio::decode_file(path, &dalston_audio::DecodeOptions::default())
        .map_err(|error| format!("{}: {error}", path.display()))?;
    let reference = references::reference_text(path)
        .ok_or_else(|| format!("{}: no reference text", path.display()))?;
    let mut audio = vec![0.0; (LEAD_SECS * 16_000.0) as usize];
    audio.extend_from_slice(&decoded.samples);
    audio.extend(std::iter::repeat_n(0.0, (TAIL_SECS * 16_000.0) as usize));
    Ok(Recording { audio, reference })
}

/// What one session measured.
#[derive(Default)]
struct Measured {
    /// Seconds from the end of an utterance's last word (as sent) to its final.
    final_latencies: Vec<f64>,
    /// Seconds from the onset the VAD reported (as sent) to the first partial after it.
    first_partial_latencies: Vec<f64>,
    text: String,
    max_lag_secs: f64,
    ended_by_lag: bool,
}

async fn stream(models: SessionModels, config: SessionConfig, recording: &Recording) -> Measured {
    let (session, mut events) = Session::start(models, config);
    let started = Instant::now();
    // Wall time at which the audio at `secs` of the recording was sent.
    let sent_at = |secs: f64| started + Duration::from_secs_f64(secs.max(0.0));
    let audio = recording.audio.clone();
    let feeder = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_millis(100));
        let mut max_lag: f64 = 0.0;
        for frame in audio.chunks(FRAME) {
            ticks.tick().await;
            if session.audio(frame.to_vec()).await.is_err() {
                break;
            }
            max_lag = max_lag.max(session.lag_secs());
        }
        let _ = session.end().await;
        max_lag
    });
    let mut measured = Measured::default();
    let mut onset: Option<f64> = None;
    let mut finals = Vec::new();
    while let Some(event) = events.recv().await {
        let now = Instant::now();
        match event {
            Event::SpeechStarted { at_secs } => onset = Some(at_secs),
            Event::Partial { .. } => {
                if let Some(at) = onset.take() {
                    let latency = now.saturating_duration_since(sent_at(at)).as_secs_f64();
                    measured.first_partial_latencies.push(latency);
                }
            }
            Event::Final(utterance) => {
                let speech_end = utterance
                    .words
                    .last()
                    .map_or(utterance.end_secs, |word| word.end_secs);
                measured.final_latencies.push(
                    now.saturating_duration_since(sent_at(speech_end))
                        .as_secs_f64(),
                );
                finals.push(utterance.text);
            }
            Event::LagWarning { .. } | Event::SpeechEnded { .. } => {}
            Event::Ended(summary) => {
                measured.ended_by_lag = summary.reason == dalston_realtime::EndReason::LagExceeded;
                break;
            }
        }
    }
    measured.max_lag_secs = feeder.await.unwrap_or(f64::NAN);
    measured.text = finals.join(" ");
    measured
}

fn percentile(values: &mut [f64], fraction: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let index = ((values.len() - 1) as f64 * fraction).round() as usize;
    values[index]
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench_realtime: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let options = parse(std::env::args().skip(1))?;
    let models_dir = cache_dir("models", "DALSTON_MODELS_DIR");
    let load_started = Instant::now();
    let whisper = WhisperModel::load(&models_dir.join(&options.model), &LoadOptions::default())
        .map_err(|error| format!("loading {}: {error}", options.model))?;
    let vad = SileroVad::load(&models_dir.join("silero-vad"))
        .map_err(|error| format!("loading silero-vad: {error}"))?;
    let models = SessionModels {
        whisper: Arc::new(whisper),
        vad: Arc::new(vad),
    };
    let recordings: Arc<Vec<Recording>> = Arc::new(
        options
            .files
            .iter()
            .map(|path| load_recording(path))
            .collect::<Result<_, _>>()?,
    );
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "model {} (loaded in {:.1} s, {} threads), beam {}, {} finals, partials {}, {cpus} CPUs, load average {}",
        options.model,
        load_started.elapsed().as_secs_f64(),
        models.whisper.threads(),
        options.beam,
        if options.short_finals {
            "short-window"
        } else {
            "full-window"
        },
        if options.partials { "on" } else { "off" },
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:>8} {:>14} {:>14} {:>16} {:>8} {:>12} {:>10}",
        "sessions",
        "final p50 ms",
        "final p95 ms",
        "1st partial p50",
        "WER",
        "max lag s",
        "real-time"
    );
    let runtime = tokio::runtime::Runtime::new().map_err(|error| error.to_string())?;
    for &count in &options.sessions {
        let config = SessionConfig {
            language: Some("en".into()),
            beam_size: options.beam,
            full_window_finals: !options.short_finals,
            interim_results: options.partials,
            // Measure how far behind sessions fall rather than closing them.
            lag: LagLimits {
                warn_secs: f64::INFINITY,
                close_secs: f64::INFINITY,
                grace: Duration::ZERO,
            },
            ..SessionConfig::default()
        };
        let recordings = Arc::clone(&recordings);
        let results: Vec<(usize, Measured)> = runtime.block_on(async {
            let handles: Vec<_> = (0..count)
                .map(|session| {
                    let (models, config) = (models.clone(), config.clone());
                    let recordings = Arc::clone(&recordings);
                    // Each session streams every file in turn, starting at a different one.
                    tokio::spawn(async move {
                        let mut measured = Vec::new();
                        for turn in 0..recordings.len() {
                            let index = (turn + session) % recordings.len();
                            let result =
                                stream(models.clone(), config.clone(), &recordings[index]).await;
                            measured.push((index, result));
                        }
                        measured
                    })
                })
                .collect();
            let mut results = Vec::new();
            for handle in handles {
                results.extend(handle.await.unwrap_or_default());
            }
            results
        });
        let mut finals: Vec<f64> = results
            .iter()
            .flat_map(|(_, m)| m.final_latencies.clone())
            .collect();
        let mut partials: Vec<f64> = results
            .iter()
            .flat_map(|(_, m)| m.first_partial_latencies.clone())
            .collect();
        let (errors, words) = results
            .iter()
            .fold((0.0, 0usize), |(errors, words), (index, m)| {
                let reference = &recordings[*index].reference;
                let count = reference.split_whitespace().count();
                (
                    errors + word_error_rate(reference, &m.text) * count as f64,
                    words + count,
                )
            });
        let max_lag = results
            .iter()
            .map(|(_, m)| m.max_lag_secs)
            .fold(0.0, f64::max);
        let real_time = results
            .iter()
            .all(|(_, m)| !m.ended_by_lag && m.max_lag_secs < 1.0);
        println!(
            "{count:>8} {:>14.0} {:>14.0} {:>16.0} {:>7.1}% {:>12.2} {:>10}",
            percentile(&mut finals, 0.5) * 1000.0,
            percentile(&mut finals, 0.95) * 1000.0,
            percentile(&mut partials, 0.5) * 1000.0,
            errors / words.max(1) as f64 * 100.0,
            max_lag,
            if real_time { "yes" } else { "no" },
        );
    }
    println!(
        "final: end of the last word (as sent) to the final transcript; 1st partial: VAD onset to the first partial; real-time: no session fell 1 s behind"
    );
    Ok(())
}
