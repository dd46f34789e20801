//! Times Whisper transcription of WAV files: audio duration, wall time, real-time factor and
//! the text, per file.
//!
//! `cargo run --release -p dalston-models --bin bench_whisper -- [--model DIR] [--threads N]
//! [--repeat N] [--language CODE] [--segments] [--words] [--no-word-timestamps] FILE.wav...`
//! (16 kHz mono 16-bit PCM). `--words` prints each word's times; `--no-word-timestamps` skips
//! the word alignment pass (to measure its cost). Not a test: timings vary run to run.
#![expect(clippy::print_stdout, reason = "a benchmark prints its results")]

#[path = "../../tests/support/wav.rs"]
mod wav;

use std::path::PathBuf;
use std::time::Instant;

use dalston_models::{LoadOptions, TranscribeOptions, WhisperModel};

const USAGE: &str = "usage: bench_whisper [--model DIR] [--threads N] [--repeat N] [--language CODE] [--segments] [--words] [--no-word-timestamps] FILE.wav...";

struct Args {
    model: PathBuf,
    threads: usize,
    repeat: usize,
    language: Option<String>,
    segments: bool,
    words: bool,
    word_timestamps: bool,
    files: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let models_dir = std::env::var_os("DALSTON_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/dalston/models"));
    let mut args = Args {
        model: models_dir.join("whisper-base"),
        threads: 0,
        repeat: 1,
        language: None,
        segments: false,
        words: false,
        word_timestamps: true,
        files: Vec::new(),
    };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| {
            iter.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--model" => args.model = PathBuf::from(value("--model")?),
            "--threads" => {
                args.threads = value("--threads")?
                    .parse()
                    .map_err(|e| format!("--threads: {e}"))?
            }
            "--repeat" => {
                args.repeat = value("--repeat")?
                    .parse()
                    .map_err(|e| format!("--repeat: {e}"))?
            }
            "--language" => args.language = Some(value("--language")?),
            "--segments" => args.segments = true,
            "--words" => args.words = true,
            "--no-word-timestamps" => args.word_timestamps = false,
            "-h" | "--help" => return Err(USAGE.to_string()),
            _ => args.files.push(PathBuf::from(arg)),
        }
    }
    if args.files.is_empty() {
        return Err(USAGE.to_string());
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let started = Instant::now();
    let model = WhisperModel::load(
        &args.model,
        &LoadOptions {
            threads: args.threads,
        },
    )?;
    println!(
        "model {} ({} threads) loaded in {:.2} s",
        model.info().name,
        model.threads(),
        started.elapsed().as_secs_f64()
    );
    let options = TranscribeOptions {
        language: args.language.clone(),
        word_timestamps: args.word_timestamps,
        ..TranscribeOptions::default()
    };
    let mut total_audio = 0.0;
    let mut total_wall = 0.0;
    for file in &args.files {
        let (samples, rate) = wav::read_wav(file)?;
        if rate != 16_000 {
            return Err(format!("{}: sample rate {rate}, expected 16000", file.display()).into());
        }
        for _ in 0..args.repeat.max(1) {
            let started = Instant::now();
            let result = model.transcribe(&samples, &options, &mut |_| {})?;
            let wall = started.elapsed().as_secs_f64();
            total_audio += result.duration_secs;
            total_wall += wall;
            let text: String = result.segments.iter().map(|s| s.text.as_str()).collect();
            println!(
                "{}\taudio {:.2} s\twall {:.3} s\tRTF {:.3}\t[{}]\t{}",
                file.display(),
                result.duration_secs,
                wall,
                wall / result.duration_secs.max(1e-9),
                result.language,
                text.trim()
            );
            if args.segments {
                for segment in &result.segments {
                    println!(
                        "  [{:7.2} → {:7.2}] p(no speech) {:.2} logprob {:.2} ratio {:.2} T {:.1} {}",
                        segment.start_secs,
                        segment.end_secs,
                        segment.no_speech_prob,
                        segment.avg_logprob,
                        segment.compression_ratio,
                        segment.temperature,
                        segment.text
                    );
                }
            }
            if args.words {
                for word in result.segments.iter().flat_map(|s| &s.words) {
                    println!(
                        "  [{:7.2} → {:7.2}] p {:.2} {}",
                        word.start_secs, word.end_secs, word.probability, word.word
                    );
                }
            }
        }
    }
    println!(
        "total\taudio {total_audio:.2} s\twall {total_wall:.3} s\tRTF {:.3}",
        total_wall / total_audio.max(1e-9)
    );
    Ok(())
}
