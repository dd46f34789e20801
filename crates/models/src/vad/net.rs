//! The Silero VAD v6 16 kHz network, rebuilt from the tensors of `silero_vad_16k.safetensors`.
//!
//! Per 512-sample chunk (with the previous chunk's last 64 samples in front, 576 in all): reflect
//! padding by 64 on the right, an STFT done as a strided convolution with 258 fixed filters
//! (129 real + 129 imaginary rows, window 256, hop 128: four frames), the magnitude, four
//! convolutions with ReLU (129→128, 128→64 stride 2, 64→64 stride 2, 64→128) down to one frame
//! of 128 features, an LSTM cell whose state runs from chunk to chunk, then ReLU, a 1×1
//! convolution and a sigmoid: the chunk's speech probability. The same layers as the package's
//! `tinygrad_model.py` and its ONNX graph.
//!
//! Everything before the LSTM depends on one chunk alone, so it runs with candle on a batch of
//! chunks at once (a few large matrix products instead of many tiny ones); only the LSTM's
//! recurrence is sequential and runs as plain loops over the 512×128 recurrent weights.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{D, Device, Tensor};

use crate::ModelError;

/// Samples the network takes per step at 16 kHz.
pub const CHUNK_SAMPLES: usize = 512;
/// Samples of the previous chunk put in front of each chunk.
pub const CONTEXT_SAMPLES: usize = 64;
/// Input length of one step: context plus chunk.
pub(crate) const INPUT_SAMPLES: usize = CONTEXT_SAMPLES + CHUNK_SAMPLES;
/// Reflect padding on the right before the STFT.
const STFT_PAD: usize = 64;
const PADDED_SAMPLES: usize = INPUT_SAMPLES + STFT_PAD;
const N_FFT: usize = 256;
const HOP: usize = 128;
/// STFT frames per chunk: `(640 - 256) / 128 + 1`.
const FRAMES: usize = (PADDED_SAMPLES - N_FFT) / HOP + 1;
/// Frequency bins of the STFT (`n_fft / 2 + 1`).
const BINS: usize = N_FFT / 2 + 1;
/// Width of the LSTM state.
pub const HIDDEN: usize = 128;
const GATES: usize = 4 * HIDDEN;

/// The network's weights, read-only after loading.
pub(crate) struct VadNet {
    /// `(258, 256)`: real rows then imaginary rows, transposed for `frames × basisᵀ`.
    stft_basis_t: Tensor,
    convs: [Conv; 4],
    /// `(128, 512)`: `W_ihᵀ`, for the batched input half of the gates.
    weight_ih_t: Tensor,
    /// `b_ih + b_hh`, added once to the batched input half.
    gate_bias: Tensor,
    /// Row-major `(512, 128)` recurrent weights, PyTorch gate order i, f, g, o.
    weight_hh: Vec<f32>,
    final_weight: Vec<f32>,
    final_bias: f32,
    device: Device,
}

struct Conv {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
}

/// The recurrent state carried from chunk to chunk.
#[derive(Debug, Clone)]
pub(crate) struct LstmState {
    h: Vec<f32>,
    c: Vec<f32>,
}

impl Default for LstmState {
    fn default() -> Self {
        Self {
            h: vec![0.0; HIDDEN],
            c: vec![0.0; HIDDEN],
        }
    }
}

impl VadNet {
    /// Reads `silero_vad_16k.safetensors`.
    pub(crate) fn load(path: &Path) -> Result<Self, ModelError> {
        if !path.is_file() {
            return Err(ModelError::MissingFile {
                path: path.to_path_buf(),
            });
        }
        let device = Device::Cpu;
        let invalid = |reason: String| ModelError::InvalidModel {
            path: path.to_path_buf(),
            reason,
        };
        let tensors = candle_core::safetensors::load(path, &device)
            .map_err(|error| invalid(format!("not a readable safetensors file: {error}")))?;
        let get = |name: &str, shape: &[usize]| -> Result<Tensor, ModelError> {
            let tensor = tensors
                .get(name)
                .ok_or_else(|| invalid(format!("tensor {name} is missing")))?;
            if tensor.dims() != shape {
                return Err(invalid(format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    tensor.dims()
                )));
            }
            Ok(tensor.to_dtype(candle_core::DType::F32)?)
        };
        let conv = |index: usize, out: usize, input: usize, stride: usize| {
            Ok::<_, ModelError>(Conv {
                weight: get(&format!("conv{index}.weight"), &[out, input, 3])?,
                bias: get(&format!("conv{index}.bias"), &[out])?.reshape((1, out, 1))?,
                stride,
            })
        };
        let stft_basis_t = get("stft_conv.weight", &[2 * BINS, 1, N_FFT])?
            .reshape((2 * BINS, N_FFT))?
            .t()?
            .contiguous()?;
        let convs = [
            conv(1, 128, BINS, 1)?,
            conv(2, 64, 128, 2)?,
            conv(3, 64, 64, 2)?,
            conv(4, HIDDEN, 64, 1)?,
        ];
        let weight_ih_t = get("lstm_cell.weight_ih", &[GATES, HIDDEN])?
            .t()?
            .contiguous()?;
        let gate_bias = (get("lstm_cell.bias_ih", &[GATES])?
            + get("lstm_cell.bias_hh", &[GATES])?)?
        .reshape((1, GATES))?;
        let weight_hh = get("lstm_cell.weight_hh", &[GATES, HIDDEN])?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let final_weight = get("final_conv.weight", &[1, HIDDEN, 1])?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let final_bias = get("final_conv.bias", &[1])?.to_vec1::<f32>()?[0];
        check_unused(&tensors, path)?;
        Ok(Self {
            stft_basis_t,
            convs,
            weight_ih_t,
            gate_bias,
            weight_hh,
            final_weight,
            final_bias,
            device,
        })
    }

    /// Speech probabilities of consecutive steps, carrying `state` through them.
    ///
    /// `inputs` holds the steps back to back, [`INPUT_SAMPLES`] each (context then chunk).
    pub(crate) fn forward(
        &self,
        inputs: &[f32],
        state: &mut LstmState,
        probabilities: &mut Vec<f32>,
    ) -> Result<(), ModelError> {
        let steps = inputs.len() / INPUT_SAMPLES;
        if steps == 0 {
            return Ok(());
        }
        let gates_x = self.input_gates(&inputs[..steps * INPUT_SAMPLES], steps)?;
        let mut gates = vec![0.0f32; GATES];
        for step_gates in gates_x.chunks_exact(GATES) {
            self.lstm_step(step_gates, state, &mut gates);
            let logit = self
                .final_weight
                .iter()
                .zip(&state.h)
                .map(|(w, h)| w * h.max(0.0))
                .sum::<f32>()
                + self.final_bias;
            probabilities.push(sigmoid(logit));
        }
        Ok(())
    }

    /// Front end, encoder and the input half of the LSTM gates (`x W_ihᵀ + b`) for `steps`
    /// independent steps: `steps × 512` values, row-major.
    fn input_gates(&self, inputs: &[f32], steps: usize) -> Result<Vec<f32>, ModelError> {
        // Frames of the reflect-padded input, gathered as rows: (steps × 4, 256).
        let mut frames = Vec::with_capacity(steps * FRAMES * N_FFT);
        let mut padded = [0.0f32; PADDED_SAMPLES];
        for input in inputs.chunks_exact(INPUT_SAMPLES) {
            padded[..INPUT_SAMPLES].copy_from_slice(input);
            for k in 0..STFT_PAD {
                // torch's "reflect": the edge sample itself is not repeated.
                padded[INPUT_SAMPLES + k] = input[INPUT_SAMPLES - 2 - k];
            }
            for frame in 0..FRAMES {
                frames.extend_from_slice(&padded[frame * HOP..frame * HOP + N_FFT]);
            }
        }
        let frames = Tensor::from_vec(frames, (steps * FRAMES, N_FFT), &self.device)?;
        let spectrum = frames.matmul(&self.stft_basis_t)?;
        let real = spectrum.narrow(1, 0, BINS)?;
        let imaginary = spectrum.narrow(1, BINS, BINS)?;
        let magnitude = (real.sqr()? + imaginary.sqr()?)?.sqrt()?;
        // (steps, 4, 129) → (steps, 129, 4): channels first for the convolutions.
        let mut x = magnitude
            .reshape((steps, FRAMES, BINS))?
            .transpose(1, 2)?
            .contiguous()?;
        for conv in &self.convs {
            x = x
                .conv1d(&conv.weight, 1, conv.stride, 1, 1)?
                .broadcast_add(&conv.bias)?
                .relu()?;
        }
        let features = x.squeeze(D::Minus1)?;
        let gates = features
            .matmul(&self.weight_ih_t)?
            .broadcast_add(&self.gate_bias)?;
        Ok(gates.flatten_all()?.to_vec1::<f32>()?)
    }

    /// One LSTM cell step: `gates = gates_x + W_hh h`, then the usual i, f, g, o update.
    fn lstm_step(&self, gates_x: &[f32], state: &mut LstmState, gates: &mut [f32]) {
        for ((gate, row), &input) in gates
            .iter_mut()
            .zip(self.weight_hh.chunks_exact(HIDDEN))
            .zip(gates_x)
        {
            *gate = input + dot(row, &state.h);
        }
        let (input_gate, rest) = gates.split_at(HIDDEN);
        let (forget_gate, rest) = rest.split_at(HIDDEN);
        let (cell_gate, output_gate) = rest.split_at(HIDDEN);
        for unit in 0..HIDDEN {
            let c = sigmoid(forget_gate[unit]) * state.c[unit]
                + sigmoid(input_gate[unit]) * cell_gate[unit].tanh();
            state.c[unit] = c;
            state.h[unit] = sigmoid(output_gate[unit]) * c.tanh();
        }
    }
}

/// A dot product in eight independent lanes, which the compiler turns into SIMD.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for lane in 0..8 {
            lanes[lane] += a[lane] * b[lane];
        }
    }
    lanes.iter().sum()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Refuses a file with tensors this network does not use: it is some other model.
fn check_unused(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<(), ModelError> {
    const KNOWN: [&str; 15] = [
        "stft_conv.weight",
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
        "conv3.weight",
        "conv3.bias",
        "conv4.weight",
        "conv4.bias",
        "lstm_cell.weight_ih",
        "lstm_cell.weight_hh",
        "lstm_cell.bias_ih",
        "lstm_cell.bias_hh",
        "final_conv.weight",
        "final_conv.bias",
    ];
    match tensors.keys().find(|name| !KNOWN.contains(&name.as_str())) {
        Some(name) => Err(ModelError::InvalidModel {
            path: path.to_path_buf(),
            reason: format!("unexpected tensor {name}: not a Silero VAD v6 16 kHz model"),
        }),
        None => Ok(()),
    }
}
