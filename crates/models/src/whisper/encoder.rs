//! Whisper's audio encoder: two GELU convolutions (the second halving time), learned or
//! sinusoidal positions, pre-norm transformer layers and a final layer norm.
//!
//! One 30 s window of log-mel frames `(n_mels, 3000)` becomes `(1500, d_model)` audio states
//! that every decoder step of that window cross-attends to.

use candle_core::{Device, Tensor};

use crate::ModelError;
use crate::whisper::ct2::Ct2File;
use crate::whisper::layers::{
    Activation, FeedForward, LayerNorm, Linear, attend, merge_heads, sinusoids, split_heads,
};
use crate::whisper::model::Hyperparameters;

/// Self-attention of one encoder layer (Q, K, V split from CTranslate2's fused `linear_0`).
struct SelfAttention {
    norm: LayerNorm,
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    heads: usize,
    scale: f64,
}

impl SelfAttention {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.norm.forward(x)?;
        let q = split_heads(&(self.query.forward(&x)? * self.scale)?, self.heads)?;
        let k_t = split_heads(&self.key.forward(&x)?, self.heads)?.transpose(1, 2)?;
        let v = split_heads(&self.value.forward(&x)?, self.heads)?;
        self.out
            .forward(&merge_heads(&attend(&q, &k_t, &v, None)?)?)
    }
}

struct EncoderLayer {
    attention: SelfAttention,
    feed_forward: FeedForward,
}

/// The encoder's weights.
pub(crate) struct Encoder {
    conv1_weight: Tensor,
    conv1_bias: Tensor,
    conv2_weight: Tensor,
    conv2_bias: Tensor,
    positions: Tensor,
    layers: Vec<EncoderLayer>,
    norm: LayerNorm,
    activation: Activation,
}

impl Encoder {
    /// Loads the `encoder/…` variables, with int8 linear layers when `int8`.
    pub fn load(
        file: &Ct2File,
        hp: &Hyperparameters,
        int8: bool,
        device: &Device,
    ) -> Result<Encoder, ModelError> {
        let positions = match file.get("encoder/position_encodings/encodings") {
            Some(_) => file.tensor("encoder/position_encodings/encodings", device)?,
            None => sinusoids(hp.n_audio_ctx, hp.d_model, device)?,
        };
        let head_dim = hp.d_model / hp.encoder_heads;
        let layers = (0..hp.encoder_layers)
            .map(|index| {
                let prefix = format!("encoder/layer_{index}");
                let [query, key, value] =
                    Linear::load_fused(file, &format!("{prefix}/self_attention/linear_0"), device)?
                        .map(|layer| layer.quantized(int8));
                Ok(EncoderLayer {
                    attention: SelfAttention {
                        norm: LayerNorm::load(
                            file,
                            &format!("{prefix}/self_attention/layer_norm"),
                            device,
                        )?,
                        query: query?,
                        key: key?,
                        value: value?,
                        out: Linear::load(
                            file,
                            &format!("{prefix}/self_attention/linear_1"),
                            device,
                        )?
                        .quantized(int8)?,
                        heads: hp.encoder_heads,
                        scale: 1.0 / (head_dim as f64).sqrt(),
                    },
                    feed_forward: FeedForward::load(
                        file,
                        &format!("{prefix}/ffn"),
                        hp.activation,
                        device,
                    )?
                    .quantized(int8)?,
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Encoder {
            conv1_weight: file.tensor("encoder/conv1/weight", device)?,
            conv1_bias: file
                .tensor("encoder/conv1/bias", device)?
                .reshape((1, (), 1))?,
            conv2_weight: file.tensor("encoder/conv2/weight", device)?,
            conv2_bias: file
                .tensor("encoder/conv2/bias", device)?
                .reshape((1, (), 1))?,
            positions,
            layers,
            norm: LayerNorm::load(file, "encoder/layer_norm", device)?,
            activation: hp.activation,
        })
    }

    /// Encodes one window: `mel` is `(1, n_mels, 3000)`, the result `(1500, d_model)`.
    pub fn forward(&self, mel: &Tensor) -> candle_core::Result<Tensor> {
        let x = mel
            .conv1d(&self.conv1_weight, 1, 1, 1, 1)?
            .broadcast_add(&self.conv1_bias)?;
        let x = self.activation.apply(x)?;
        let x = x
            .conv1d(&self.conv2_weight, 1, 2, 1, 1)?
            .broadcast_add(&self.conv2_bias)?;
        let x = self.activation.apply(x)?;
        let x = x.squeeze(0)?.t()?;
        let time = x.dim(0)?;
        let mut x = (x + self.positions.narrow(0, 0, time)?)?;
        for layer in &self.layers {
            x = (&x + layer.attention.forward(&x)?)?;
            x = (&x + layer.feed_forward.forward(&x)?)?;
        }
        self.norm.forward(&x)
    }
}
