//! A minimal RIFF/WAVE reader for the test and benchmark recordings (16-bit PCM), so this
//! crate's tests do not depend on the audio crate being built alongside it.

use std::path::Path;

/// Samples (channels averaged) scaled to `[-1, 1)` and the sample rate of a 16-bit PCM WAV file.
pub fn read_wav(path: &Path) -> Result<(Vec<f32>, u32), String> {
    let bytes =
        std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(format!("{} is not a RIFF/WAVE file", path.display()));
    }
    let (mut channels, mut rate, mut bits) = (0u16, 0u32, 0u16);
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let body = &bytes[pos + 8..(pos + 8 + size).min(bytes.len())];
        if id == b"fmt " && body.len() >= 16 {
            channels = u16::from_le_bytes([body[2], body[3]]);
            rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            bits = u16::from_le_bytes([body[14], body[15]]);
        } else if id == b"data" {
            if bits != 16 || channels == 0 {
                return Err(format!("{}: only 16-bit PCM is supported", path.display()));
            }
            let frame: Vec<i16> = body
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            let samples = frame
                .chunks_exact(usize::from(channels))
                .map(|f| {
                    f.iter().map(|&s| f32::from(s)).sum::<f32>() / (32768.0 * f32::from(channels))
                })
                .collect();
            return Ok((samples, rate));
        }
        pos += 8 + size + (size & 1);
    }
    Err(format!("{} has no data chunk", path.display()))
}
