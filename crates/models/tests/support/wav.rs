//! A minimal RIFF/WAVE reader for the test and benchmark recordings (16-bit PCM), so this
//! crate's tests do not depend on the audio crate being built alongside it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Where a 16-bit PCM WAV file keeps its samples, read from its chunk headers alone.
pub struct Pcm16Layout {
    pub channels: u16,
    pub rate: u32,
    /// Byte offset of the first sample.
    pub data_offset: u64,
    /// Samples per channel.
    pub frames: usize,
}

impl Pcm16Layout {
    /// Walks the chunks of the open `file` (named `path` in errors) up to its `data` chunk,
    /// seeking over the others.
    pub fn read(file: &mut File, path: &Path) -> Result<Pcm16Layout, String> {
        let io = |err: std::io::Error| format!("cannot read {}: {err}", path.display());
        let file_len = file.metadata().map_err(io)?.len();
        let mut riff = [0u8; 12];
        file.read_exact(&mut riff)
            .map_err(|_| format!("{} is not a RIFF/WAVE file", path.display()))?;
        if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
            return Err(format!("{} is not a RIFF/WAVE file", path.display()));
        }
        let (mut channels, mut rate, mut bits) = (0u16, 0u32, 0u16);
        let mut header = [0u8; 8];
        while file.read_exact(&mut header).is_ok() {
            let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            if &header[0..4] == b"fmt " && size >= 16 {
                let mut body = [0u8; 16];
                file.read_exact(&mut body).map_err(io)?;
                channels = u16::from_le_bytes([body[2], body[3]]);
                rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                bits = u16::from_le_bytes([body[14], body[15]]);
                file.seek(SeekFrom::Current(i64::from(size - 16 + (size & 1))))
                    .map_err(io)?;
            } else if &header[0..4] == b"data" {
                if bits != 16 || channels == 0 {
                    return Err(format!("{}: only 16-bit PCM is supported", path.display()));
                }
                let data_offset = file.stream_position().map_err(io)?;
                let bytes = u64::from(size).min(file_len.saturating_sub(data_offset));
                let frames = usize::try_from(bytes).map_err(|e| e.to_string())?
                    / (2 * usize::from(channels));
                return Ok(Pcm16Layout {
                    channels,
                    rate,
                    data_offset,
                    frames,
                });
            } else {
                file.seek(SeekFrom::Current(i64::from(size) + i64::from(size & 1)))
                    .map_err(io)?;
            }
        }
        Err(format!("{} has no data chunk", path.display()))
    }

    /// Frames `start..end` of the open `file`, channels averaged, scaled to `[-1, 1)`.
    pub fn read_frames(
        &self,
        file: &mut File,
        start: usize,
        end: usize,
    ) -> std::io::Result<Vec<f32>> {
        let channels = usize::from(self.channels);
        let frame_bytes = 2 * channels;
        file.seek(SeekFrom::Start(
            self.data_offset + (start * frame_bytes) as u64,
        ))?;
        let mut bytes = vec![0u8; end.saturating_sub(start) * frame_bytes];
        file.read_exact(&mut bytes)?;
        Ok(bytes
            .chunks_exact(frame_bytes)
            .map(|frame| {
                let sum: f32 = frame
                    .chunks_exact(2)
                    .map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])))
                    .sum();
                sum / (32768.0 * f32::from(self.channels))
            })
            .collect())
    }
}

/// Samples (channels averaged) scaled to `[-1, 1)` and the sample rate of a 16-bit PCM WAV file.
pub fn read_wav(path: &Path) -> Result<(Vec<f32>, u32), String> {
    let mut file =
        File::open(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let layout = Pcm16Layout::read(&mut file, path)?;
    let samples = layout
        .read_frames(&mut file, 0, layout.frames)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    Ok((samples, layout.rate))
}
