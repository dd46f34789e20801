//! The building blocks shared by Whisper's encoder and decoder: linear layers, layer norms,
//! the feed-forward block and scaled dot-product attention over `(heads, time, head_dim)`.
//!
//! Weights are loaded by their CTranslate2 names; a linear layer keeps its weight transposed to
//! `(in, out)` and contiguous so every product is a plain row-major matmul.

use candle_core::{Device, Tensor};

use crate::ModelError;
use crate::whisper::ct2::Ct2File;
use crate::whisper::kernels;
use crate::whisper::matvec::HalfMatrix;

/// Up to this many rows (the hypotheses of one beam-search step) go through the f16 step
/// weights, which read every weight once for all rows; `gemm` is slow at such small heights.
const STEP_ROWS_MAX: usize = 16;

/// `layer_norm` epsilon used by Whisper (PyTorch's default).
const LAYER_NORM_EPS: f32 = 1e-5;

/// Which GELU the feed-forward blocks use, from the rank-0 `*/activation` variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    /// Exact `x·Φ(x)` with erf, what OpenAI and CTranslate2 use for Whisper; the tanh
    /// approximation flips near-tie timestamp tokens.
    GeluErf,
    /// The tanh approximation, for models converted with it.
    GeluTanh,
}

impl Activation {
    /// Maps CTranslate2's activation code (1 = GELU tanh, 3 = GELU); `None` for others.
    pub fn from_ct2(code: Option<i64>) -> Option<Activation> {
        match code {
            None | Some(3) => Some(Activation::GeluErf),
            Some(1) => Some(Activation::GeluTanh),
            Some(_) => None,
        }
    }

    /// Applies the activation, in place when it can: `x` must not share storage with a
    /// tensor the caller still uses (a fresh op output, as everywhere here).
    pub fn apply(self, x: Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::GeluErf => {
                let x = x.contiguous()?;
                kernels::gelu_erf_in_place(&x)?;
                Ok(x)
            }
            Activation::GeluTanh => x.gelu(),
        }
    }
}

/// `y = x·Wᵀ + b` over rows of `x`.
pub(crate) struct Linear {
    /// The weight transposed to `(in, out)`, contiguous, for `gemm` on many rows.
    weight_t: Tensor,
    bias: Option<Tensor>,
    /// An f16 copy for single-row products (decoder steps), when enabled.
    step: Option<StepWeights>,
}

/// The weight in f16 `(out, in)` and the bias as a plain vector, for [`HalfMatrix::matvec`].
struct StepWeights {
    weight: HalfMatrix,
    bias: Option<Vec<f32>>,
}

impl Linear {
    /// Loads `<prefix>/weight` (and `<prefix>/bias` when present).
    pub fn load(file: &Ct2File, prefix: &str, device: &Device) -> Result<Linear, ModelError> {
        let weight = file.tensor(&format!("{prefix}/weight"), device)?;
        let bias_name = format!("{prefix}/bias");
        let bias = match file.get(&bias_name) {
            Some(_) => Some(file.tensor(&bias_name, device)?),
            None => None,
        };
        Linear::new(&weight, bias)
    }

    /// A layer from a `(out, in)` weight, as PyTorch and CTranslate2 store it.
    pub fn new(weight: &Tensor, bias: Option<Tensor>) -> Result<Linear, ModelError> {
        Ok(Linear {
            weight_t: weight.t()?.contiguous()?,
            bias,
            step: None,
        })
    }

    /// Adds an f16 copy of the weight used when `forward` gets a single row: decoder steps
    /// are bound by the bytes of weight they read (see [`crate::whisper::matvec`]).
    pub fn with_step_weights(mut self) -> Result<Linear, ModelError> {
        let bias = match &self.bias {
            Some(bias) => Some(bias.to_vec1::<f32>()?),
            None => None,
        };
        self.step = Some(StepWeights {
            weight: HalfMatrix::from_tensor(&self.weight_t.t()?)?,
            bias,
        });
        Ok(self)
    }

    /// Splits a fused layer (`rows` of the weight stacked `parts` times) into `parts` layers:
    /// CTranslate2 fuses self-attention Q, K, V and cross-attention K, V.
    pub fn load_split(
        file: &Ct2File,
        prefix: &str,
        parts: usize,
        device: &Device,
    ) -> Result<Vec<Linear>, ModelError> {
        let weight = file.tensor(&format!("{prefix}/weight"), device)?;
        let bias = file.tensor(&format!("{prefix}/bias"), device).ok();
        let rows = weight.dim(0)? / parts;
        (0..parts)
            .map(|part| {
                let bias = match &bias {
                    Some(bias) => Some(bias.narrow(0, part * rows, rows)?.contiguous()?),
                    None => None,
                };
                Linear::new(&weight.narrow(0, part * rows, rows)?, bias)
            })
            .collect()
    }

    /// [`Linear::load_split`] into exactly `N` layers.
    pub fn load_fused<const N: usize>(
        file: &Ct2File,
        prefix: &str,
        device: &Device,
    ) -> Result<[Linear; N], ModelError> {
        Linear::load_split(file, prefix, N, device)?
            .try_into()
            .map_err(|_| file.invalid(format!("{prefix} does not split into {N} parts")))
    }

    /// Applies the layer to `x` of shape `(rows, in)`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if let Some(step) = &self.step {
            let rows = x.dim(0)?;
            if rows == 1 {
                let y = step
                    .weight
                    .matvec(&x.flatten_all()?.to_vec1::<f32>()?, step.bias.as_deref());
                let width = y.len();
                return Tensor::from_vec(y, (1, width), x.device());
            }
            if rows <= STEP_ROWS_MAX {
                let mut y = step.weight.matmul_rows(&x.to_vec2::<f32>()?);
                if let Some(bias) = &step.bias {
                    for row in &mut y {
                        for (value, b) in row.iter_mut().zip(bias) {
                            *value += b;
                        }
                    }
                }
                let width = step.weight.rows();
                return Tensor::from_vec(y.concat(), (rows, width), x.device());
            }
        }
        let y = x.matmul(&self.weight_t)?;
        match &self.bias {
            Some(bias) => y.broadcast_add(bias),
            None => Ok(y),
        }
    }
}

/// Layer normalisation with learned scale and shift.
pub(crate) struct LayerNorm {
    gamma: Tensor,
    beta: Tensor,
}

impl LayerNorm {
    /// Loads `<prefix>/gamma` and `<prefix>/beta`.
    pub fn load(file: &Ct2File, prefix: &str, device: &Device) -> Result<LayerNorm, ModelError> {
        Ok(LayerNorm {
            gamma: file.tensor(&format!("{prefix}/gamma"), device)?,
            beta: file.tensor(&format!("{prefix}/beta"), device)?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.gamma, &self.beta, LAYER_NORM_EPS)
    }
}

/// The pre-norm feed-forward block: `x + W₂·gelu(W₁·ln(x))` (the residual added by the caller).
pub(crate) struct FeedForward {
    norm: LayerNorm,
    up: Linear,
    down: Linear,
    activation: Activation,
}

impl FeedForward {
    /// Loads `<prefix>/layer_norm`, `<prefix>/linear_0` and `<prefix>/linear_1`.
    pub fn load(
        file: &Ct2File,
        prefix: &str,
        activation: Activation,
        device: &Device,
    ) -> Result<FeedForward, ModelError> {
        Ok(FeedForward {
            norm: LayerNorm::load(file, &format!("{prefix}/layer_norm"), device)?,
            up: Linear::load(file, &format!("{prefix}/linear_0"), device)?,
            down: Linear::load(file, &format!("{prefix}/linear_1"), device)?,
            activation,
        })
    }

    /// See [`Linear::with_step_weights`].
    pub fn with_step_weights(self) -> Result<FeedForward, ModelError> {
        Ok(FeedForward {
            up: self.up.with_step_weights()?,
            down: self.down.with_step_weights()?,
            ..self
        })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let hidden = self
            .activation
            .apply(self.up.forward(&self.norm.forward(x)?)?)?;
        self.down.forward(&hidden)
    }
}

/// `(time, heads·head_dim)` → `(heads, time, head_dim)`, contiguous.
pub(crate) fn split_heads(x: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    let (time, width) = x.dims2()?;
    x.reshape((time, heads, width / heads))?
        .transpose(0, 1)?
        .contiguous()
}

/// `(heads, time, head_dim)` → `(time, heads·head_dim)`.
pub(crate) fn merge_heads(x: &Tensor) -> candle_core::Result<Tensor> {
    let (heads, time, head_dim) = x.dims3()?;
    x.transpose(0, 1)?
        .contiguous()?
        .reshape((time, heads * head_dim))
}

/// Softmax attention: `q` is `(heads, n, d)` already scaled by `1/√d`, `k_t` is the keys
/// transposed to `(heads, d, t)`, `v` is `(heads, t, d)`; `mask` (`(n, t)`, 0 or −∞) is added
/// to the scores when given.
pub(crate) fn attend(
    q: &Tensor,
    k_t: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    let scores = q.matmul(k_t)?;
    let scores = match mask {
        Some(mask) => scores.broadcast_add(mask)?,
        None => scores,
    };
    let scores = scores.contiguous()?;
    kernels::softmax_last_dim_in_place(&scores)?;
    scores.matmul(v)
}

/// Sinusoidal positions as OpenAI's `sinusoids(length, channels)`, for models that do not
/// store the encoder's position table.
pub(crate) fn sinusoids(
    length: usize,
    channels: usize,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let half = channels / 2;
    let increment = (10_000f64).ln() / (half.max(2) - 1) as f64;
    let mut data = vec![0f32; length * channels];
    for t in 0..length {
        for i in 0..half {
            let angle = t as f64 * (-increment * i as f64).exp();
            data[t * channels + i] = angle.sin() as f32;
            data[t * channels + half + i] = angle.cos() as f32;
        }
    }
    Tensor::from_vec(data, (length, channels), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_matches_manual_product() {
        let weight = Tensor::new(&[[1f32, 2.0], [3.0, 4.0], [5.0, 6.0]], &Device::Cpu).unwrap();
        let bias = Tensor::new(&[1f32, 0.0, -1.0], &Device::Cpu).unwrap();
        let layer = Linear::new(&weight, Some(bias)).unwrap();
        let x = Tensor::new(&[[1f32, 1.0]], &Device::Cpu).unwrap();
        assert_eq!(
            layer.forward(&x).unwrap().to_vec2::<f32>().unwrap(),
            vec![vec![4.0, 7.0, 10.0]]
        );
    }

    #[test]
    fn heads_split_and_merge_back() {
        let x = Tensor::arange(0f32, 12.0, &Device::Cpu)
            .unwrap()
            .reshape((3, 4))
            .unwrap();
        let heads = split_heads(&x, 2).unwrap();
        assert_eq!(heads.dims(), &[2, 3, 2]);
        assert_eq!(
            merge_heads(&heads).unwrap().to_vec2::<f32>().unwrap(),
            x.to_vec2::<f32>().unwrap()
        );
    }

    #[test]
    fn attention_with_one_key_returns_its_value() {
        let q = Tensor::ones((1, 2, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        let k_t = Tensor::ones((1, 3, 1), candle_core::DType::F32, &Device::Cpu).unwrap();
        let v = Tensor::new(&[[[7f32, 8.0, 9.0]]], &Device::Cpu).unwrap();
        let out = attend(&q, &k_t, &v, None).unwrap();
        assert_eq!(
            out.to_vec3::<f32>().unwrap(),
            vec![vec![vec![7.0, 8.0, 9.0]; 2]]
        );
    }

    #[test]
    fn sinusoids_start_with_sin_zero_cos_one() {
        let table = sinusoids(4, 8, &Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(&table[0][..4], &[0.0; 4]);
        assert_eq!(&table[0][4..], &[1.0; 4]);
        assert!((table[1][0] - 1f32.sin()).abs() < 1e-6);
    }
}
