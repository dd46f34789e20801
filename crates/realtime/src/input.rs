//! Live audio in: raw PCM bytes of a declared encoding and rate, out as 16 kHz mono f32.

use dalston_audio::{StreamResampler, TARGET_SAMPLE_RATE_HZ};

/// Lowest and highest input rates accepted.
pub const SAMPLE_RATES_HZ: std::ops::RangeInclusive<u32> = 8_000..=48_000;

/// How the client's audio bytes encode samples (mono).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcmEncoding {
    /// Signed 16-bit little-endian.
    S16le,
    /// 32-bit float little-endian.
    F32le,
    /// G.711 µ-law, one byte per sample (telephony).
    Mulaw,
}

impl PcmEncoding {
    /// Parses the native protocol's `encoding` parameter.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pcm_s16le" => Some(Self::S16le),
            "pcm_f32le" => Some(Self::F32le),
            "mulaw" | "ulaw" => Some(Self::Mulaw),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::S16le => "pcm_s16le",
            Self::F32le => "pcm_f32le",
            Self::Mulaw => "mulaw",
        }
    }

    fn bytes_per_sample(self) -> usize {
        match self {
            Self::S16le => 2,
            Self::F32le => 4,
            Self::Mulaw => 1,
        }
    }
}

/// Why input audio was refused.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("sample rate {0} Hz is outside 8000–48000 Hz")]
    SampleRate(u32),
    #[error("{0}")]
    Resample(#[from] dalston_audio::AudioError),
}

/// Turns the client's byte frames into 16 kHz samples; frames may split a sample anywhere.
pub struct AudioInput {
    encoding: PcmEncoding,
    sample_rate_hz: u32,
    resampler: Option<StreamResampler>,
    /// Bytes of a sample split across frames.
    carry: Vec<u8>,
    decoded: Vec<f32>,
}

impl std::fmt::Debug for AudioInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioInput")
            .field("encoding", &self.encoding)
            .field("sample_rate_hz", &self.sample_rate_hz)
            .finish_non_exhaustive()
    }
}

impl AudioInput {
    /// # Errors
    /// [`InputError::SampleRate`] outside [`SAMPLE_RATES_HZ`].
    pub fn new(encoding: PcmEncoding, sample_rate_hz: u32) -> Result<Self, InputError> {
        if !SAMPLE_RATES_HZ.contains(&sample_rate_hz) {
            return Err(InputError::SampleRate(sample_rate_hz));
        }
        let resampler = (sample_rate_hz != TARGET_SAMPLE_RATE_HZ)
            .then(|| StreamResampler::low_latency(sample_rate_hz, TARGET_SAMPLE_RATE_HZ))
            .transpose()?;
        Ok(Self {
            encoding,
            sample_rate_hz,
            resampler,
            carry: Vec::new(),
            decoded: Vec::new(),
        })
    }

    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    pub fn encoding(&self) -> PcmEncoding {
        self.encoding
    }

    /// Decodes one frame of bytes into 16 kHz samples (possibly none yet: the resampler
    /// works in 20 ms steps).
    ///
    /// # Errors
    /// [`InputError::Resample`] when the resampler fails.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<f32>, InputError> {
        let width = self.encoding.bytes_per_sample();
        self.carry.extend_from_slice(bytes);
        let whole = self.carry.len() / width * width;
        self.decoded.clear();
        self.decoded
            .extend(self.carry[..whole].chunks_exact(width).map(|sample| {
                match self.encoding {
                    PcmEncoding::S16le => {
                        f32::from(i16::from_le_bytes([sample[0], sample[1]])) / 32_768.0
                    }
                    PcmEncoding::F32le => {
                        f32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]])
                            .clamp(-1.0, 1.0)
                    }
                    PcmEncoding::Mulaw => mulaw_to_linear(sample[0]),
                }
            }));
        self.carry.drain(..whole);
        match &mut self.resampler {
            None => Ok(std::mem::take(&mut self.decoded)),
            Some(resampler) => {
                let mut output = Vec::with_capacity(self.decoded.len() * 2);
                resampler.push(&self.decoded, &mut output)?;
                Ok(output)
            }
        }
    }
}

/// G.711 µ-law byte to a sample in −1..1 (ITU-T G.711, the bit-exact inverse table).
fn mulaw_to_linear(byte: u8) -> f32 {
    let byte = !byte;
    let sign = byte & 0x80;
    let exponent = (byte >> 4) & 0x07;
    let mantissa = i32::from(byte & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    let value = if sign == 0 { magnitude } else { -magnitude };
    value as f32 / 32_768.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s16_samples_split_across_frames_are_joined() {
        let mut input = AudioInput::new(PcmEncoding::S16le, 16_000).expect("16 kHz");
        let bytes: Vec<u8> = [16_384i16, -32_768, 1]
            .iter()
            .flat_map(|sample| sample.to_le_bytes())
            .collect();
        let first = input.push(&bytes[..3]).expect("push");
        let second = input.push(&bytes[3..]).expect("push");
        assert_eq!(first, vec![0.5]);
        assert_eq!(second, vec![-1.0, 1.0 / 32_768.0]);
    }

    #[test]
    fn mulaw_decodes_to_the_g711_values() {
        // 0xff and 0x7f are the two zeros; 0x80 and 0x00 the extremes (±32124).
        assert_eq!(mulaw_to_linear(0xff), 0.0);
        assert_eq!(mulaw_to_linear(0x7f), 0.0);
        assert!((mulaw_to_linear(0x80) - 32_124.0 / 32_768.0).abs() < 1e-6);
        assert!((mulaw_to_linear(0x00) + 32_124.0 / 32_768.0).abs() < 1e-6);
    }

    #[test]
    fn other_rates_are_resampled_to_16k_with_low_latency() {
        let mut input = AudioInput::new(PcmEncoding::F32le, 8_000).expect("8 kHz");
        let mut total = 0;
        // One second in 100 ms frames: output must follow within a few frames, not wait for
        // a 256 ms block.
        for frame in 0..10 {
            let bytes: Vec<u8> = (0..800)
                .flat_map(|index| ((index + frame * 800) as f32 * 0.01).sin().to_le_bytes())
                .collect();
            total += input.push(&bytes).expect("push").len();
            if frame == 1 {
                assert!(total >= 1_600, "only {total} samples after 200 ms");
            }
        }
        assert!((15_000..=16_000).contains(&total), "{total}");
    }

    #[test]
    fn rates_outside_the_range_are_refused() {
        assert!(matches!(
            AudioInput::new(PcmEncoding::S16le, 96_000),
            Err(InputError::SampleRate(96_000))
        ));
    }
}
