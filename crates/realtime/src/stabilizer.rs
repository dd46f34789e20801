//! Partial transcripts that settle: each new hypothesis of the growing utterance may rewrite
//! only its unstable tail.
//!
//! Re-decoding a growing utterance changes the last words as more audio arrives ("I scream" →
//! "ice cream"), but a caption that rewrites words the reader has already read is hard to
//! follow. A word becomes stable once two consecutive hypotheses agree on it and on everything
//! before it; stable words are never changed afterwards within the utterance (the final,
//! decoded on the whole utterance, may still differ, and replaces the partial).

/// A partial transcript: the settled words and the tail that may still change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialText {
    /// Stable words, then the unstable tail, separated by spaces.
    pub text: String,
    /// The stable words alone.
    pub stable_text: String,
}

/// Stabilises the partial hypotheses of one utterance.
#[derive(Debug, Default, Clone)]
pub struct Stabilizer {
    stable: Vec<String>,
    previous: Vec<String>,
}

impl Stabilizer {
    /// Takes the next hypothesis of the utterance and returns what to show.
    pub fn update(&mut self, hypothesis: &str) -> PartialText {
        let words: Vec<String> = hypothesis.split_whitespace().map(str::to_owned).collect();
        // The new words after the stable ones, aligned by position: the decoder re-reads the
        // whole utterance, so word i of this hypothesis is the same moment as word i of the
        // last one.
        let tail = words.get(self.stable.len()..).unwrap_or_default();
        let previous_tail = self.previous.get(self.stable.len()..).unwrap_or_default();
        let agreed = tail
            .iter()
            .zip(previous_tail)
            .take_while(|(new, old)| same_word(new, old))
            .count();
        // The last word of a hypothesis is often cut mid-word: never settle it.
        let settle = agreed.min(tail.len().saturating_sub(1));
        self.stable.extend(tail[..settle].iter().cloned());
        let unstable = &tail[settle..];
        self.previous = self.stable.iter().chain(unstable).cloned().collect();
        PartialText {
            text: self.previous.join(" "),
            stable_text: self.stable.join(" "),
        }
    }
}

/// Words compared as a reader would: case and trailing punctuation do not matter.
fn same_word(a: &str, b: &str) -> bool {
    let strip = |word: &str| {
        word.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_settle_when_two_hypotheses_agree() {
        let mut stabilizer = Stabilizer::default();
        let first = stabilizer.update("And so my");
        assert_eq!(first.stable_text, "");
        assert_eq!(first.text, "And so my");
        let second = stabilizer.update("And so, my fellow");
        // Settled words take the newer hypothesis's punctuation.
        assert_eq!(second.stable_text, "And so, my");
        assert_eq!(second.text, "And so, my fellow");
    }

    #[test]
    fn stable_words_never_change_only_the_tail_does() {
        let mut stabilizer = Stabilizer::default();
        stabilizer.update("I scream for");
        stabilizer.update("I scream for you");
        let third = stabilizer.update("Ice cream for you all");
        assert_eq!(third.stable_text, "I scream for you");
        assert_eq!(third.text, "I scream for you all");
        let fourth = stabilizer.update("Ice cream for you all day");
        assert_eq!(fourth.stable_text, "I scream for you all");
    }

    #[test]
    fn the_last_word_is_never_settled() {
        let mut stabilizer = Stabilizer::default();
        stabilizer.update("ask not");
        let again = stabilizer.update("ask not");
        assert_eq!(again.stable_text, "ask");
        assert_eq!(again.text, "ask not");
    }

    #[test]
    fn a_shorter_hypothesis_keeps_the_stable_words() {
        let mut stabilizer = Stabilizer::default();
        stabilizer.update("what your country");
        stabilizer.update("what your country can");
        let shorter = stabilizer.update("what");
        assert_eq!(shorter.stable_text, "what your country");
        assert_eq!(shorter.text, "what your country");
    }
}
