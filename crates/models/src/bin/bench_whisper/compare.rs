//! The side-by-side table: reads the JSON runs of both engines (several repetitions each) and
//! prints per file and in total the audio length, each engine's median wall time, their ratio,
//! each engine's WER against the reference, how far apart their word timings are, model load
//! time and peak memory; then the long-input run, if there is one, next to the short-set peak.
//!
//! `bench_whisper compare --dalston RUN.json... --faster-whisper RUN.json... [--long-dalston
//! RUN.json] [--long-faster-whisper RUN.json] [--load-start "1.0 0.9 0.8"]` (flags repeat).

use std::path::{Path, PathBuf};

use dalston_core::wer::{WerBreakdown, wer_breakdown};

use crate::align::{TimingDiff, compare_timings};
use crate::references::reference_text;
use crate::report::{EngineRun, FileRun};

const USAGE: &str = "usage: bench_whisper compare --dalston RUN.json... --faster-whisper RUN.json... [--long-dalston RUN.json] [--long-faster-whisper RUN.json] [--load-start LOADAVG]";

#[derive(Default)]
struct Args {
    dalston: Vec<PathBuf>,
    faster_whisper: Vec<PathBuf>,
    long_dalston: Option<PathBuf>,
    long_faster_whisper: Option<PathBuf>,
    load_start: Option<String>,
}

/// Prints the comparison of the runs named by the arguments after `compare`.
pub fn main(mut arguments: impl Iterator<Item = String>) -> Result<(), Box<dyn std::error::Error>> {
    let mut args = Args::default();
    while let Some(flag) = arguments.next() {
        let value = arguments.next().ok_or(USAGE)?;
        match flag.as_str() {
            "--dalston" => args.dalston.push(value.into()),
            "--faster-whisper" => args.faster_whisper.push(value.into()),
            "--long-dalston" => args.long_dalston = Some(value.into()),
            "--long-faster-whisper" => args.long_faster_whisper = Some(value.into()),
            "--load-start" => args.load_start = Some(value),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}").into()),
        }
    }
    if args.dalston.is_empty() || args.faster_whisper.is_empty() {
        return Err(USAGE.into());
    }
    let dalston = read_runs(&args.dalston)?;
    let faster_whisper = read_runs(&args.faster_whisper)?;
    print_machine(args.load_start.as_deref());
    print_short(&dalston, &faster_whisper)?;
    let long_dalston = args
        .long_dalston
        .as_deref()
        .map(EngineRun::read)
        .transpose()?;
    let long_faster_whisper = args
        .long_faster_whisper
        .as_deref()
        .map(EngineRun::read)
        .transpose()?;
    if long_dalston.is_some() || long_faster_whisper.is_some() {
        print_long(&[
            (long_dalston.as_ref(), &dalston),
            (long_faster_whisper.as_ref(), &faster_whisper),
        ]);
    }
    Ok(())
}

fn read_runs(paths: &[PathBuf]) -> Result<Vec<EngineRun>, String> {
    let runs: Vec<EngineRun> = paths
        .iter()
        .map(|p| EngineRun::read(p))
        .collect::<Result<_, _>>()?;
    let files = |run: &EngineRun| run.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>();
    if runs.iter().any(|run| files(run) != files(&runs[0])) {
        return Err("the repetitions transcribed different files".to_string());
    }
    Ok(runs)
}

/// The median, halfway between the middle two for an even count; 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn median_of(runs: &[EngineRun], value: impl Fn(&EngineRun) -> f64) -> f64 {
    median(&runs.iter().map(value).collect::<Vec<_>>())
}

fn mib(kib: f64) -> f64 {
    kib / 1024.0
}

fn print_machine(load_start: Option<&str>) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load_end = std::fs::read_to_string("/proc/loadavg")
        .map(|load| {
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    println!(
        "machine: {cpu}, {cores} cores; load average {} at start, {load_end} at end",
        load_start.unwrap_or("?")
    );
}

/// One engine's word errors on a file; `None` without a reference text.
fn errors(file: &FileRun) -> Option<WerBreakdown> {
    reference_text(Path::new(&file.path)).map(|reference| wer_breakdown(&reference, &file.text))
}

fn percent(breakdown: Option<WerBreakdown>) -> String {
    breakdown.map_or_else(|| "-".to_string(), |b| format!("{:.1}", b.rate() * 100.0))
}

fn pooled(all: &[Option<WerBreakdown>]) -> Option<WerBreakdown> {
    all.iter().try_fold(WerBreakdown::default(), |sum, b| {
        let b = (*b)?;
        Some(WerBreakdown {
            substitutions: sum.substitutions + b.substitutions,
            deletions: sum.deletions + b.deletions,
            insertions: sum.insertions + b.insertions,
            reference_words: sum.reference_words + b.reference_words,
        })
    })
}

fn timing_cells(diff: &TimingDiff) -> String {
    let (start, end) = diff
        .means()
        .map_or(("-".to_string(), "-".to_string()), |(s, e)| {
            (format!("{s:.3}"), format!("{e:.3}"))
        });
    format!(
        "{start:>9} {end:>9} {:>5} of {}/{}",
        diff.matched, diff.words.0, diff.words.1
    )
}

fn describe(runs: &[EngineRun]) -> String {
    let run = &runs[0];
    format!(
        "{} ({}), {} threads, beam {}",
        run.engine, run.version, run.threads, run.beam_size
    )
}

fn print_short(dalston: &[EngineRun], faster_whisper: &[EngineRun]) -> Result<(), String> {
    let names = |runs: &[EngineRun]| {
        runs[0]
            .files
            .iter()
            .map(|f| f.path.clone())
            .collect::<Vec<_>>()
    };
    if names(dalston) != names(faster_whisper) {
        return Err("the two engines transcribed different files".to_string());
    }
    println!("model: {}", dalston[0].model);
    println!("dalston = {}", describe(dalston));
    println!("f-w     = {}", describe(faster_whisper));
    println!(
        "wall = transcription only, median of {} / {} runs, engines alternated; ratio = dalston / f-w; \
         Δstart, Δend = mean |difference| of word times (s) over words matched by text (of dalston/f-w words)",
        dalston.len(),
        faster_whisper.len()
    );
    let width = names(dalston)
        .iter()
        .map(|path| file_label(path).len())
        .max()
        .unwrap_or(4)
        .max(5);
    println!(
        "{:<width$} {:>8} {:>9} {:>9} {:>6} {:>8} {:>8} {:>9} {:>9} {:>14}",
        "file",
        "audio s",
        "dalston s",
        "f-w s",
        "ratio",
        "WER d %",
        "WER fw %",
        "Δstart",
        "Δend",
        "matched"
    );
    let (mut total_audio, mut total_d_errors, mut total_fw_errors) = (0.0, Vec::new(), Vec::new());
    let mut total_timing = TimingDiff::default();
    for (index, file) in dalston[0].files.iter().enumerate() {
        let wall = |runs: &[EngineRun]| {
            median(
                &runs
                    .iter()
                    .map(|r| r.files[index].wall_secs)
                    .collect::<Vec<_>>(),
            )
        };
        let (d_wall, fw_wall) = (wall(dalston), wall(faster_whisper));
        let fw_file = &faster_whisper[0].files[index];
        let (d_errors, fw_errors) = (errors(file), errors(fw_file));
        let timing = compare_timings(&file.words, &fw_file.words);
        total_audio += file.audio_secs;
        total_d_errors.push(d_errors);
        total_fw_errors.push(fw_errors);
        total_timing.add(&timing);
        println!(
            "{:<width$} {:>8.2} {d_wall:>9.3} {fw_wall:>9.3} {:>6.2} {:>8} {:>8} {}",
            file_label(&file.path),
            file.audio_secs,
            d_wall / fw_wall.max(1e-9),
            percent(d_errors),
            percent(fw_errors),
            timing_cells(&timing)
        );
    }
    let total = |runs: &[EngineRun]| median_of(runs, |r| r.files.iter().map(|f| f.wall_secs).sum());
    let (d_total, fw_total) = (total(dalston), total(faster_whisper));
    println!(
        "{:<width$} {total_audio:>8.2} {d_total:>9.3} {fw_total:>9.3} {:>6.2} {:>8} {:>8} {}",
        "total",
        d_total / fw_total.max(1e-9),
        percent(pooled(&total_d_errors)),
        percent(pooled(&total_fw_errors)),
        timing_cells(&total_timing)
    );
    println!(
        "real-time factor: dalston {:.3}, f-w {:.3}",
        d_total / total_audio.max(1e-9),
        fw_total / total_audio.max(1e-9)
    );
    println!(
        "model load s:     dalston {:.2}, f-w {:.2}",
        median_of(dalston, |r| r.load_secs),
        median_of(faster_whisper, |r| r.load_secs)
    );
    println!(
        "peak memory MiB:  dalston {:.0}, f-w {:.0} (whole process, model load included)",
        mib(median_of(dalston, |r| r.peak_rss_kib as f64)),
        mib(median_of(faster_whisper, |r| r.peak_rss_kib as f64))
    );
    for (engine, runs) in [("dalston", dalston), ("f-w", faster_whisper)] {
        let varied: Vec<String> = (0..runs[0].files.len())
            .filter(|&i| {
                runs.iter()
                    .any(|r| r.files[i].text != runs[0].files[i].text)
            })
            .map(|i| file_label(&runs[0].files[i].path))
            .collect();
        if !varied.is_empty() {
            println!(
                "note: {engine}'s text differed between runs on {} (WER and timings are from the first run)",
                varied.join(", ")
            );
        }
    }
    Ok(())
}

/// The long-input runs, each next to the same engine's peak on the short files.
fn print_long(engines: &[(Option<&EngineRun>, &Vec<EngineRun>)]) {
    let Some(first) = engines.iter().find_map(|(long, _)| *long) else {
        return;
    };
    let Some(file) = first.files.first() else {
        return;
    };
    println!();
    println!(
        "long input: {} ({:.1} min, test clips with 2–5 s pauses), one run per engine",
        file_label(&file.path),
        file.audio_secs / 60.0
    );
    println!(
        "{:<8} {:>9} {:>7} {:>7} {:>9} {:>15}",
        "engine", "wall s", "RTF", "WER %", "peak MiB", "short-set MiB"
    );
    for (long, short) in engines {
        let Some(long) = long else { continue };
        let Some(run) = long.files.first() else {
            continue;
        };
        let label = if long.engine == "dalston" {
            "dalston"
        } else {
            "f-w"
        };
        println!(
            "{label:<8} {:>9.1} {:>7.3} {:>7} {:>9.0} {:>15.0}",
            run.wall_secs,
            run.wall_secs / run.audio_secs.max(1e-9),
            percent(errors(run)),
            mib(long.peak_rss_kib as f64),
            mib(median_of(short, |r| r.peak_rss_kib as f64))
        );
    }
    if let [(Some(a), _), (Some(b), _)] = engines
        && let (Some(a), Some(b)) = (a.files.first(), b.files.first())
    {
        let timing = compare_timings(&a.words, &b.words);
        println!(
            "word times dalston vs f-w: Δstart Δend matched {}",
            timing_cells(&timing)
        );
    }
}

fn file_label(path: &str) -> String {
    Path::new(path).file_name().map_or_else(
        || path.to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
