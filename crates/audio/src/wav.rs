//! The "prepared audio" artifact: 16-bit PCM WAV, written and read without a codec library.

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
    const CHANNELS: u16 = 1;
    const BYTES_PER_SAMPLE: u16 = 2;
    // RIFF sizes are 32-bit; a clip past 4 GiB (37 hours at 16 kHz) is cut to what fits.
    let max_samples = (u32::MAX as usize - CANONICAL_HEADER_LEN) / 2;
    let samples = &samples[..samples.len().min(max_samples)];
    let data_len = (samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(CANONICAL_HEADER_LEN + samples.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVE");
    bytes.extend_from_slice(b"fmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&FORMAT_TAG_PCM.to_le_bytes());
    bytes.extend_from_slice(&CHANNELS.to_le_bytes());
    bytes.extend_from_slice(&sample_rate_hz.to_le_bytes());
    let block_align = CHANNELS * BYTES_PER_SAMPLE;
    bytes.extend_from_slice(&(sample_rate_hz.saturating_mul(u32::from(block_align))).to_le_bytes());
    bytes.extend_from_slice(&block_align.to_le_bytes());
    bytes.extend_from_slice(&(BYTES_PER_SAMPLE * 8).to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for &sample in samples {
        bytes.extend_from_slice(&sample_to_pcm16(sample).to_le_bytes());
    }
    bytes
}

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
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(AudioError::Unsupported {
            detail: "expected a RIFF/WAVE file".to_owned(),
        });
    }
    let mut format: Option<Pcm16Format> = None;
    let mut rest = &bytes[12..];
    while rest.len() >= 8 {
        let id = &rest[0..4];
        let declared_len = read_u32(&rest[4..8]) as usize;
        let body = &rest[8..];
        let body_len = declared_len.min(body.len());
        match id {
            b"fmt " => format = Some(Pcm16Format::parse(&body[..body_len])?),
            b"data" => {
                let format =
                    format.ok_or_else(|| corrupt("the data chunk comes before any fmt chunk"))?;
                return Ok((format.samples(&body[..body_len]), format.sample_rate_hz));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        let advance = body_len.saturating_add(declared_len & 1).min(body.len());
        rest = &body[advance..];
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
    use super::{decode_wav_pcm16, encode_wav_pcm16};
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
