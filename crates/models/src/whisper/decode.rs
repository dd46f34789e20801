//! Decoding one 30 s window at one temperature, as OpenAI Whisper's `DecodingTask` does:
//! prompt + SOT sequence in, up to `n_text_ctx / 2` tokens out (beam search at temperature 0,
//! one sampled sequence above it), with the no-speech probability read at the SOT position and
//! the quality numbers the fallback policy needs (average log-probability, compression ratio).

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::Tensor;

use crate::ModelError;
use crate::whisper::compression::compression_ratio;
use crate::whisper::decoder::{CrossCache, SelfCache};
use crate::whisper::logit_filters::LogitFilters;
use crate::whisper::model::WhisperNet;
use crate::whisper::sampling::{Rng, argmax, log_prob, sample, softmax};
use crate::whisper::tokenizer::Tokenizer;

/// What decoding one window produced.
#[derive(Debug, Clone)]
pub(crate) struct DecodeResult {
    /// Sampled tokens (timestamps included), without the closing end-of-text.
    pub tokens: Vec<u32>,
    /// Text of the sampled tokens.
    pub text: String,
    /// Sum of the sampled tokens' log-probabilities (end-of-text included) over their count + 1.
    pub avg_logprob: f32,
    pub no_speech_prob: f32,
    pub compression_ratio: f32,
    pub temperature: f32,
}

/// The decoder's input for a window: `<|startofprev|>` and the prompt's last tokens when there
/// is a prompt, then the SOT sequence. Returns the tokens and the index of `<|startoftranscript|>`.
pub(crate) fn initial_tokens(
    sot_prev: u32,
    prompt: &[u32],
    sot_sequence: &[u32],
    n_text_ctx: usize,
) -> (Vec<u32>, usize) {
    let mut tokens = Vec::new();
    if !prompt.is_empty() {
        let keep = prompt.len().min(n_text_ctx / 2 - 1);
        tokens.push(sot_prev);
        tokens.extend_from_slice(&prompt[prompt.len() - keep..]);
    }
    let sot_index = tokens.len();
    tokens.extend_from_slice(sot_sequence);
    (tokens, sot_index)
}

/// Borrowed model parts one window's decoding needs.
pub(crate) struct WindowDecoder<'a> {
    pub net: &'a WhisperNet,
    pub tokenizer: &'a Tokenizer,
    pub filters: &'a LogitFilters,
    pub cancel: Option<&'a AtomicBool>,
    /// Most tokens one sequence may have (at most `n_text_ctx / 2`).
    pub max_tokens: usize,
}

impl WindowDecoder<'_> {
    /// Decodes one window whose encoder output is cached in `cross`: beam search with
    /// `beam_size` hypotheses at temperature 0 (greedy when `beam_size` is 1), one sampled
    /// sequence above it.
    ///
    /// # Errors
    /// [`ModelError::Cancelled`] as soon as the cancel flag is seen set;
    /// [`ModelError::Inference`] when a tensor operation fails.
    pub fn decode(
        &self,
        cross: &CrossCache,
        initial: &[u32],
        sot_index: usize,
        temperature: f32,
        beam_size: usize,
        rng: &mut Rng,
    ) -> Result<DecodeResult, ModelError> {
        let decoder = &self.net.decoder;
        let mut cache = SelfCache::default();
        let hidden = decoder.forward(initial, &mut cache, cross)?;
        let rows = Tensor::new(
            &[sot_index as u32, (initial.len() - 1) as u32],
            hidden.device(),
        )?;
        let first = decoder.logits(&hidden.index_select(&rows, 0)?)?;
        let no_speech_prob = softmax(&first[0])
            .get(self.tokenizer.special.no_speech as usize)
            .copied()
            .unwrap_or(0.0) as f32;
        let logits = first.into_iter().nth(1).unwrap_or_default();
        let (tokens, sum_logprob) = if temperature > 0.0 || beam_size <= 1 {
            self.sample_sequence(cross, cache, logits, temperature, rng)?
        } else {
            self.beam_search(cross, cache, logits, beam_size)?
        };
        let text = self.tokenizer.decode(&tokens);
        Ok(DecodeResult {
            avg_logprob: (sum_logprob / (tokens.len() + 1) as f64) as f32,
            compression_ratio: compression_ratio(&text),
            text,
            tokens,
            no_speech_prob,
            temperature,
        })
    }

    fn check_cancel(&self) -> Result<(), ModelError> {
        if self.cancel.is_some_and(|flag| flag.load(Ordering::Relaxed)) {
            return Err(ModelError::Cancelled);
        }
        Ok(())
    }

    /// Greedy (temperature 0) or sampled decoding of one sequence, from the logits after the
    /// initial tokens. Returns the tokens without end-of-text and their summed log-probability
    /// (end-of-text included).
    fn sample_sequence(
        &self,
        cross: &CrossCache,
        mut cache: SelfCache,
        mut logits: Vec<f32>,
        temperature: f32,
        rng: &mut Rng,
    ) -> Result<(Vec<u32>, f64), ModelError> {
        let decoder = &self.net.decoder;
        let n_text_ctx = self.net.hp.n_text_ctx;
        let eot = self.tokenizer.special.eot;
        let mut tokens = Vec::new();
        let mut sum_logprob = 0f64;
        for _ in 0..self.max_tokens.min(n_text_ctx / 2) {
            self.check_cancel()?;
            self.filters.apply(&mut logits, &tokens);
            let next = if temperature > 0.0 {
                sample(&logits, temperature, rng)
            } else {
                argmax(&logits)
            };
            sum_logprob += f64::from(log_prob(&logits, next));
            let next = next as u32;
            if next == eot {
                break;
            }
            tokens.push(next);
            if cache.len() >= n_text_ctx {
                break;
            }
            let hidden = decoder.forward(&[next], &mut cache, cross)?;
            logits = decoder
                .logits(&hidden)?
                .into_iter()
                .next()
                .unwrap_or_default();
        }
        Ok((tokens, sum_logprob))
    }

    /// OpenAI Whisper's `BeamSearchDecoder` with patience 1 and its maximum-likelihood ranker
    /// without length penalty: every step extends each live hypothesis by its `beam_size + 1`
    /// best tokens, keeps the `beam_size` best unfinished extensions, and collects finished
    /// ones (ending in end-of-text) until `beam_size` have finished or the length limit is
    /// reached; the winner has the best summed log-probability per token. All live hypotheses
    /// share one batched decoder step ([`crate::whisper::decoder::Decoder::step`]).
    fn beam_search(
        &self,
        cross: &CrossCache,
        mut cache: SelfCache,
        first_logits: Vec<f32>,
        beam_size: usize,
    ) -> Result<(Vec<u32>, f64), ModelError> {
        let decoder = &self.net.decoder;
        let n_text_ctx = self.net.hp.n_text_ctx;
        let eot = self.tokenizer.special.eot;
        let mut beams = vec![Hypothesis {
            tokens: Vec::new(),
            sum_logprob: 0.0,
        }];
        let mut logits = vec![first_logits];
        let mut finished: Vec<Hypothesis> = Vec::new();
        for _ in 0..self.max_tokens.min(n_text_ctx / 2) {
            self.check_cancel()?;
            let mut candidates = Vec::with_capacity(beams.len() * (beam_size + 1));
            for (parent, (beam, row)) in beams.iter().zip(&mut logits).enumerate() {
                self.filters.apply(row, &beam.tokens);
                for (token, logprob) in top_log_probs(row, beam_size + 1) {
                    candidates.push(Candidate {
                        parent,
                        token: token as u32,
                        sum_logprob: beam.sum_logprob + logprob,
                    });
                }
            }
            // Stable, so equal scores keep the order OpenAI's dict iteration gives them.
            candidates.sort_by(|a, b| b.sum_logprob.total_cmp(&a.sum_logprob));
            let mut next = Vec::with_capacity(beam_size);
            let mut newly_finished = Vec::new();
            for candidate in candidates {
                let parent = &beams[candidate.parent];
                if candidate.token == eot {
                    newly_finished.push(Hypothesis {
                        tokens: parent.tokens.clone(),
                        sum_logprob: candidate.sum_logprob,
                    });
                    continue;
                }
                let mut tokens = parent.tokens.clone();
                tokens.push(candidate.token);
                next.push((
                    candidate.parent,
                    Hypothesis {
                        tokens,
                        sum_logprob: candidate.sum_logprob,
                    },
                ));
                if next.len() == beam_size {
                    break;
                }
            }
            for hypothesis in newly_finished {
                if finished.len() >= beam_size {
                    break;
                }
                finished.push(hypothesis);
            }
            if finished.len() >= beam_size || next.is_empty() || cache.len() >= n_text_ctx {
                break;
            }
            let parents: Vec<usize> = next.iter().map(|(parent, _)| *parent).collect();
            cache.reorder(&parents)?;
            beams = next.into_iter().map(|(_, hypothesis)| hypothesis).collect();
            let last: Vec<u32> = beams
                .iter()
                .map(|beam| beam.tokens.last().copied().unwrap_or(eot))
                .collect();
            let hidden = decoder.step(&last, &mut cache, cross)?;
            logits = decoder.logits(&hidden)?;
        }
        // Too few finished: the live hypotheses compete too, as OpenAI's `finalize` does.
        let mut live = beams;
        live.sort_by(|a, b| b.sum_logprob.total_cmp(&a.sum_logprob));
        for hypothesis in live {
            if finished.len() >= beam_size {
                break;
            }
            finished.push(hypothesis);
        }
        let best = finished
            .into_iter()
            .max_by(|a, b| a.score().total_cmp(&b.score()))
            .unwrap_or(Hypothesis {
                tokens: Vec::new(),
                sum_logprob: f64::NEG_INFINITY,
            });
        Ok((best.tokens, best.sum_logprob))
    }
}

/// One beam-search hypothesis: the tokens after the initial ones (no end-of-text) and the sum
/// of their log-probabilities (plus end-of-text's once finished).
#[derive(Debug, Clone)]
struct Hypothesis {
    tokens: Vec<u32>,
    sum_logprob: f64,
}

impl Hypothesis {
    /// OpenAI's `MaximumLikelihoodRanker` with no length penalty: log-probability per token.
    fn score(&self) -> f64 {
        self.sum_logprob / self.tokens.len().max(1) as f64
    }
}

/// A possible extension of hypothesis `parent` by `token`.
struct Candidate {
    parent: usize,
    token: u32,
    sum_logprob: f64,
}

/// The `k` most likely tokens of `logits` (already filtered) with their log-probabilities,
/// best first; masked (−∞) tokens are never returned.
fn top_log_probs(logits: &[f32], k: usize) -> Vec<(usize, f64)> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return Vec::new();
    }
    let log_total = logits
        .iter()
        .map(|&l| f64::from(l - max).exp())
        .sum::<f64>()
        .ln();
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    for (index, &value) in logits.iter().enumerate() {
        if value == f32::NEG_INFINITY || (best.len() == k && value <= best[k - 1].1) {
            continue;
        }
        let at = best.partition_point(|&(_, v)| v >= value);
        best.insert(at, (index, value));
        best.truncate(k);
    }
    best.into_iter()
        .map(|(index, value)| (index, f64::from(value - max) - log_total))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_log_probs_are_the_best_normalised_and_skip_masked() {
        let logits = [1.0, f32::NEG_INFINITY, 3.0, 2.0, 3.0];
        let top = top_log_probs(&logits, 3);
        let indices: Vec<usize> = top.iter().map(|&(i, _)| i).collect();
        assert_eq!(indices, vec![2, 4, 3]);
        for (index, logprob) in top {
            assert!((logprob - f64::from(log_prob(&logits, index))).abs() < 1e-6);
        }
        assert_eq!(top_log_probs(&[f32::NEG_INFINITY, 0.0], 5).len(), 1);
        assert!(top_log_probs(&[f32::NEG_INFINITY; 3], 2).is_empty());
    }

    #[test]
    fn hypotheses_rank_by_log_probability_per_token() {
        let short = Hypothesis {
            tokens: vec![1],
            sum_logprob: -0.9,
        };
        let long = Hypothesis {
            tokens: vec![1, 2, 3],
            sum_logprob: -1.5,
        };
        assert!(long.score() > short.score());
    }

    #[test]
    fn prompt_goes_before_sot_and_is_cut_to_half_the_context() {
        let prompt: Vec<u32> = (0..300).collect();
        let (tokens, sot_index) = initial_tokens(9, &prompt, &[1, 2, 3], 448);
        assert_eq!(tokens[0], 9);
        assert_eq!(sot_index, 1 + 223);
        assert_eq!(tokens[1], 300 - 223);
        assert_eq!(&tokens[sot_index..], &[1, 2, 3]);
        let (tokens, sot_index) = initial_tokens(9, &[], &[1], 448);
        assert_eq!((tokens, sot_index), (vec![1], 0));
    }
}
