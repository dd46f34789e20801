//! The JSON one engine's run writes: what was run, how long loading took, the process's peak
//! memory, and per file the wall time, text and timed words. `scripts/bench/faster_whisper_run.py`
//! writes the same shape for faster-whisper, so one comparison reads both.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One engine process transcribing a list of files.
#[derive(Debug, Serialize, Deserialize)]
pub struct EngineRun {
    /// `dalston` or `faster-whisper`.
    pub engine: String,
    /// Engine version and precision, for the printed header.
    pub version: String,
    /// The model directory.
    pub model: String,
    pub threads: usize,
    pub beam_size: usize,
    pub load_secs: f64,
    /// Peak resident memory of the whole process (VmHWM), model load included.
    pub peak_rss_kib: u64,
    pub files: Vec<FileRun>,
}

/// One file's transcription.
#[derive(Debug, Serialize, Deserialize)]
pub struct FileRun {
    pub path: String,
    pub audio_secs: f64,
    /// Transcription only: samples in, words out.
    pub wall_secs: f64,
    pub text: String,
    pub words: Vec<Word>,
}

/// A word and when it was said, as the engine gives it (punctuation and spaces included).
#[derive(Debug, Serialize, Deserialize)]
pub struct Word {
    pub word: String,
    pub start: f64,
    pub end: f64,
}

impl EngineRun {
    /// Reads a run written by either engine.
    pub fn read(path: &Path) -> Result<EngineRun, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))
    }

    /// Writes the run as JSON.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string(self).map_err(|err| err.to_string())?;
        std::fs::write(path, text).map_err(|err| format!("cannot write {}: {err}", path.display()))
    }
}

/// This process's peak resident memory (`VmHWM` in `/proc/self/status`), in KiB; 0 where the
/// kernel does not say.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}
