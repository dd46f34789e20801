//! Decoding one 30 s window at one temperature, as OpenAI Whisper's `DecodingTask` does with
//! one sequence: prompt + SOT sequence in, up to `n_text_ctx / 2` sampled tokens out, with the
//! no-speech probability read at the SOT position and the quality numbers the fallback policy
//! needs (average log-probability, compression ratio).

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
}

impl WindowDecoder<'_> {
    /// Decodes one window whose encoder output is cached in `cross`.
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
        rng: &mut Rng,
    ) -> Result<DecodeResult, ModelError> {
        let decoder = &self.net.decoder;
        let n_text_ctx = self.net.hp.n_text_ctx;
        let sample_len = n_text_ctx / 2;
        let eot = self.tokenizer.special.eot;

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
        let mut logits = first.into_iter().nth(1).unwrap_or_default();

        let mut tokens = Vec::new();
        let mut sum_logprob = 0f64;
        for _ in 0..sample_len {
            if self.cancel.is_some_and(|flag| flag.load(Ordering::Relaxed)) {
                return Err(ModelError::Cancelled);
            }
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
