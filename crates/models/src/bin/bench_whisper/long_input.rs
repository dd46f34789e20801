//! A long recording for the memory and speed check: real test clips one after another,
//! repeated until the wanted length, with 2–5 s of silence between them, written as 16 kHz
//! 16-bit WAV; and beside it (`NAME.txt`) the reference text when every clip has one.
//!
//! `bench_whisper long-input --minutes M --out FILE.wav CLIP.wav...`

use std::path::{Path, PathBuf};

use crate::references::reference_text;
use crate::wav::read_wav;

const USAGE: &str = "usage: bench_whisper long-input --minutes M --out FILE.wav CLIP.wav...";
const RATE: u32 = 16_000;

/// Builds the long input from the arguments after `long-input`.
pub fn main(mut arguments: impl Iterator<Item = String>) -> Result<(), Box<dyn std::error::Error>> {
    let (mut minutes, mut out, mut clips) = (None, None, Vec::new());
    while let Some(arg) = arguments.next() {
        match arg.as_str() {
            "--minutes" => {
                let value = arguments.next().ok_or(USAGE)?;
                minutes = Some(
                    value
                        .parse::<f64>()
                        .map_err(|e| format!("--minutes: {e}"))?,
                );
            }
            "--out" => out = Some(PathBuf::from(arguments.next().ok_or(USAGE)?)),
            _ => clips.push(PathBuf::from(arg)),
        }
    }
    let (Some(minutes), Some(out)) = (minutes, out) else {
        return Err(USAGE.into());
    };
    if clips.is_empty() || minutes <= 0.0 {
        return Err(USAGE.into());
    }
    build(&clips, minutes * 60.0, &out)
}

/// Seconds of silence after the `index`-th clip: spread over [2, 5) s by the golden-ratio
/// sequence, so pauses vary without a random generator and every run builds the same file.
fn pause_secs(index: usize) -> f64 {
    const GOLDEN: f64 = 0.618_033_988_749_895;
    2.0 + 3.0 * (index as f64 * GOLDEN).fract()
}

fn build(clips: &[PathBuf], min_secs: f64, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut loaded = Vec::new();
    for clip in clips {
        let (samples, rate) = read_wav(clip)?;
        if rate != RATE {
            return Err(format!("{}: sample rate {rate}, expected {RATE}", clip.display()).into());
        }
        loaded.push((samples, reference_text(clip)));
    }
    let mut pcm: Vec<i16> = Vec::new();
    let mut references = Vec::new();
    let mut index = 0;
    while (pcm.len() as f64) < min_secs * f64::from(RATE) {
        let (samples, reference) = &loaded[index % loaded.len()];
        pcm.extend(
            samples
                .iter()
                .map(|&s| (s * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16),
        );
        references.push(reference.clone());
        let silence = (pause_secs(index) * f64::from(RATE)) as usize;
        pcm.resize(pcm.len() + silence, 0);
        index += 1;
    }
    std::fs::write(out, wav_pcm16(&pcm))?;
    let reference_path = out.with_extension("txt");
    match references.into_iter().collect::<Option<Vec<_>>>() {
        Some(texts) => std::fs::write(&reference_path, texts.join("\n"))?,
        None if reference_path.exists() => std::fs::remove_file(&reference_path)?,
        None => {}
    }
    Ok(())
}

/// A canonical mono 16-bit PCM WAV file.
fn wav_pcm16(pcm: &[i16]) -> Vec<u8> {
    let data_len = (pcm.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + pcm.len() * 2);
    for part in [
        b"RIFF".as_slice(),
        &(36 + data_len).to_le_bytes(),
        b"WAVEfmt ",
    ] {
        bytes.extend_from_slice(part);
    }
    bytes.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&RATE.to_le_bytes());
    bytes.extend_from_slice(&(RATE * 2).to_le_bytes()); // bytes per second
    bytes.extend_from_slice(&2u16.to_le_bytes()); // block align
    bytes.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    bytes.extend(pcm.iter().flat_map(|s| s.to_le_bytes()));
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_stay_between_two_and_five_seconds_and_vary() {
        let pauses: Vec<f64> = (0..200).map(pause_secs).collect();
        assert!(pauses.iter().all(|p| (2.0..5.0).contains(p)));
        assert!(pauses.iter().any(|&p| p < 2.5) && pauses.iter().any(|&p| p > 4.5));
    }

    #[test]
    fn written_wav_reads_back() {
        let dir = std::env::temp_dir().join(format!("bench-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.wav");
        std::fs::write(&path, wav_pcm16(&[0, 16_384, -32_768, 32_767])).unwrap();
        let (samples, rate) = read_wav(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(rate, RATE);
        assert_eq!(samples, [0.0, 0.5, -1.0, 32_767.0 / 32_768.0]);
    }
}
