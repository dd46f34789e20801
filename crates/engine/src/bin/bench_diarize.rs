//! Diarization benchmark: builds multi-speaker recordings with exact reference turns from real
//! single-speaker recordings (jfk, the LibriVox reader) and two `espeak-ng` voices (male and
//! female, when `espeak-ng` is installed), cut into 2–5 s utterances and laid out with pauses,
//! back to back, or overlapping; runs the diarize stage's pipeline on each and prints DER
//! (missed, false alarm, confusion; 0.25 s collar and none), the speaker count found and the
//! real-time factor (embedding and clustering; the clustering's share is printed apart). The
//! whole recording is one speech region (no VAD), so pauses inside a turn count as false
//! alarm. Not a test: figures vary with the machine.
//!
//! `cargo run --release -p dalston-engine --bin bench_diarize`
#![expect(clippy::print_stdout, reason = "a benchmark prints its results")]

use std::path::{Path, PathBuf};
use std::time::Instant;

use dalston_audio::{DecodeOptions, FfmpegPolicy};
use dalston_core::diarization::compose::{Composed, interleave};
use dalston_core::diarization::der::{DiarizationError, diarization_error};
use dalston_core::diarization::{SpeakerCount, TimeSpan, diarize};
use dalston_engine::engines::diarize::{SPEAKER_MODEL_DIR, embed_windows};
use dalston_models::SpeakerEncoder;

const ESPEAK_TEXT: &str = "The committee met on Tuesday to discuss the budget for next year. \
    Several members argued that the library needed new windows before the winter. \
    Others wanted to spend the money on the children's playground near the river. \
    After two hours nobody had changed their mind, so the chair postponed the vote.";

fn cache(variable: &str, leaf: &str) -> PathBuf {
    std::env::var_os(variable).map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/dalston")
                .join(leaf)
        },
        PathBuf::from,
    )
}

fn load(path: &Path) -> Result<Vec<f32>, String> {
    let options = DecodeOptions {
        max_duration_secs: None,
        ffmpeg: FfmpegPolicy::Never,
        channel: None,
    };
    dalston_audio::decode_file(path, &options)
        .map(|decoded| decoded.samples)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn espeak(voice: &str, dir: &Path) -> Option<Vec<f32>> {
    let out = dir.join(format!("{voice}.wav"));
    let status = std::process::Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(&out)
        .arg(ESPEAK_TEXT)
        .status()
        .ok()?;
    status.success().then(|| load(&out).ok()).flatten()
}

/// A composed recording: its name, the source clips in turn order, and the pause range (s).
type Scenario<'a> = (&'static str, Vec<&'a Vec<f32>>, (f64, f64));

fn main() -> Result<(), String> {
    let data = cache("DALSTON_TEST_DATA_DIR", "test-data");
    let encoder =
        SpeakerEncoder::load(&cache("DALSTON_MODELS_DIR", "models").join(SPEAKER_MODEL_DIR))
            .map_err(|e| e.to_string())?;
    let jfk = load(&data.join("jfk.wav"))?;
    let mut reader = Vec::new();
    for clip in ["0870", "0880", "0890", "0920", "0930"] {
        reader.extend(load(&data.join(format!(
            "librivox/sense_and_sensibility_01_austen_64kb-{clip}.wav"
        )))?);
    }
    let scratch = std::env::temp_dir().join(format!("bench_diarize_{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let male = espeak("en-us", &scratch);
    let female = espeak("en+f3", &scratch);
    let _ = std::fs::remove_dir_all(&scratch);

    let mut scenarios: Vec<Scenario<'_>> = vec![
        ("1 speaker (reader)", vec![&reader], (0.2, 0.8)),
        (
            "2 speakers, pauses 0.2-1.0 s",
            vec![&jfk, &reader],
            (0.2, 1.0),
        ),
        ("2 speakers, back to back", vec![&reader, &jfk], (0.0, 0.0)),
        (
            "2 speakers, overlaps 0.1-0.4 s",
            vec![&jfk, &reader],
            (-0.4, -0.1),
        ),
    ];
    if let (Some(male), Some(female)) = (&male, &female) {
        scenarios.push((
            "3 speakers (+espeak m), pauses",
            vec![&jfk, &reader, male],
            (0.2, 1.0),
        ));
        scenarios.push((
            "3 speakers (+espeak m), back to back",
            vec![&reader, male, &jfk],
            (0.0, 0.0),
        ));
        scenarios.push((
            "4 speakers (+espeak m, f), pauses",
            vec![&jfk, &reader, male, female],
            (0.2, 1.0),
        ));
        scenarios.push((
            "4 speakers (+espeak m, f), overlaps",
            vec![female, &jfk, male, &reader],
            (-0.3, -0.1),
        ));
    } else {
        println!("espeak-ng not found: only the real-speech scenarios run");
    }

    println!(
        "{:<40} {:>6} {:>5}/{:<4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "scenario", "audio", "found", "true", "DER.25", "miss", "FA", "conf", "DER0", "RTF"
    );
    let (mut collared, mut full) = (DiarizationError::default(), DiarizationError::default());
    let (mut audio_secs, mut elapsed_secs, mut clustering_secs, mut counts_right) =
        (0.0, 0.0, 0.0, 0);
    for (index, (name, speakers, gap)) in scenarios.iter().enumerate() {
        let sources: Vec<&[f32]> = speakers.iter().map(|s| s.as_slice()).collect();
        let Composed {
            samples,
            turns: reference,
        } = interleave(&sources, *gap, 17 + index as u64, 16_000);
        let duration = samples.len() as f64 / 16_000.0;
        let started = Instant::now();
        let (spans, embeddings) = embed_windows(
            &encoder,
            &samples,
            &[TimeSpan::new(0.0, duration)],
            |_, _| true,
        )
        .map_err(|e| e.to_string())?;
        let embedded = Instant::now();
        let turns = diarize(&spans, &embeddings, &SpeakerCount::default());
        clustering_secs += embedded.elapsed().as_secs_f64();
        let took = started.elapsed().as_secs_f64();
        let found = turns.iter().map(|t| t.speaker + 1).max().unwrap_or(0);
        let with_collar = diarization_error(&reference, &turns, 0.25);
        let without = diarization_error(&reference, &turns, 0.0);
        let pct = |part: f64| 100.0 * part / with_collar.reference_secs.max(1e-9);
        println!(
            "{:<40} {:>5.1}s {:>5}/{:<4} {:>6.1}% {:>6.1}% {:>6.1}% {:>6.1}% {:>6.1}% {:>7.4}",
            name,
            duration,
            found,
            speakers.len(),
            100.0 * with_collar.rate(),
            pct(with_collar.missed_secs),
            pct(with_collar.false_alarm_secs),
            pct(with_collar.confusion_secs),
            100.0 * without.rate(),
            took / duration
        );
        collared.add(&with_collar);
        full.add(&without);
        audio_secs += duration;
        elapsed_secs += took;
        counts_right += usize::from(found == speakers.len());
    }
    println!(
        "total: {:.0} s of audio, DER {:.1}% with 0.25 s collar (miss {:.1}%, FA {:.1}%, confusion {:.1}%), {:.1}% without; speaker count right in {}/{}; diarization {:.2} s (clustering {:.2} s), real-time factor {:.4}",
        audio_secs,
        100.0 * collared.rate(),
        100.0 * collared.missed_secs / collared.reference_secs,
        100.0 * collared.false_alarm_secs / collared.reference_secs,
        100.0 * collared.confusion_secs / collared.reference_secs,
        100.0 * full.rate(),
        counts_right,
        scenarios.len(),
        elapsed_secs,
        clustering_secs,
        elapsed_secs / audio_secs
    );
    Ok(())
}
