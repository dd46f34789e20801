//! The logit filters OpenAI Whisper applies before every sampling step, in its order:
//! `SuppressBlank` (no blank or end-of-text as the first token), `SuppressTokens` (the
//! non-speech symbols and task tokens from `config.json`), and `ApplyTimestampRules`
//! (timestamps come in pairs and never decrease, the first token is a timestamp no later than
//! `max_initial_timestamp`, and a timestamp is forced when the timestamps together are more
//! likely than any single text token).

use crate::whisper::special::SpecialTokens;

/// Latest first timestamp allowed, in seconds (OpenAI's `max_initial_timestamp`).
pub(crate) const MAX_INITIAL_TIMESTAMP_SECS: f64 = 1.0;
/// Seconds per timestamp token.
pub(crate) const TIME_PRECISION_SECS: f64 = 0.02;

/// Token masks for one model.
#[derive(Debug, Clone)]
pub(crate) struct LogitFilters {
    suppress: Vec<u32>,
    suppress_begin: Vec<u32>,
    eot: usize,
    no_timestamps: usize,
    timestamp_begin: usize,
    max_initial_timestamp_index: usize,
}

impl LogitFilters {
    pub fn new(special: &SpecialTokens, suppress: &[u32], suppress_begin: &[u32]) -> LogitFilters {
        LogitFilters {
            suppress: suppress.to_vec(),
            suppress_begin: suppress_begin.to_vec(),
            eot: special.eot as usize,
            no_timestamps: special.no_timestamps as usize,
            timestamp_begin: special.timestamp_begin as usize,
            max_initial_timestamp_index: (MAX_INITIAL_TIMESTAMP_SECS / TIME_PRECISION_SECS).round()
                as usize,
        }
    }

    /// Masks (sets to −∞) the tokens that may not follow `sampled`, the tokens sampled so far
    /// in this window (the prompt and SOT sequence not included).
    pub fn apply(&self, logits: &mut [f32], sampled: &[u32]) {
        if sampled.is_empty() {
            mask_ids(logits, &self.suppress_begin);
        }
        mask_ids(logits, &self.suppress);
        self.apply_timestamp_rules(logits, sampled);
    }

    fn apply_timestamp_rules(&self, logits: &mut [f32], sampled: &[u32]) {
        let tb = self.timestamp_begin;
        let len = logits.len();
        if let Some(value) = logits.get_mut(self.no_timestamps) {
            *value = f32::NEG_INFINITY;
        }
        let is_timestamp = |token: &u32| *token as usize >= tb;
        let last_was_timestamp = sampled.last().is_some_and(is_timestamp);
        let penultimate_was_timestamp =
            sampled.len() < 2 || is_timestamp(&sampled[sampled.len() - 2]);
        if last_was_timestamp {
            if penultimate_was_timestamp {
                mask_range(logits, tb, len);
            } else {
                mask_range(logits, 0, self.eot);
            }
        }
        if let Some(&last_timestamp) = sampled.iter().rev().find(|t| is_timestamp(t)) {
            // Timestamps never decrease, and a segment has non-zero length.
            let last_timestamp = last_timestamp as usize;
            let first_allowed = if last_was_timestamp && !penultimate_was_timestamp {
                last_timestamp
            } else {
                last_timestamp + 1
            };
            mask_range(logits, tb, first_allowed);
        }
        if sampled.is_empty() {
            mask_range(logits, 0, tb);
            mask_range(logits, tb + self.max_initial_timestamp_index + 1, len);
        }
        if self.timestamps_outweigh_text(logits) {
            mask_range(logits, 0, tb);
        }
    }

    /// Whether `logsumexp` of the timestamp log-probabilities beats the best text token's.
    fn timestamps_outweigh_text(&self, logits: &[f32]) -> bool {
        let tb = self.timestamp_begin.min(logits.len());
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if !max.is_finite() {
            return false;
        }
        let (text, timestamps) = logits.split_at(tb);
        let timestamp_mass: f64 = timestamps.iter().map(|&l| f64::from(l - max).exp()).sum();
        let max_text = text.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // Both sides share the softmax normaliser, so compare before subtracting it.
        timestamp_mass > 0.0 && timestamp_mass.ln() > f64::from(max_text - max)
    }
}

fn mask_ids(logits: &mut [f32], ids: &[u32]) {
    for &id in ids {
        if let Some(value) = logits.get_mut(id as usize) {
            *value = f32::NEG_INFINITY;
        }
    }
}

fn mask_range(logits: &mut [f32], start: usize, end: usize) {
    let end = end.min(logits.len());
    if start < end {
        logits[start..end].fill(f32::NEG_INFINITY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layout: 0..4 text, 4 eot, 5 sot, 6 en, 7 translate, 8 transcribe, 9 sot_lm, 10 sot_prev,
    // 11 nocaptions, 12 notimestamps, 13.. timestamps (0.00, 0.02, ...).
    const TB: u32 = 13;

    fn filters() -> LogitFilters {
        let names: Vec<String> = [
            "a",
            "b",
            "c",
            " ",
            "<|endoftext|>",
            "<|startoftranscript|>",
            "<|en|>",
            "<|translate|>",
            "<|transcribe|>",
            "<|startoflm|>",
            "<|startofprev|>",
            "<|nocaptions|>",
            "<|notimestamps|>",
            "<|0.00|>",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let special = SpecialTokens::find(&names).unwrap();
        LogitFilters::new(&special, &[1], &[3, 4])
    }

    fn allowed(logits: &[f32]) -> Vec<usize> {
        logits
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_finite())
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn first_token_is_an_early_timestamp() {
        let mut logits = vec![0.0; TB as usize + 100];
        filters().apply(&mut logits, &[]);
        assert_eq!(
            allowed(&logits),
            (TB as usize..=TB as usize + 50).collect::<Vec<_>>()
        );
    }

    #[test]
    fn after_a_lone_timestamp_only_text_follows() {
        let mut logits = vec![0.0; TB as usize + 100];
        filters().apply(&mut logits, &[TB + 5]);
        assert_eq!(allowed(&logits), vec![0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    }

    #[test]
    fn closing_timestamp_cannot_go_back_in_time() {
        let mut logits = vec![0.0; TB as usize + 100];
        // Make a timestamp likely enough to be forced.
        logits[TB as usize + 30] = 10.0;
        filters().apply(&mut logits, &[TB + 5, 0, 2]);
        let allowed = allowed(&logits);
        assert!(allowed.iter().all(|&i| i >= TB as usize + 6), "{allowed:?}");
    }

    #[test]
    fn after_a_timestamp_pair_no_text_is_forced() {
        let mut logits = vec![0.0; TB as usize + 100];
        logits[TB as usize..].fill(-10.0);
        filters().apply(&mut logits, &[TB + 5, 0, TB + 9]);
        // Last was a timestamp closing a segment: next is another timestamp (>= the last) or eot.
        let allowed = allowed(&logits);
        assert!(allowed.contains(&4));
        assert!(!allowed.contains(&0));
        assert!(allowed.contains(&(TB as usize + 9)));
        assert!(!allowed.contains(&(TB as usize + 8)));
    }

    #[test]
    fn suppressed_tokens_stay_masked() {
        let mut logits = vec![0.0; TB as usize + 100];
        logits[TB as usize..].fill(-10.0);
        filters().apply(&mut logits, &[TB, 0]);
        assert!(!logits[1].is_finite());
        assert!(!logits[12].is_finite());
        assert!(logits[2].is_finite());
    }
}
