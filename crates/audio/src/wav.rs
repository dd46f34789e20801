//! The "prepared audio" artifact: 16-bit PCM WAV, written and read without a codec library.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::AudioError;
use crate::mono::downmix_into;

/// Bytes in the canonical header [`encode_wav_pcm16`] writes (RIFF + `fmt ` + `data` headers).
const CANONICAL_HEADER_LEN: usize = 44;
/// `WAVE_FORMAT_PCM`.
const FORMAT_TAG_PCM: u16 = 0x0001;
/// `WAVE_FORMAT_EXTENSIBLE`: the real format is in the sub-format GUID's first two bytes.
const FORMAT_TAG_EXTENSIBLE: u16 = 0xFFFE;
/// Full scale of a signed 16-bit sample, the factor between `f32` in `[-1, 1)` and `i16`.
const PCM16_FULL_SCALE: f32 = 32_768.0;

/// Encode mono samples as a 16-bit PCM WAV file.
///
/// Samples are clipped to `[-1, 1]` and rounded to the nearest 16-bit step, so decoding with
/// [`decode_wav_pcm16`] returns each sample within `1 / 65536` of the input.
pub fn encode_wav_pcm16(samples: &[f32], sample_rate_hz: u32) -> Vec<u8> {
    let samples = &samples[..samples.len().min(MAX_SAMPLES)];
    let mut bytes = Vec::with_capacity(CANONICAL_HEADER_LEN + samples.len() * 2);
    bytes.extend_from_slice(&wav_pcm16_header(samples.len(), sample_rate_hz));
    for &sample in samples {
        bytes.extend_from_slice(&sample_to_pcm16(sample).to_le_bytes());
    }
    bytes
}

/// RIFF sizes are 32-bit: a clip past 4 GiB (37 hours at 16 kHz) is cut to what fits.
const MAX_SAMPLES: usize = (u32::MAX as usize - CANONICAL_HEADER_LEN) / 2;

/// The 44-byte header of a mono 16-bit PCM WAV file holding `samples` samples (also what makes
/// raw 16-bit PCM a WAV file: this header, then the samples).
pub fn wav_pcm16_header(samples: usize, sample_rate_hz: u32) -> [u8; CANONICAL_HEADER_LEN] {
    const CHANNELS: u16 = 1;
    const BYTES_PER_SAMPLE: u16 = 2;
    let data_len = (samples.min(MAX_SAMPLES) * 2) as u32;
    let block_align = CHANNELS * BYTES_PER_SAMPLE;
    let mut header = [0u8; CANONICAL_HEADER_LEN];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &(36 + data_len).to_le_bytes(),
        b"WAVEfmt ",
        &16u32.to_le_bytes(),
        &FORMAT_TAG_PCM.to_le_bytes(),
        &CHANNELS.to_le_bytes(),
        &sample_rate_hz.to_le_bytes(),
        &(sample_rate_hz.saturating_mul(u32::from(block_align))).to_le_bytes(),
        &block_align.to_le_bytes(),
        &(BYTES_PER_SAMPLE * 8).to_le_bytes(),
        b"data",
        &data_len.to_le_bytes(),
        &[],
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}

/// Writes a mono 16-bit PCM WAV file block by block (the header's sizes are filled in by
/// [`finish`](WavWriter::finish)), so the prepared audio of a long recording is never in memory.
pub struct WavWriter {
    file: BufWriter<File>,
    sample_rate_hz: u32,
    samples: usize,
    /// Scratch for one block's bytes.
    bytes: Vec<u8>,
}

impl WavWriter {
    /// Creates (or truncates) `path` and writes a provisional header.
    ///
    /// # Errors
    /// [`AudioError::Io`] when the file cannot be written.
    pub fn create(path: &Path, sample_rate_hz: u32) -> Result<Self, AudioError> {
        let mut file = BufWriter::new(File::create(path).map_err(AudioError::Io)?);
        file.write_all(&wav_pcm16_header(0, sample_rate_hz))
            .map_err(AudioError::Io)?;
        Ok(Self {
            file,
            sample_rate_hz,
            samples: 0,
            bytes: Vec::new(),
        })
    }

    /// Samples written so far.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Appends samples, clipped and rounded as [`encode_wav_pcm16`] does; past the 4 GiB a WAV
    /// file can hold, the rest is dropped.
    ///
    /// # Errors
    /// [`AudioError::Io`] when the file cannot be written.
    pub fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        let room = MAX_SAMPLES - self.samples;
        let samples = &samples[..samples.len().min(room)];
        self.bytes.clear();
        for &sample in samples {
            self.bytes
                .extend_from_slice(&sample_to_pcm16(sample).to_le_bytes());
        }
        self.file.write_all(&self.bytes).map_err(AudioError::Io)?;
        self.samples += samples.len();
        Ok(())
    }

    /// Drops everything written, back to an empty file.
    ///
    /// # Errors
    /// [`AudioError::Io`] when the file cannot be written.
    pub fn clear(&mut self) -> Result<(), AudioError> {
        self.file.flush().map_err(AudioError::Io)?;
        let file = self.file.get_mut();
        file.set_len(CANONICAL_HEADER_LEN as u64)
            .map_err(AudioError::Io)?;
        file.seek(SeekFrom::End(0)).map_err(AudioError::Io)?;
        self.samples = 0;
        Ok(())
    }

    /// Writes the real sizes into the header and flushes.
    ///
    /// # Errors
    /// [`AudioError::Io`] when the file cannot be written.
    pub fn finish(mut self) -> Result<(), AudioError> {
        self.file.flush().map_err(AudioError::Io)?;
        let file = self.file.get_mut();
        file.seek(SeekFrom::Start(0)).map_err(AudioError::Io)?;
        file.write_all(&wav_pcm16_header(self.samples, self.sample_rate_hz))
            .map_err(AudioError::Io)?;
        file.sync_all().map_err(AudioError::Io)
    }
}

/// Reads ranges of samples from a 16-bit PCM WAV file without loading it: what the later stages
/// use to take the prepared audio one chunk at a time.
pub struct WavReader {
    file: File,
    format: Pcm16Format,
    data_offset: u64,
    frames: usize,
}

impl WavReader {
    /// Opens `path` and reads its header.
    ///
    /// # Errors
    /// As [`decode_wav_pcm16`], and [`AudioError::Io`] when the file cannot be read.
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let mut file = File::open(path).map_err(AudioError::Io)?;
        let file_len = file.metadata().map_err(AudioError::Io)?.len();
        let mut header = Vec::with_capacity(MAX_HEADER_BYTES);
        (&mut file)
            .take(MAX_HEADER_BYTES as u64)
            .read_to_end(&mut header)
            .map_err(AudioError::Io)?;
        let (format, data_offset, _) = locate_data(&header)?;
        let data_len = file_len.saturating_sub(data_offset as u64);
        let frames = usize::try_from(data_len).unwrap_or(usize::MAX) / (2 * format.channels);
        Ok(Self {
            file,
            format,
            data_offset: data_offset as u64,
            frames,
        })
    }

    pub fn sample_rate_hz(&self) -> u32 {
        self.format.sample_rate_hz
    }

    /// Length in samples (frames, for a multi-channel file).
    pub fn len(&self) -> usize {
        self.frames
    }

    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// Samples `start..end` (clamped to the file), downmixed to mono.
    ///
    /// # Errors
    /// [`AudioError::Io`] when the file cannot be read.
    pub fn read(&mut self, start: usize, end: usize) -> Result<Vec<f32>, AudioError> {
        let end = end.min(self.frames);
        let start = start.min(end);
        let frame_bytes = 2 * self.format.channels;
        self.file
            .seek(SeekFrom::Start(
                self.data_offset + (start * frame_bytes) as u64,
            ))
            .map_err(AudioError::Io)?;
        let mut bytes = vec![0u8; (end - start) * frame_bytes];
        self.file.read_exact(&mut bytes).map_err(AudioError::Io)?;
        Ok(self.format.samples(&bytes))
    }
}

/// Header bytes [`WavReader`] reads to find the data chunk (metadata chunks before it included).
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Read a 16-bit PCM WAV file back into `f32` samples and its sample rate.
///
/// Multi-channel files are downmixed by averaging. A `data` chunk shorter than its header
/// claims (a truncated file, or a streaming writer's placeholder size) yields the samples present.
///
/// # Errors
///
/// [`AudioError::Empty`] for zero bytes; [`AudioError::Unsupported`] when the bytes are not a
/// RIFF/WAVE file or not 16-bit PCM; [`AudioError::Corrupt`] when the `fmt ` or `data` chunk is
/// missing or malformed.
pub fn decode_wav_pcm16(bytes: &[u8]) -> Result<(Vec<f32>, u32), AudioError> {
    let (format, offset, len) = locate_data(bytes)?;
    let body = &bytes[offset..];
    Ok((
        format.samples(&body[..len.min(body.len())]),
        format.sample_rate_hz,
    ))
}

/// The format, the offset of the `data` chunk's body and its declared length, from a file's
/// first bytes (at least up to the start of the data).
fn locate_data(bytes: &[u8]) -> Result<(Pcm16Format, usize, usize), AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(AudioError::Unsupported {
            detail: "expected a RIFF/WAVE file".to_owned(),
        });
    }
    let mut format: Option<Pcm16Format> = None;
    let mut offset = 12;
    while bytes.len() >= offset + 8 {
        let rest = &bytes[offset..];
        let id = &rest[0..4];
        let declared_len = read_u32(&rest[4..8]) as usize;
        let body = &rest[8..];
        let body_len = declared_len.min(body.len());
        match id {
            b"fmt " => format = Some(Pcm16Format::parse(&body[..body_len])?),
            b"data" => {
                let format =
                    format.ok_or_else(|| corrupt("the data chunk comes before any fmt chunk"))?;
                return Ok((format, offset + 8, declared_len));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        let advance = body_len.saturating_add(declared_len & 1).min(body.len());
        offset += 8 + advance;
    }
    Err(corrupt("no data chunk"))
}

/// The parts of a `fmt ` chunk this reader needs, validated as 16-bit PCM.
#[derive(Clone, Copy)]
struct Pcm16Format {
    channels: usize,
    sample_rate_hz: u32,
}

impl Pcm16Format {
    fn parse(chunk: &[u8]) -> Result<Self, AudioError> {
        if chunk.len() < 16 {
            return Err(corrupt("fmt chunk shorter than 16 bytes"));
        }
        let mut format_tag = read_u16(&chunk[0..2]);
        let channels = read_u16(&chunk[2..4]);
        let sample_rate_hz = read_u32(&chunk[4..8]);
        let bits_per_sample = read_u16(&chunk[14..16]);
        if format_tag == FORMAT_TAG_EXTENSIBLE && chunk.len() >= 26 {
            format_tag = read_u16(&chunk[24..26]);
        }
        if format_tag != FORMAT_TAG_PCM || bits_per_sample != 16 {
            return Err(AudioError::Unsupported {
                detail: format!(
                    "expected 16-bit PCM WAV, found format tag {format_tag:#06x} with {bits_per_sample} bits per sample"
                ),
            });
        }
        if channels == 0 || sample_rate_hz == 0 {
            return Err(corrupt(&format!(
                "fmt chunk declares {channels} channels at {sample_rate_hz} Hz"
            )));
        }
        Ok(Self {
            channels: usize::from(channels),
            sample_rate_hz,
        })
    }

    fn samples(self, data: &[u8]) -> Vec<f32> {
        let frame_bytes = 2 * self.channels;
        let whole_frames = data.len() / frame_bytes * frame_bytes;
        let interleaved: Vec<f32> = data[..whole_frames]
            .chunks_exact(2)
            .map(|pair| f32::from(i16::from_le_bytes([pair[0], pair[1]])) / PCM16_FULL_SCALE)
            .collect();
        if self.channels == 1 {
            return interleaved;
        }
        let mut mono = Vec::with_capacity(interleaved.len() / self.channels);
        downmix_into(&interleaved, self.channels, &mut mono);
        mono
    }
}

fn sample_to_pcm16(sample: f32) -> i16 {
    // NaN maps to 0 (`as` saturates and sends NaN to zero).
    (sample.clamp(-1.0, 1.0) * PCM16_FULL_SCALE)
        .round()
        .clamp(-32_768.0, 32_767.0) as i16
}

fn read_u16(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[0], bytes[1]])
}

fn read_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn corrupt(detail: &str) -> AudioError {
    AudioError::Corrupt {
        detail: format!("malformed WAV file: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{WavReader, WavWriter, decode_wav_pcm16, encode_wav_pcm16};
    use crate::AudioError;

    #[test]
    fn round_trip_keeps_rate_and_samples() {
        let samples: Vec<f32> = (0..1000)
            .map(|index| ((index as f32) * 0.01).sin() * 0.8)
            .collect();
        let bytes = encode_wav_pcm16(&samples, 16_000);
        assert_eq!(bytes.len(), 44 + 2000);
        let (decoded, rate) = decode_wav_pcm16(&bytes).unwrap();
        assert_eq!(rate, 16_000);
        assert_eq!(decoded.len(), samples.len());
        for (original, decoded) in samples.iter().zip(&decoded) {
            assert!((original - decoded).abs() <= 1.0 / 65_536.0 + 1e-7);
        }
    }

    #[test]
    fn out_of_range_and_nan_samples_are_clipped() {
        let bytes = encode_wav_pcm16(&[2.0, -2.0, f32::NAN, 1.0, -1.0], 8_000);
        let (decoded, rate) = decode_wav_pcm16(&bytes).unwrap();
        assert_eq!(rate, 8_000);
        assert_eq!(
            decoded,
            vec![32_767.0 / 32_768.0, -1.0, 0.0, 32_767.0 / 32_768.0, -1.0]
        );
    }

    #[test]
    fn empty_clip_round_trips() {
        let (decoded, rate) = decode_wav_pcm16(&encode_wav_pcm16(&[], 16_000)).unwrap();
        assert!(decoded.is_empty());
        assert_eq!(rate, 16_000);
    }

    #[test]
    fn stereo_pcm16_is_downmixed() {
        let mut bytes = encode_wav_pcm16(&[0.5, 0.0, -0.5, 0.25], 22_050);
        // Patch the header to two channels (block align 4, byte rate doubled).
        bytes[22..24].copy_from_slice(&2u16.to_le_bytes());
        bytes[28..32].copy_from_slice(&(22_050u32 * 4).to_le_bytes());
        bytes[32..34].copy_from_slice(&4u16.to_le_bytes());
        let (decoded, _) = decode_wav_pcm16(&bytes).unwrap();
        assert_eq!(decoded, vec![0.25, -0.125]);
    }

    #[test]
    fn truncated_data_yields_the_samples_present() {
        let bytes = encode_wav_pcm16(&[0.5; 100], 16_000);
        let (decoded, _) = decode_wav_pcm16(&bytes[..44 + 61]).unwrap();
        assert_eq!(decoded.len(), 30);
    }

    #[test]
    fn writer_and_reader_agree_with_the_in_memory_codec() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prepared.wav");
        let samples: Vec<f32> = (0..10_000)
            .map(|index| ((index as f32) * 0.003).sin() * 0.7)
            .collect();
        let mut writer = WavWriter::create(&path, 16_000).unwrap();
        writer.write(&[0.9; 500]).unwrap();
        writer.clear().unwrap();
        for piece in samples.chunks(777) {
            writer.write(piece).unwrap();
        }
        assert_eq!(writer.samples(), samples.len());
        writer.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes, encode_wav_pcm16(&samples, 16_000));
        let mut reader = WavReader::open(&path).unwrap();
        assert_eq!((reader.len(), reader.sample_rate_hz()), (10_000, 16_000));
        let (whole, _) = decode_wav_pcm16(&bytes).unwrap();
        assert_eq!(reader.read(1_234, 5_678).unwrap(), whole[1_234..5_678]);
        assert_eq!(reader.read(9_990, 20_000).unwrap(), whole[9_990..]);
        assert!(reader.read(20_000, 30_000).unwrap().is_empty());
    }

    #[test]
    fn bad_input_gets_the_right_error() {
        assert!(matches!(decode_wav_pcm16(&[]), Err(AudioError::Empty)));
        assert!(matches!(
            decode_wav_pcm16(b"hello world, not a wav file"),
            Err(AudioError::Unsupported { .. })
        ));
        let header_only = &encode_wav_pcm16(&[0.0; 4], 16_000)[..36];
        assert!(matches!(
            decode_wav_pcm16(header_only),
            Err(AudioError::Corrupt { .. })
        ));
        let mut float_wav = encode_wav_pcm16(&[0.0; 4], 16_000);
        float_wav[20..22].copy_from_slice(&3u16.to_le_bytes());
        assert!(matches!(
            decode_wav_pcm16(&float_wav),
            Err(AudioError::Unsupported { .. })
        ));
    }
}
