//! Word timestamps for a decoded window, as OpenAI Whisper's `timing.py` (and faster-whisper's
//! `find_alignment`) compute them.
//!
//! The window's text is run once more through the decoder as `SOT sequence, <|notimestamps|>,
//! text, <|endoftext|>`, keeping the cross-attention weights of the alignment heads (those
//! that follow the audio). The weights, cut to the audio in the window, are standardised per
//! frame over the tokens, median-filtered along time and averaged over the heads; DTW through
//! their negation maps each token to the frames it was said in. A row of that matrix is the
//! position that *predicts* a token, so the row of `<|notimestamps|>` times the first text
//! token and the row of the last text token times the end of the last word.

use candle_core::Tensor;
use rayon::prelude::*;

use crate::ModelError;
use crate::whisper::WhisperModel;
use crate::whisper::decoder::CrossCache;
use crate::whisper::dtw::{
    MEDIAN_FILTER_WIDTH, dtw, first_columns, median_filter_rows, standardise_columns,
};
use crate::whisper::logit_filters::TIME_PRECISION_SECS;
use crate::whisper::options::WordTiming;
use crate::whisper::segments::RawSegment;
use crate::whisper::words::{
    AlignedWord, SegmentBounds, clip_at_sentence_ends, fit_to_segment, median_duration,
    merge_punctuation, split_words,
};

/// Mel frames per encoder frame: the encoder's second convolution halves time.
const MEL_FRAMES_PER_ENCODER_FRAME: usize = 2;

/// The alignment heads to use: those `config.json` lists when they fit the decoder, otherwise
/// every head of the second half of the decoder layers (OpenAI's default before a model's
/// heads were known).
pub(crate) fn alignment_heads(
    configured: &[(usize, usize)],
    layers: usize,
    heads: usize,
) -> Vec<(usize, usize)> {
    let fits = |&(layer, head): &(usize, usize)| layer < layers && head < heads;
    if !configured.is_empty() && configured.iter().all(fits) {
        return configured.to_vec();
    }
    (layers / 2..layers)
        .flat_map(|layer| (0..heads).map(move |head| (layer, head)))
        .collect()
}

/// A decoded window, as word timing needs it.
pub(crate) struct WindowAlignment<'a> {
    /// The window's encoder output, as cross-attention keys and values.
    pub cross: &'a CrossCache,
    /// `<|startoftranscript|>` and, for multilingual models, the language and task tokens.
    pub sot_sequence: &'a [u32],
    /// Language of the text (word splitting differs for languages without spaces).
    pub language: Option<&'a str>,
    /// Mel frames of audio in the window (fewer than 3000 at the end of the audio).
    pub mel_frames: usize,
    /// Where the window starts on the audio's timeline.
    pub time_offset_secs: f64,
}

impl WhisperModel {
    /// Word timings for each of a window's `segments`, in order (an empty list for a segment
    /// without words). `last_speech_secs` carries the end of the last timed speech from window
    /// to window; `duration_secs` bounds every time.
    ///
    /// # Errors
    /// [`ModelError::Inference`] when a tensor operation fails.
    pub(crate) fn time_words(
        &self,
        window: &WindowAlignment<'_>,
        segments: &[RawSegment],
        duration_secs: f64,
        last_speech_secs: &mut f64,
    ) -> Result<Vec<Vec<WordTiming>>, ModelError> {
        let eot = self.tokenizer.special.eot;
        let text_per_segment: Vec<Vec<u32>> = segments
            .iter()
            .map(|segment| {
                segment
                    .tokens
                    .iter()
                    .copied()
                    .filter(|&t| t < eot)
                    .collect()
            })
            .collect();
        let text: Vec<u32> = text_per_segment.iter().flatten().copied().collect();
        let mut words = self.align(window, &text)?;
        let median = median_duration(&words);
        if median > 0.0 {
            clip_at_sentence_ends(&mut words, median * 2.0);
        }
        merge_punctuation(&mut words);
        for word in &mut words {
            word.start_secs += window.time_offset_secs;
            word.end_secs += window.time_offset_secs;
        }

        let mut remaining = words.into_iter();
        let mut timed = Vec::with_capacity(segments.len());
        for (segment, text) in segments.iter().zip(&text_per_segment) {
            let mut taken = 0;
            let mut segment_words = Vec::new();
            while taken < text.len() {
                let Some(word) = remaining.next() else { break };
                taken += word.tokens.len();
                if !word.word.is_empty() {
                    segment_words.push(word);
                }
            }
            let bounds = SegmentBounds {
                start_secs: segment.start_secs.min(duration_secs),
                end_secs: segment.end_secs.min(duration_secs),
            };
            *last_speech_secs =
                fit_to_segment(&mut segment_words, bounds, median, *last_speech_secs);
            timed.push(
                segment_words
                    .into_iter()
                    .map(|word| WordTiming {
                        word: word.word,
                        start_secs: word.start_secs,
                        end_secs: word.end_secs,
                        probability: word.probability,
                    })
                    .collect(),
            );
        }
        Ok(timed)
    }

    /// Words of `text` (the window's text tokens) with times relative to the window start.
    fn align(
        &self,
        window: &WindowAlignment<'_>,
        text: &[u32],
    ) -> Result<Vec<AlignedWord>, ModelError> {
        let special = &self.tokenizer.special;
        let sot_len = window.sot_sequence.len();
        let mut tokens = window.sot_sequence.to_vec();
        tokens.push(special.no_timestamps);
        tokens.extend_from_slice(text);
        tokens.push(special.eot);
        if text.is_empty()
            || tokens.len() > self.net.hp.n_text_ctx
            || self.alignment_heads.is_empty()
        {
            return Ok(Vec::new());
        }
        let frames =
            (window.mel_frames / MEL_FRAMES_PER_ENCODER_FRAME).clamp(1, self.net.hp.n_audio_ctx);
        let (hidden, weights) = self.net.decoder.forward_with_cross_weights(
            &tokens,
            window.cross,
            &self.alignment_heads,
            frames,
        )?;
        let probabilities = self.token_probabilities(&hidden, sot_len, text)?;

        // Rows `sot_len ..= sot_len + text.len()`: `<|notimestamps|>` and the text tokens.
        let rows = tokens.len();
        let filtered: Vec<Vec<f32>> = weights
            .into_par_iter()
            .filter(|head| head.len() == rows * frames)
            .map(|mut head| {
                standardise_columns(&mut head, rows, frames);
                median_filter_rows(&head, rows, frames, MEDIAN_FILTER_WIDTH)
            })
            .collect();
        let mut matrix = vec![0f32; rows * frames];
        for head in filtered {
            for (sum, value) in matrix.iter_mut().zip(head) {
                *sum += value;
            }
        }
        let aligned_rows = text.len() + 1;
        let cost: Vec<f32> = matrix[sot_len * frames..(sot_len + aligned_rows) * frames]
            .iter()
            .map(|&value| -value)
            .collect();
        // Averaging over heads would only scale the costs, which leaves the path unchanged.
        let path = dtw(&cost, aligned_rows, frames);
        let jump_secs: Vec<f64> = first_columns(&path, aligned_rows)
            .into_iter()
            .map(|frame| frame as f64 * TIME_PRECISION_SECS)
            .collect();

        let decode = |ids: &[u32]| self.tokenizer.decode(ids);
        let mut boundary = 0;
        let mut words = Vec::new();
        for (word, word_tokens) in split_words(text, window.language, &decode) {
            let end = boundary + word_tokens.len();
            let probability =
                probabilities[boundary..end].iter().sum::<f32>() / word_tokens.len().max(1) as f32;
            words.push(AlignedWord {
                word,
                tokens: word_tokens,
                start_secs: jump_secs[boundary],
                end_secs: jump_secs[end],
                probability,
            });
            boundary = end;
        }
        Ok(words)
    }

    /// Probability of each text token from the alignment pass's logits, over the text
    /// vocabulary only (OpenAI's `logits[:, :eot].softmax`).
    fn token_probabilities(
        &self,
        hidden: &Tensor,
        sot_len: usize,
        text: &[u32],
    ) -> Result<Vec<f32>, ModelError> {
        let eot = self.tokenizer.special.eot as usize;
        let rows = hidden.narrow(0, sot_len, text.len())?;
        let logits = self.net.decoder.logits(&rows)?;
        Ok(logits
            .iter()
            .zip(text)
            .map(|(row, &token)| {
                let row = &row[..eot.min(row.len())];
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let total: f64 = row.iter().map(|&l| f64::from(l - max).exp()).sum();
                row.get(token as usize)
                    .map_or(0.0, |&l| (f64::from(l - max).exp() / total) as f32)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_heads_are_used_when_they_fit() {
        assert_eq!(
            alignment_heads(&[(1, 0), (3, 4)], 4, 6),
            vec![(1, 0), (3, 4)]
        );
    }

    #[test]
    fn missing_or_invalid_heads_fall_back_to_the_last_half_of_the_layers() {
        let all = alignment_heads(&[], 4, 2);
        assert_eq!(all, vec![(2, 0), (2, 1), (3, 0), (3, 1)]);
        assert_eq!(alignment_heads(&[(9, 0)], 4, 2), all);
    }
}
