//! Whisper's text decoder with a key/value cache.
//!
//! candle-transformers' Whisper decoder recomputes every position at every step; here the
//! cross-attention keys and values are computed once per window ([`Decoder::cross_cache`]) and
//! each self-attention layer keeps the keys and values of the tokens it has already seen
//! ([`SelfCache`]), so a step only runs the new token through the layers. The output projection
//! is tied to the token embedding, as in the CTranslate2 file (`decoder/projection/weight` is
//! an alias of `decoder/embeddings/weight`); both it and the step weights are kept in f16 and
//! multiplied with [`HalfMatrix::matvec`], since a step is bound by the weight bytes it reads.

use candle_core::{Device, Tensor};

use crate::ModelError;
use crate::whisper::ct2::Ct2File;
use crate::whisper::int8::Int8Matrix;
use crate::whisper::kernels;
use crate::whisper::layers::{FeedForward, LayerNorm, Linear, attend, merge_heads, split_heads};
use crate::whisper::matvec::HalfMatrix;
use crate::whisper::model::Hyperparameters;

struct DecoderLayer {
    self_norm: LayerNorm,
    self_query: Linear,
    self_key: Linear,
    self_value: Linear,
    self_out: Linear,
    cross_norm: LayerNorm,
    cross_query: Linear,
    cross_key: Linear,
    cross_value: Linear,
    cross_out: Linear,
    feed_forward: FeedForward,
}

/// Cross-attention keys (transposed to `(heads, head_dim, audio)`) and values
/// (`(heads, audio, head_dim)`) of every layer, for one encoded window.
pub(crate) struct CrossCache {
    layers: Vec<(Tensor, Tensor)>,
}

/// Self-attention keys (`(sequences, heads, head_dim, t)`) and values
/// (`(sequences, heads, t, head_dim)`) of the tokens decoded so far in one window, for one
/// sequence (greedy) or several decoded side by side (beam search), all of the same length.
#[derive(Default)]
pub(crate) struct SelfCache {
    layers: Vec<(Tensor, Tensor)>,
    len: usize,
}

impl SelfCache {
    /// Number of token positions already in the cache.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Keeps, for each new sequence `i`, the cache of sequence `parents[i]`: beam search moves
    /// every surviving hypothesis onto the history it grew from (a parent may be kept twice).
    pub fn reorder(&mut self, parents: &[usize]) -> candle_core::Result<()> {
        let Some((first, _)) = self.layers.first() else {
            return Ok(());
        };
        let index: Vec<u32> = parents.iter().map(|&p| p as u32).collect();
        let index = Tensor::new(index.as_slice(), first.device())?;
        for (k_t, v) in &mut self.layers {
            *k_t = k_t.index_select(&index, 0)?;
            *v = v.index_select(&index, 0)?;
        }
        Ok(())
    }
}

/// The decoder's weights.
pub(crate) struct Decoder {
    /// Token embedding `(n_vocab, d_model)`, also the output projection.
    embeddings: HalfMatrix,
    /// The output projection in int8, when the model runs int8.
    projection: Option<Int8Matrix>,
    positions: Tensor,
    layers: Vec<DecoderLayer>,
    norm: LayerNorm,
    heads: usize,
    scale: f64,
}

impl Decoder {
    /// Loads the `decoder/…` variables, with int8 linear layers and output projection when
    /// `int8`.
    pub fn load(
        file: &Ct2File,
        hp: &Hyperparameters,
        int8: bool,
        device: &Device,
    ) -> Result<Decoder, ModelError> {
        // Step layers: int8, or f16 copies for the few rows of a step.
        let for_steps = |layer: Linear| layer.quantized(int8)?.with_step_weights();
        let layers = (0..hp.decoder_layers)
            .map(|index| {
                let prefix = format!("decoder/layer_{index}");
                let [self_query, self_key, self_value] =
                    Linear::load_fused(file, &format!("{prefix}/self_attention/linear_0"), device)?
                        .map(for_steps);
                let [cross_key, cross_value] =
                    Linear::load_fused(file, &format!("{prefix}/attention/linear_1"), device)?
                        .map(|layer| layer.quantized(int8));
                Ok(DecoderLayer {
                    self_norm: LayerNorm::load(
                        file,
                        &format!("{prefix}/self_attention/layer_norm"),
                        device,
                    )?,
                    self_query: self_query?,
                    self_key: self_key?,
                    self_value: self_value?,
                    self_out: for_steps(Linear::load(
                        file,
                        &format!("{prefix}/self_attention/linear_1"),
                        device,
                    )?)?,
                    cross_norm: LayerNorm::load(
                        file,
                        &format!("{prefix}/attention/layer_norm"),
                        device,
                    )?,
                    cross_query: for_steps(Linear::load(
                        file,
                        &format!("{prefix}/attention/linear_0"),
                        device,
                    )?)?,
                    cross_key: cross_key?,
                    cross_value: cross_value?,
                    cross_out: for_steps(Linear::load(
                        file,
                        &format!("{prefix}/attention/linear_2"),
                        device,
                    )?)?,
                    feed_forward: FeedForward::load(
                        file,
                        &format!("{prefix}/ffn"),
                        hp.activation,
                        device,
                    )?
                    .quantized(int8)?
                    .with_step_weights()?,
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        let embeddings = load_embeddings(file, device)?;
        // Quantised row by row from the f16 copy: the f32 vocabulary (106 MB for base) is
        // never made.
        let projection = int8.then(|| {
            Int8Matrix::quantize_rows(embeddings.rows(), embeddings.cols(), |token| {
                embeddings.row(token)
            })
        });
        Ok(Decoder {
            embeddings,
            projection,
            positions: file.tensor("decoder/position_encodings/encodings", device)?,
            layers,
            norm: LayerNorm::load(file, "decoder/layer_norm", device)?,
            heads: hp.decoder_heads,
            scale: 1.0 / ((hp.d_model / hp.decoder_heads) as f64).sqrt(),
        })
    }

    /// Cross-attention keys and values for the encoder output `audio` (`(frames, d_model)`).
    pub fn cross_cache(&self, audio: &Tensor) -> candle_core::Result<CrossCache> {
        let layers = self
            .layers
            .iter()
            .map(|layer| {
                let k_t = split_heads(&layer.cross_key.forward(audio)?, self.heads)?
                    .transpose(1, 2)?
                    .contiguous()?;
                let v = split_heads(&layer.cross_value.forward(audio)?, self.heads)?;
                Ok((k_t, v))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(CrossCache { layers })
    }

    /// Runs `tokens` (the positions after those in `cache`) of one sequence through the
    /// decoder, appending their keys and values to `cache`; returns the final-norm hidden
    /// states `(n, d_model)`.
    pub fn forward(
        &self,
        tokens: &[u32],
        cache: &mut SelfCache,
        cross: &CrossCache,
    ) -> candle_core::Result<Tensor> {
        self.run(tokens, 1, cache, cross, None)
    }

    /// One step of several sequences at once: `tokens[i]` is the next token of sequence `i`
    /// of `cache`. Every weight is read once for all of them, which is what makes beam search
    /// cost little more than greedy decoding. Returns the hidden states `(sequences, d_model)`.
    pub fn step(
        &self,
        tokens: &[u32],
        cache: &mut SelfCache,
        cross: &CrossCache,
    ) -> candle_core::Result<Tensor> {
        self.run(tokens, tokens.len(), cache, cross, None)
    }

    /// Runs the whole sequence `tokens` through the decoder (no cache) and also returns the
    /// cross-attention weights of `heads` ((layer, head) pairs): one `(tokens, frames)`
    /// row-major matrix per head, in the order of `heads`, each the softmax over the first
    /// `frames` encoder frames only of `q·kᵀ/√d` (OpenAI's `timing.py` cuts the scores to the
    /// audio actually in the window before the softmax). Only the listed heads are kept.
    pub fn forward_with_cross_weights(
        &self,
        tokens: &[u32],
        cross: &CrossCache,
        heads: &[(usize, usize)],
        frames: usize,
    ) -> candle_core::Result<(Tensor, Vec<Vec<f32>>)> {
        let mut capture = CrossWeights {
            heads,
            frames,
            weights: vec![Vec::new(); heads.len()],
        };
        let hidden = self.run(
            tokens,
            1,
            &mut SelfCache::default(),
            cross,
            Some(&mut capture),
        )?;
        Ok((hidden, capture.weights))
    }

    /// `tokens` holds `sequences` runs of equal length, one per sequence of `cache`.
    fn run(
        &self,
        tokens: &[u32],
        sequences: usize,
        cache: &mut SelfCache,
        cross: &CrossCache,
        mut capture: Option<&mut CrossWeights<'_>>,
    ) -> candle_core::Result<Tensor> {
        let device = self.positions.device();
        if sequences == 0 || !tokens.len().is_multiple_of(sequences) {
            candle_core::bail!(
                "{} tokens do not split into {sequences} sequences",
                tokens.len()
            );
        }
        let n = tokens.len() / sequences;
        let offset = cache.len;
        let mut embedded = Vec::with_capacity(n * self.embeddings.cols());
        for &token in tokens {
            let token = token as usize;
            if token >= self.embeddings.rows() {
                candle_core::bail!("token {token} is outside the vocabulary");
            }
            embedded.extend(self.embeddings.row(token));
        }
        let embedded = Tensor::from_vec(embedded, (sequences, n, self.embeddings.cols()), device)?;
        let mut x = embedded
            .broadcast_add(&self.positions.narrow(0, offset, n)?)?
            .reshape((sequences * n, self.embeddings.cols()))?;
        let mask = if n > 1 {
            Some(causal_mask(n, offset, device)?)
        } else {
            None
        };
        for (index, layer) in self.layers.iter().enumerate() {
            let h = layer.self_norm.forward(&x)?;
            let per_sequence = |x: Tensor| split_sequence_heads(&x, sequences, self.heads);
            let q = per_sequence((layer.self_query.forward(&h)? * self.scale)?)?;
            let k_t = per_sequence(layer.self_key.forward(&h)?)?.transpose(2, 3)?;
            let v = per_sequence(layer.self_value.forward(&h)?)?;
            let (k_t, v) = match cache.layers.get(index) {
                Some((past_k_t, past_v)) => (
                    Tensor::cat(&[past_k_t, &k_t], 3)?,
                    Tensor::cat(&[past_v, &v], 2)?,
                ),
                None => (k_t.contiguous()?, v),
            };
            let attended = attend(&q, &k_t, &v, mask.as_ref())?;
            if index < cache.layers.len() {
                cache.layers[index] = (k_t, v);
            } else {
                cache.layers.push((k_t, v));
            }
            x = (&x + layer.self_out.forward(&merge_sequence_heads(&attended)?)?)?;

            // Cross-attention reads the same audio for every sequence, so all rows go through
            // one `(heads, rows, head_dim)` product.
            let h = layer.cross_norm.forward(&x)?;
            let q = split_heads(&(layer.cross_query.forward(&h)? * self.scale)?, self.heads)?;
            let (cross_k_t, cross_v) = &cross.layers[index];
            let attended = match capture.as_deref_mut() {
                Some(capture) if capture.wants(index) => {
                    let scores = q.matmul(cross_k_t)?;
                    capture.record(index, &scores)?;
                    let scores = scores.contiguous()?;
                    kernels::softmax_last_dim_in_place(&scores)?;
                    scores.matmul(cross_v)?
                }
                _ => attend(&q, cross_k_t, cross_v, None)?,
            };
            x = (&x + layer.cross_out.forward(&merge_heads(&attended)?)?)?;

            x = (&x + layer.feed_forward.forward(&x)?)?;
        }
        cache.len += n;
        self.norm.forward(&x)
    }

    /// Vocabulary logits, one vector per row of the hidden states `(rows, d_model)`.
    pub fn logits(&self, hidden: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
        if let Some(projection) = &self.projection {
            let logits = projection.matmul(&hidden.flatten_all()?.to_vec1::<f32>()?, None);
            return Ok(logits
                .chunks_exact(projection.out())
                .map(<[f32]>::to_vec)
                .collect());
        }
        let rows = hidden.to_vec2::<f32>()?;
        if rows.len() > 1 {
            return Ok(self.embeddings.matmul_rows(&rows));
        }
        Ok(rows
            .iter()
            .map(|row| self.embeddings.matvec(row, None))
            .collect())
    }
}

/// The token embedding in f16, straight from the file's f16 values when it stores them (the
/// released models do), else rounded from f32.
fn load_embeddings(file: &Ct2File, device: &Device) -> Result<HalfMatrix, ModelError> {
    const NAME: &str = "decoder/embeddings/weight";
    let shape = file.shape(NAME).unwrap_or_default();
    match (file.half_bits(NAME)?, shape) {
        (Some(bits), &[rows, cols]) => Ok(HalfMatrix::from_bits(rows, cols, bits)),
        _ => Ok(HalfMatrix::from_tensor(&file.tensor(NAME, device)?)?),
    }
}

/// The alignment heads' cross-attention weights being collected by one forward pass.
struct CrossWeights<'a> {
    heads: &'a [(usize, usize)],
    frames: usize,
    weights: Vec<Vec<f32>>,
}

impl CrossWeights<'_> {
    fn wants(&self, layer: usize) -> bool {
        self.heads.iter().any(|&(l, _)| l == layer)
    }

    /// Keeps the softmax over the first `frames` columns of this layer's wanted heads, from
    /// the scaled scores `(heads, tokens, audio frames)`.
    fn record(&mut self, layer: usize, scores: &Tensor) -> candle_core::Result<()> {
        let (_, _, audio_frames) = scores.dims3()?;
        let frames = self.frames.clamp(1, audio_frames);
        for (slot, &(l, head)) in self.weights.iter_mut().zip(self.heads) {
            if l != layer {
                continue;
            }
            let head_scores = scores.get(head)?.narrow(1, 0, frames)?.contiguous()?;
            kernels::softmax_last_dim_in_place(&head_scores)?;
            *slot = head_scores.flatten_all()?.to_vec1::<f32>()?;
        }
        Ok(())
    }
}

/// `(sequences·n, heads·head_dim)` → `(sequences, heads, n, head_dim)`, contiguous.
fn split_sequence_heads(x: &Tensor, sequences: usize, heads: usize) -> candle_core::Result<Tensor> {
    let (rows, width) = x.dims2()?;
    x.reshape((sequences, rows / sequences, heads, width / heads))?
        .transpose(1, 2)?
        .contiguous()
}

/// `(sequences, heads, n, head_dim)` → `(sequences·n, heads·head_dim)`.
fn merge_sequence_heads(x: &Tensor) -> candle_core::Result<Tensor> {
    let (sequences, heads, n, head_dim) = x.dims4()?;
    x.transpose(1, 2)?
        .contiguous()?
        .reshape((sequences * n, heads * head_dim))
}

/// `(n, offset + n)` additive mask hiding keys after each query's own position.
fn causal_mask(n: usize, offset: usize, device: &Device) -> candle_core::Result<Tensor> {
    let total = offset + n;
    let data: Vec<f32> = (0..n)
        .flat_map(|row| {
            (0..total).map(move |col| {
                if col > offset + row {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    Tensor::from_vec(data, (n, total), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causal_mask_hides_future_keys() {
        let mask = causal_mask(2, 1, &Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(mask[0], vec![0.0, 0.0, f32::NEG_INFINITY]);
        assert_eq!(mask[1], vec![0.0, 0.0, 0.0]);
    }
}
