//! The Whisper network: hyper-parameters read from the weights, and the encoder and decoder
//! built from a CTranslate2 `model.bin`.
//!
//! Nothing is assumed per model size: widths come from tensor shapes, head counts from the
//! rank-0 `*/num_heads` variables and layer counts from the `layer_N` names present, so tiny
//! through large (128 mel bins) load with the same code.

use std::path::Path;

use candle_core::Device;

use crate::ModelError;
use crate::whisper::ct2::Ct2File;
use crate::whisper::decoder::Decoder;
use crate::whisper::encoder::Encoder;
use crate::whisper::layers::Activation;

/// The spec name CTranslate2 writes for Whisper models.
const WHISPER_SPEC: &str = "WhisperSpec";

/// Shapes of one Whisper model.
#[derive(Debug, Clone)]
pub(crate) struct Hyperparameters {
    pub n_mels: usize,
    pub d_model: usize,
    pub n_audio_ctx: usize,
    pub n_text_ctx: usize,
    pub n_vocab: usize,
    pub encoder_layers: usize,
    pub encoder_heads: usize,
    pub decoder_layers: usize,
    pub decoder_heads: usize,
    pub activation: Activation,
}

impl Hyperparameters {
    /// Reads the shapes from `file`.
    ///
    /// # Errors
    /// [`ModelError::InvalidModel`] when a variable that fixes a shape is missing or odd.
    pub fn read(file: &Ct2File) -> Result<Hyperparameters, ModelError> {
        if file.spec != WHISPER_SPEC {
            return Err(file.invalid(format!("spec is {}, not {WHISPER_SPEC}", file.spec)));
        }
        let shape = |name: &str| {
            file.shape(name)
                .ok_or_else(|| file.invalid(format!("missing variable {name}")))
        };
        let heads = |name: &str| {
            file.scalar(name)
                .and_then(|h| usize::try_from(h).ok())
                .filter(|&h| h > 0)
                .ok_or_else(|| file.invalid(format!("missing or invalid {name}")))
        };
        let conv1 = shape("encoder/conv1/weight")?;
        let [d_model, n_mels, _] = *conv1 else {
            return Err(file.invalid(format!("encoder/conv1/weight has shape {conv1:?}")));
        };
        let embeddings = shape("decoder/embeddings/weight")?;
        let text_positions = shape("decoder/position_encodings/encodings")?;
        // The encoder position table may be absent (sinusoids); 1500 frames is every Whisper's.
        let n_audio_ctx = file
            .shape("encoder/position_encodings/encodings")
            .and_then(|s| s.first().copied())
            .unwrap_or(1500);
        let activation = Activation::from_ct2(file.scalar("decoder/activation"))
            .ok_or_else(|| file.invalid("unsupported activation".to_string()))?;
        let hp = Hyperparameters {
            n_mels,
            d_model,
            n_audio_ctx,
            n_text_ctx: text_positions.first().copied().unwrap_or(0),
            n_vocab: embeddings.first().copied().unwrap_or(0),
            encoder_layers: count_layers(file, "encoder"),
            encoder_heads: heads("encoder/num_heads")?,
            decoder_layers: count_layers(file, "decoder"),
            decoder_heads: heads("decoder/num_heads")?,
            activation,
        };
        if hp.encoder_layers == 0 || hp.decoder_layers == 0 || hp.n_text_ctx == 0 {
            return Err(file.invalid(format!("incomplete Whisper model: {hp:?}")));
        }
        if d_model % hp.encoder_heads != 0 || d_model % hp.decoder_heads != 0 {
            return Err(file.invalid(format!("width {d_model} does not divide into the heads")));
        }
        Ok(hp)
    }
}

fn count_layers(file: &Ct2File, stack: &str) -> usize {
    (0..)
        .take_while(|index| {
            file.get(&format!("{stack}/layer_{index}/ffn/linear_0/weight"))
                .is_some()
        })
        .count()
}

/// Encoder and decoder weights, ready for inference.
pub(crate) struct WhisperNet {
    pub hp: Hyperparameters,
    pub encoder: Encoder,
    pub decoder: Decoder,
}

impl WhisperNet {
    /// Loads `model.bin` from `path`, widening the weights to f32, or quantising the linear
    /// layers to int8 when `int8`.
    pub fn load(path: &Path, int8: bool, device: &Device) -> Result<WhisperNet, ModelError> {
        let file = Ct2File::read(path)?;
        let hp = Hyperparameters::read(&file)?;
        tracing::debug!(path = %path.display(), revision = file.revision, ?hp, "whisper weights read");
        let encoder = Encoder::load(&file, &hp, int8, device)?;
        let decoder = Decoder::load(&file, &hp, int8, device)?;
        Ok(WhisperNet {
            hp,
            encoder,
            decoder,
        })
    }
}
