//! The building blocks shared by Whisper's encoder and decoder: linear layers, layer norms,
//! the feed-forward block and scaled dot-product attention over `(heads, time, head_dim)`.
//!
//! Weights are loaded by their CTranslate2 names; a linear layer keeps its weight transposed to
//! `(in, out)` and contiguous so every product is a plain row-major matmul.

use candle_core::{Device, Tensor};

use crate::ModelError;
use crate::whisper::ct2::Ct2File;
use crate::whisper::int8::Int8Matrix;
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
/// How a layer's weight is held decides the kernel that multiplies by it.
pub(crate) enum Linear {
    /// f32 transposed to `(in, out)`, contiguous, for `gemm` on many rows; with an f16 copy
    /// for the few rows of decoder steps when enabled.
    Float {
        weight_t: Tensor,
        bias: Option<Tensor>,
        step: Option<StepWeights>,
    },
    /// int8 per output channel, for any number of rows (see [`crate::whisper::int8`]).
    Int8 {
        weight: Int8Matrix,
        bias: Option<Vec<f32>>,
    },
}

/// The weight in f16 `(out, in)` and the bias as a plain vector, for [`HalfMatrix::matvec`].
pub(crate) struct StepWeights {
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
        Ok(Linear::Float {
            weight_t: weight.t()?.contiguous()?,
            bias,
            step: None,
        })
    }

    /// The layer in the number format `int8` asks for: int8 weights when true, else as
    /// loaded. Call before [`Linear::with_step_weights`], which an int8 layer does not need.
    pub fn quantized(self, int8: bool) -> Result<Linear, ModelError> {
        let Linear::Float { weight_t, bias, .. } = &self else {
            return Ok(self);
        };
        if !int8 {
            return Ok(self);
        }
        let (inner, out) = weight_t.dims2()?;
        let weight = weight_t
            .t()?
            .contiguous()?
            .flatten_all()?
            .to_vec1::<f32>()?;
        Ok(Linear::Int8 {
            weight: Int8Matrix::quantize(&weight, out, inner),
            bias: bias_values(bias.as_ref())?,
        })
    }

    /// Adds an f16 copy of the weight used when `forward` gets a single row: decoder steps
    /// are bound by the bytes of weight they read (see [`crate::whisper::matvec`]). An int8
    /// layer is left as it is: it reads a quarter of the f32 bytes already.
    pub fn with_step_weights(mut self) -> Result<Linear, ModelError> {
        if let Linear::Float {
            weight_t,
            bias,
            step,
        } = &mut self
        {
            *step = Some(StepWeights {
                weight: HalfMatrix::from_tensor(&weight_t.t()?)?,
                bias: bias_values(bias.as_ref())?,
            });
        }
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
        let (weight_t, bias, step) = match self {
            Linear::Int8 { weight, bias } => {
                let rows = x.dim(0)?;
                let y = weight.matmul(&x.flatten_all()?.to_vec1::<f32>()?, bias.as_deref());
                return Tensor::from_vec(y, (rows, weight.out()), x.device());
            }
            Linear::Float {
                weight_t,
                bias,
                step,
            } => (weight_t, bias, step),
        };
        if let Some(step) = step {
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
        let y = x.matmul(weight_t)?;
        match bias {
            Some(bias) => y.broadcast_add(bias),
            None => Ok(y),
        }
    }
}

fn bias_values(bias: Option<&Tensor>) -> candle_core::Result<Option<Vec<f32>>> {
    bias.map(Tensor::to_vec1::<f32>).transpose()
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

    /// See [`Linear::quantized`].
    pub fn quantized(self, int8: bool) -> Result<FeedForward, ModelError> {
        Ok(FeedForward {
            up: self.up.quantized(int8)?,
            down: self.down.quantized(int8)?,
            ..self
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

/// Softmax attention: `q` is `(heads, n, d)` (or with more leading batch axes) already scaled
/// by `1/√d`, `k_t` is the keys transposed to `(heads, d, t)`, `v` is `(heads, t, d)`; `mask`
/// (`(n, t)`, 0 or −∞) is added to the scores when given.
///
/// Queries go through in blocks whose scores stay under [`SCORE_BLOCK_BYTES`]: the encoder's
/// full `(8, 1500, 1500)` scores are 72 MB, which the allocator maps fresh for every layer
/// (page faults and zeroing were 15 % of a run) and which no cache holds.
pub(crate) fn attend(
    q: &Tensor,
    k_t: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
) -> candle_core::Result<Tensor> {
    // Queries are the second-to-last axis; any leading axes (heads, sequences) are batch.
    let rows_axis = q.rank().saturating_sub(2);
    let n = q.dim(rows_axis)?;
    let batch: usize = q.dims()[..rows_axis].iter().product();
    let keys = k_t.dim(k_t.rank().saturating_sub(1))?;
    let block = (SCORE_BLOCK_BYTES / (batch * keys * 4).max(1)).max(1);
    if n <= block {
        return attend_block(q, k_t, v, mask);
    }
    let blocks = (0..n)
        .step_by(block)
        .map(|start| {
            let rows = block.min(n - start);
            let mask = match mask {
                Some(mask) => Some(mask.narrow(0, start, rows)?),
                None => None,
            };
            attend_block(&q.narrow(rows_axis, start, rows)?, k_t, v, mask.as_ref())
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    Tensor::cat(&blocks, rows_axis)
}

/// Bytes of attention scores computed at once (see [`attend`]).
const SCORE_BLOCK_BYTES: usize = 4 << 20;

fn attend_block(
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
    fn attention_in_query_blocks_equals_one_block() {
        // 1024 keys make blocks of 1024 queries; 1100 queries take two, with a mask.
        let (queries, keys, dim) = (1100, 1024, 4);
        let ramp = |count: usize, step: f32| {
            (0..count)
                .map(|i| ((i * 37) % 101) as f32 * step - 1.0)
                .collect::<Vec<f32>>()
        };
        let q =
            Tensor::from_vec(ramp(queries * dim, 0.02), (1, queries, dim), &Device::Cpu).unwrap();
        let k_t = Tensor::from_vec(ramp(dim * keys, 0.015), (1, dim, keys), &Device::Cpu).unwrap();
        let v = Tensor::from_vec(ramp(keys * dim, 0.01), (1, keys, dim), &Device::Cpu).unwrap();
        let mask = causal_like_mask(queries, keys);
        let blocked = attend(&q, &k_t, &v, Some(&mask)).unwrap();
        let whole = attend_block(&q, &k_t, &v, Some(&mask)).unwrap();
        assert_eq!(blocked.dims(), &[1, queries, dim]);
        assert_eq!(
            blocked.to_vec3::<f32>().unwrap(),
            whole.to_vec3::<f32>().unwrap()
        );
    }

    /// Query `i` sees keys `0..=i` (all keys for the queries past the last key).
    fn causal_like_mask(queries: usize, keys: usize) -> Tensor {
        let data: Vec<f32> = (0..queries)
            .flat_map(|i| (0..keys).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        Tensor::from_vec(data, (queries, keys), &Device::Cpu).unwrap()
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
