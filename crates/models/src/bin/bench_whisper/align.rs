//! How far apart two engines put the same words: their words are matched by normalised text
//! (the WER normaliser, so `" country."` and `"country"` are one word) along a longest common
//! subsequence, and the start and end times of each matched pair are compared.

use dalston_core::wer::normalize_text;

use crate::report::Word;

/// Timing agreement between two transcripts of one recording.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimingDiff {
    /// Words the alignment paired.
    pub matched: usize,
    /// Normalised words in each transcript.
    pub words: (usize, usize),
    /// Sums of |start_a − start_b| and |end_a − end_b| over the matched words, in seconds.
    pub start_error_sum: f64,
    pub end_error_sum: f64,
}

impl TimingDiff {
    /// Mean absolute start and end differences; `None` when nothing matched.
    pub fn means(&self) -> Option<(f64, f64)> {
        (self.matched > 0).then(|| {
            let n = self.matched as f64;
            (self.start_error_sum / n, self.end_error_sum / n)
        })
    }

    /// The pooled figures of several recordings.
    pub fn add(&mut self, other: &TimingDiff) {
        self.matched += other.matched;
        self.words.0 += other.words.0;
        self.words.1 += other.words.1;
        self.start_error_sum += other.start_error_sum;
        self.end_error_sum += other.end_error_sum;
    }
}

/// A normalised word with the times of the engine word it came from (a word like `"25"`
/// normalises to two, `twenty five`, both with its times).
struct Timed {
    text: String,
    start: f64,
    end: f64,
}

fn normalised(words: &[Word]) -> Vec<Timed> {
    words
        .iter()
        .flat_map(|word| {
            normalize_text(&word.word).into_iter().map(|text| Timed {
                text,
                start: word.start,
                end: word.end,
            })
        })
        .collect()
}

/// Matches the words of `a` and `b` and sums their timing differences.
pub fn compare_timings(a: &[Word], b: &[Word]) -> TimingDiff {
    let (a, b) = (normalised(a), normalised(b));
    let mut diff = TimingDiff {
        words: (a.len(), b.len()),
        ..TimingDiff::default()
    };
    for (i, j) in common_subsequence(&a, &b) {
        diff.matched += 1;
        diff.start_error_sum += (a[i].start - b[j].start).abs();
        diff.end_error_sum += (a[i].end - b[j].end).abs();
    }
    diff
}

/// Index pairs of a longest common subsequence of the two word texts. O(|a|·|b|) time, one
/// byte per cell for the way back (about 12 MB for two 30-minute transcripts).
fn common_subsequence(a: &[Timed], b: &[Timed]) -> Vec<(usize, usize)> {
    const DIAGONAL: u8 = 0;
    const UP: u8 = 1;
    const LEFT: u8 = 2;
    let width = b.len() + 1;
    let mut moves = vec![LEFT; (a.len() + 1) * width];
    let mut previous = vec![0u32; width];
    let mut current = vec![0u32; width];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let (length, step) = if a[i - 1].text == b[j - 1].text {
                (previous[j - 1] + 1, DIAGONAL)
            } else if previous[j] >= current[j - 1] {
                (previous[j], UP)
            } else {
                (current[j - 1], LEFT)
            };
            current[j] = length;
            moves[i * width + j] = step;
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let mut pairs = Vec::new();
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        match moves[i * width + j] {
            DIAGONAL => {
                pairs.push((i - 1, j - 1));
                i -= 1;
                j -= 1;
            }
            UP => i -= 1,
            _ => j -= 1,
        }
    }
    pairs.reverse();
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(spec: &[(&str, f64)]) -> Vec<Word> {
        spec.iter()
            .map(|&(word, start)| Word {
                word: word.to_string(),
                start,
                end: start + 0.5,
            })
            .collect()
    }

    #[test]
    fn matches_words_by_normalised_text_and_skips_the_rest() {
        let a = words(&[(" And", 0.0), (" so,", 1.0), (" my", 2.0), (" fellow", 3.0)]);
        let b = words(&[
            ("and", 0.2),
            (" so", 1.0),
            (" fellow.", 2.9),
            (" Americans", 4.0),
        ]);
        let diff = compare_timings(&a, &b);
        assert_eq!(diff.matched, 3);
        assert_eq!(diff.words, (4, 4));
        let (start, end) = diff.means().unwrap();
        assert!((start - 0.1).abs() < 1e-9, "{start}");
        assert!((end - 0.1).abs() < 1e-9, "{end}");
    }

    #[test]
    fn nothing_in_common_has_no_means() {
        let diff = compare_timings(&words(&[("yes", 0.0)]), &words(&[("no", 0.0)]));
        assert_eq!(diff.matched, 0);
        assert!(diff.means().is_none());
        assert!(compare_timings(&[], &[]).means().is_none());
    }
}
