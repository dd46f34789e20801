//! Word error rate with text normalisation, for accuracy tests and benchmark tools.
//!
//! Both texts are normalised the same way before comparison, so the rate counts recognition
//! errors rather than differences in casing, punctuation or how a number is written.

mod normalize;

pub use normalize::normalize_text;

/// Word-level Levenshtein distance over normalised words divided by the reference word count.
/// An empty reference gives 0.0 for an empty hypothesis and 1.0 otherwise.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    wer_breakdown(reference, hypothesis).rate()
}

/// The edits that turn the reference into the hypothesis, from a minimum-cost alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WerBreakdown {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub reference_words: usize,
}

impl WerBreakdown {
    /// Total edits: substitutions + deletions + insertions.
    pub fn errors(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// Errors per reference word; may exceed 1.0 when the hypothesis has many insertions.
    pub fn rate(&self) -> f64 {
        if self.reference_words == 0 {
            return if self.errors() == 0 { 0.0 } else { 1.0 };
        }
        self.errors() as f64 / self.reference_words as f64
    }
}

/// Aligns the normalised words of both texts and counts each kind of edit.
///
/// Among alignments of equal cost, a substitution is preferred to a deletion and a deletion to
/// an insertion, so the breakdown is deterministic. Runs in O(reference × hypothesis) time and
/// O(hypothesis) memory, so hour-long transcripts are fine.
pub fn wer_breakdown(reference: &str, hypothesis: &str) -> WerBreakdown {
    let reference = normalize_text(reference);
    let hypothesis = normalize_text(hypothesis);

    // `previous[j]` aligns the reference words seen so far with `hypothesis[..j]`.
    let mut previous: Vec<Alignment> = (0..=hypothesis.len())
        .map(|j| Alignment {
            cost: j,
            insertions: j,
            ..Alignment::default()
        })
        .collect();
    for (i, reference_word) in reference.iter().enumerate() {
        let mut current = Vec::with_capacity(hypothesis.len() + 1);
        current.push(Alignment {
            cost: i + 1,
            deletions: i + 1,
            ..Alignment::default()
        });
        for (j, hypothesis_word) in hypothesis.iter().enumerate() {
            let diagonal = if reference_word == hypothesis_word {
                previous[j]
            } else {
                previous[j].substitute()
            };
            let deletion = previous[j + 1].delete();
            let insertion = current[j].insert();
            // `min_by_key` keeps the first of equal minima, which gives the documented preference.
            let best = [diagonal, deletion, insertion]
                .into_iter()
                .min_by_key(|alignment| alignment.cost);
            current.push(best.unwrap_or(diagonal));
        }
        previous = current;
    }
    let best = previous.last().copied().unwrap_or_default();
    WerBreakdown {
        substitutions: best.substitutions,
        deletions: best.deletions,
        insertions: best.insertions,
        reference_words: reference.len(),
    }
}

/// A partial alignment: its cost and the edits that make it up.
#[derive(Debug, Clone, Copy, Default)]
struct Alignment {
    cost: usize,
    substitutions: usize,
    deletions: usize,
    insertions: usize,
}

impl Alignment {
    fn substitute(self) -> Self {
        Self {
            cost: self.cost + 1,
            substitutions: self.substitutions + 1,
            ..self
        }
    }

    fn delete(self) -> Self {
        Self {
            cost: self.cost + 1,
            deletions: self.deletions + 1,
            ..self
        }
    }

    fn insert(self) -> Self {
        Self {
            cost: self.cost + 1,
            insertions: self.insertions + 1,
            ..self
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_text_modulo_case_and_punctuation_is_perfect() {
        assert_eq!(
            word_error_rate("Hello, world! How are you?", "hello world how are you"),
            0.0
        );
    }

    #[test]
    fn numbers_and_titles_compare_equal_however_written() {
        assert_eq!(
            word_error_rate("Mr. Smith has 2 dogs", "mister smith has two dogs"),
            0.0
        );
    }

    #[test]
    fn counts_each_kind_of_edit() {
        let breakdown = wer_breakdown("the cat sat on the mat", "the cat sit on mat");
        assert_eq!(
            breakdown,
            WerBreakdown {
                substitutions: 1,
                deletions: 1,
                insertions: 0,
                reference_words: 6
            }
        );
        assert_eq!(breakdown.errors(), 2);
        assert!((breakdown.rate() - 2.0 / 6.0).abs() < 1e-12);

        let breakdown = wer_breakdown("hello world", "hello big wide world");
        assert_eq!(
            breakdown,
            WerBreakdown {
                substitutions: 0,
                deletions: 0,
                insertions: 2,
                reference_words: 2
            }
        );
        assert_eq!(breakdown.rate(), 1.0);
    }

    #[test]
    fn prefers_substitution_on_ties() {
        let breakdown = wer_breakdown("a b c", "a x c");
        assert_eq!(
            breakdown,
            WerBreakdown {
                substitutions: 1,
                deletions: 0,
                insertions: 0,
                reference_words: 3
            }
        );
    }

    #[test]
    fn rate_can_exceed_one() {
        assert_eq!(word_error_rate("yes", "no no no"), 3.0);
    }

    #[test]
    fn empty_texts() {
        assert_eq!(word_error_rate("", ""), 0.0);
        assert_eq!(word_error_rate("...", "  "), 0.0);
        assert_eq!(word_error_rate("", "something"), 1.0);
        assert_eq!(word_error_rate("", "a lot of words"), 1.0);
        assert_eq!(
            wer_breakdown("hello there", ""),
            WerBreakdown {
                substitutions: 0,
                deletions: 2,
                insertions: 0,
                reference_words: 2
            }
        );
        assert_eq!(word_error_rate("hello there", ""), 1.0);
    }
}
