//! The GE2E network as Resemblyzer's `VoiceEncoder.forward`: a 3-layer LSTM (40→256→256→256,
//! batch first), the last layer's final hidden state through Linear(256→256), ReLU, and L2
//! normalisation. Gates follow PyTorch's order (input, forget, cell, output) with both bias
//! vectors added.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{D, Tensor};

use crate::ModelError;

/// Hidden size of every LSTM layer (`model_hidden_size`).
pub const HIDDEN: usize = 256;
/// Size of an embedding (`model_embedding_size`).
pub const EMBEDDING_DIM: usize = 256;
/// LSTM layers (`model_num_layers`).
const LAYERS: usize = 3;

struct LstmLayer {
    /// `(input, 4·hidden)`: `weight_ih` transposed.
    input_weight: Tensor,
    /// `(hidden, 4·hidden)`: `weight_hh` transposed.
    hidden_weight: Tensor,
    /// `bias_ih + bias_hh`, `(4·hidden)`.
    bias: Tensor,
}

pub(crate) struct Network {
    layers: Vec<LstmLayer>,
    /// `(hidden, embedding)`: `linear.weight` transposed.
    linear_weight: Tensor,
    linear_bias: Tensor,
}

impl Network {
    /// Builds the network from Resemblyzer's `model_state` tensors.
    ///
    /// # Errors
    /// [`ModelError::InvalidModel`] when a tensor is missing or has the wrong shape.
    pub fn from_state_dict(
        path: &Path,
        mut tensors: HashMap<String, Tensor>,
        input_dim: usize,
    ) -> Result<Self, ModelError> {
        let mut take = |name: &str, shape: &[usize]| -> Result<Tensor, ModelError> {
            let tensor = tensors
                .remove(name)
                .ok_or_else(|| ModelError::InvalidModel {
                    path: path.to_owned(),
                    reason: format!("tensor {name} is missing"),
                })?;
            if tensor.dims() != shape {
                return Err(ModelError::InvalidModel {
                    path: path.to_owned(),
                    reason: format!(
                        "tensor {name} has shape {:?}, expected {shape:?}",
                        tensor.dims()
                    ),
                });
            }
            Ok(tensor)
        };
        let mut layers = Vec::with_capacity(LAYERS);
        for layer in 0..LAYERS {
            let inputs = if layer == 0 { input_dim } else { HIDDEN };
            let input_weight = take(&format!("lstm.weight_ih_l{layer}"), &[4 * HIDDEN, inputs])?;
            let hidden_weight = take(&format!("lstm.weight_hh_l{layer}"), &[4 * HIDDEN, HIDDEN])?;
            let bias = (take(&format!("lstm.bias_ih_l{layer}"), &[4 * HIDDEN])?
                + take(&format!("lstm.bias_hh_l{layer}"), &[4 * HIDDEN])?)?;
            layers.push(LstmLayer {
                input_weight: input_weight.t()?.contiguous()?,
                hidden_weight: hidden_weight.t()?.contiguous()?,
                bias,
            });
        }
        let linear_weight = take("linear.weight", &[EMBEDDING_DIM, HIDDEN])?
            .t()?
            .contiguous()?;
        let linear_bias = take("linear.bias", &[EMBEDDING_DIM])?;
        Ok(Self {
            layers,
            linear_weight,
            linear_bias,
        })
    }

    /// Embeddings `(batch, EMBEDDING_DIM)` of `mels`, `(batch, frames, n_mels)`.
    pub fn forward(&self, mels: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, frames, _) = mels.dims3()?;
        let mut sequence = mels.clone();
        let mut last_hidden = None;
        for (index, layer) in self.layers.iter().enumerate() {
            let is_last = index + 1 == self.layers.len();
            // The input projection of every step at once; only the recurrence is sequential.
            let inputs = sequence.dim(2)?;
            let projected = sequence
                .reshape((batch * frames, inputs))?
                .matmul(&layer.input_weight)?
                .broadcast_add(&layer.bias)?
                .reshape((batch, frames, 4 * HIDDEN))?;
            let mut hidden = Tensor::zeros((batch, HIDDEN), mels.dtype(), mels.device())?;
            let mut cell = hidden.clone();
            let mut outputs = Vec::with_capacity(if is_last { 0 } else { frames });
            for step in 0..frames {
                let gates = (projected.narrow(1, step, 1)?.squeeze(1)?
                    + hidden.matmul(&layer.hidden_weight)?)?;
                let gates = gates.chunk(4, D::Minus1)?;
                let input_gate = candle_nn::ops::sigmoid(&gates[0])?;
                let forget_gate = candle_nn::ops::sigmoid(&gates[1])?;
                let candidate = gates[2].tanh()?;
                let output_gate = candle_nn::ops::sigmoid(&gates[3])?;
                cell = ((forget_gate * &cell)? + (input_gate * candidate)?)?;
                hidden = (output_gate * cell.tanh()?)?;
                if !is_last {
                    outputs.push(hidden.clone());
                }
            }
            if is_last {
                last_hidden = Some(hidden);
            } else {
                sequence = Tensor::stack(&outputs, 1)?;
            }
        }
        let hidden = last_hidden.ok_or_else(|| candle_core::Error::Msg("no LSTM layers".into()))?;
        let raw = hidden
            .matmul(&self.linear_weight)?
            .broadcast_add(&self.linear_bias)?
            .relu()?;
        // The floor only matters when ReLU zeroes every unit, where PyTorch would give NaN.
        let norm = raw
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        raw.broadcast_div(&norm)
    }
}
