//! Times Dalston's Whisper transcription of WAV files: audio duration, wall time, real-time
//! factor and the text, per file; with `--json OUT` also writes the run for `compare`.
//!
//! `bench_whisper [--model DIR] [--threads N] [--repeat N] [--language CODE] [--beam-size N]
//! [--compute-type auto|int8|float32] [--segments] [--words] [--no-word-timestamps]
//! [--json OUT] FILE.wav...` (16 kHz mono 16-bit PCM). `--words` prints each word's times;
//! `--no-word-timestamps` skips the word alignment pass (to measure its cost). With `--repeat`,
//! the JSON keeps each file's median wall time. Files are read a window at a time, as the
//! server's engines read their audio, so the peak memory does not grow with a file's length.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dalston_models::{
    ComputeType, LoadOptions, SampleSource, SourceError, TranscribeOptions, WhisperModel,
};

use crate::report::{self, EngineRun, FileRun, Word};
use crate::wav::Pcm16Layout;

const USAGE: &str = "usage: bench_whisper [--model DIR] [--threads N] [--repeat N] [--language CODE] [--beam-size N] [--compute-type auto|int8|float32] [--segments] [--words] [--no-word-timestamps] [--json OUT] FILE.wav...";

struct Args {
    model: PathBuf,
    threads: usize,
    repeat: usize,
    language: Option<String>,
    segments: bool,
    words: bool,
    word_timestamps: bool,
    beam_size: usize,
    compute_type: ComputeType,
    json: Option<PathBuf>,
    files: Vec<PathBuf>,
}

fn parse_args(mut iter: impl Iterator<Item = String>) -> Result<Args, String> {
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
        beam_size: TranscribeOptions::default().beam_size,
        compute_type: ComputeType::Auto,
        json: None,
        files: Vec::new(),
    };
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
            "--beam-size" => {
                args.beam_size = value("--beam-size")?
                    .parse()
                    .map_err(|e| format!("--beam-size: {e}"))?
            }
            "--compute-type" => {
                args.compute_type = value("--compute-type")?
                    .parse()
                    .map_err(|e| format!("--compute-type: {e}"))?
            }
            "--json" => args.json = Some(PathBuf::from(value("--json")?)),
            "-h" | "--help" => return Err(USAGE.to_string()),
            _ => args.files.push(PathBuf::from(arg)),
        }
    }
    if args.files.is_empty() {
        return Err(USAGE.to_string());
    }
    Ok(args)
}

/// Transcribes the files named by `arguments`, printing a line per file and run.
pub fn main(arguments: impl Iterator<Item = String>) -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args(arguments)?;
    let started = Instant::now();
    let model = WhisperModel::load(
        &args.model,
        &LoadOptions {
            threads: args.threads,
            compute_type: args.compute_type,
        },
    )?;
    let load_secs = started.elapsed().as_secs_f64();
    println!(
        "model {} ({} threads, {}) loaded in {load_secs:.2} s",
        model.info().name,
        model.threads(),
        model.compute_type(),
    );
    let options = TranscribeOptions {
        language: args.language.clone(),
        word_timestamps: args.word_timestamps,
        beam_size: args.beam_size,
        ..TranscribeOptions::default()
    };
    let mut total_audio = 0.0;
    let mut total_wall = 0.0;
    let mut runs = Vec::new();
    for file in &args.files {
        let mut source = WavSource::open(file)?;
        if source.layout.rate != 16_000 {
            return Err(format!(
                "{}: sample rate {}, expected 16000",
                file.display(),
                source.layout.rate
            )
            .into());
        }
        let mut walls = Vec::new();
        let mut last = None;
        for _ in 0..args.repeat.max(1) {
            let started = Instant::now();
            let result = model.transcribe_source(&mut source, &options, &mut |_| {})?;
            let wall = started.elapsed().as_secs_f64();
            total_audio += result.duration_secs;
            total_wall += wall;
            walls.push(wall);
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
            last = Some((result, text));
        }
        if let Some((result, text)) = last {
            runs.push(FileRun {
                path: file.display().to_string(),
                audio_secs: result.duration_secs,
                wall_secs: crate::compare::median(&walls),
                text: text.trim().to_string(),
                words: result
                    .segments
                    .iter()
                    .flat_map(|s| &s.words)
                    .map(|w| Word {
                        word: w.word.clone(),
                        start: w.start_secs,
                        end: w.end_secs,
                    })
                    .collect(),
            });
        }
    }
    println!(
        "total\taudio {total_audio:.2} s\twall {total_wall:.3} s\tRTF {:.3}",
        total_wall / total_audio.max(1e-9)
    );
    if let Some(json) = &args.json {
        EngineRun {
            engine: "dalston".to_string(),
            version: format!(
                "dalston-models {}, {}",
                env!("CARGO_PKG_VERSION"),
                model.compute_type()
            ),
            model: args.model.display().to_string(),
            threads: model.threads(),
            beam_size: args.beam_size,
            load_secs,
            peak_rss_kib: report::peak_rss_kib(),
            files: runs,
        }
        .write(json)?;
    }
    Ok(())
}

/// A WAV file read a window at a time, as the server's engines read their audio: the process's
/// peak memory then shows what transcription itself holds, whatever the file's length.
struct WavSource {
    file: File,
    layout: Pcm16Layout,
}

impl WavSource {
    fn open(path: &Path) -> Result<WavSource, String> {
        let mut file =
            File::open(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        let layout = Pcm16Layout::read(&mut file, path)?;
        Ok(WavSource { file, layout })
    }
}

impl SampleSource for WavSource {
    fn len(&self) -> usize {
        self.layout.frames
    }

    fn read(&mut self, range: Range<usize>) -> Result<Vec<f32>, SourceError> {
        Ok(self
            .layout
            .read_frames(&mut self.file, range.start, range.end)?)
    }
}
