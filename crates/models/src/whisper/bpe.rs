//! Text → token ids with Whisper's byte-level BPE, for encoding an initial prompt.
//!
//! Text is first split like GPT-2's pre-tokenizer regex
//! (`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, written out by
//! hand with Rust's Unicode character classes so no regex crate is needed). Each piece's bytes
//! are then merged the way OpenAI's tiktoken does it: repeatedly join the adjacent pair whose
//! concatenation has the lowest id in the vocabulary. Whisper's vocabularies were built in
//! merge order, so the id is the merge rank and `vocabulary.txt` alone is enough. (The merge
//! list in the converted `tokenizer.json` is not: it lacks some merges, e.g. `Ġ t`, and would
//! split " the" in two.)

use std::collections::HashMap;

use crate::whisper::tokenizer::byte_to_unicode;

/// Token ids by their byte-level text, and the byte-to-character table.
pub(crate) struct Bpe {
    ids: HashMap<String, u32>,
    byte_encoder: [char; 256],
}

impl Bpe {
    /// An encoder over `tokens` (id → byte-level token text).
    pub fn new(tokens: &[String]) -> Bpe {
        let mut ids = HashMap::with_capacity(tokens.len());
        for (id, token) in tokens.iter().enumerate() {
            ids.entry(token.clone()).or_insert(id as u32);
        }
        Bpe {
            ids,
            byte_encoder: byte_to_unicode(),
        }
    }

    /// Token ids for `text`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        for piece in pretokenize(text) {
            let symbols: Vec<String> = piece
                .bytes()
                .map(|byte| self.byte_encoder[usize::from(byte)].to_string())
                .collect();
            out.extend(
                self.merge(symbols)
                    .iter()
                    .filter_map(|symbol| self.ids.get(symbol)),
            );
        }
        out
    }

    /// Joins the lowest-ranked adjacent pair (leftmost on ties) until no pair is a token.
    fn merge(&self, mut symbols: Vec<String>) -> Vec<String> {
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(index, pair)| {
                    self.ids
                        .get(&format!("{}{}", pair[0], pair[1]))
                        .map(|&rank| (rank, index))
                })
                .min();
            let Some((_, index)) = best else {
                return symbols;
            };
            let right = symbols.remove(index + 1);
            symbols[index].push_str(&right);
        }
    }
}

/// Splits text the way GPT-2's pre-tokenizer regex does.
fn pretokenize(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte_at = |index: usize| chars.get(index).map_or(text.len(), |&(byte, _)| byte);
    let mut pieces = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        let end = match_at(&chars, index);
        pieces.push(&text[byte_at(index)..byte_at(end)]);
        index = end;
    }
    pieces
}

const CONTRACTIONS: [&str; 7] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

/// End (exclusive char index) of the regex alternative that matches at `start`.
fn match_at(chars: &[(usize, char)], start: usize) -> usize {
    let at = |index: usize| chars.get(index).map(|&(_, ch)| ch);
    for contraction in CONTRACTIONS {
        let len = contraction.chars().count();
        if contraction
            .chars()
            .enumerate()
            .all(|(offset, ch)| at(start + offset) == Some(ch))
        {
            return start + len;
        }
    }
    let body = if at(start) == Some(' ') {
        start + 1
    } else {
        start
    };
    let classes: [fn(char) -> bool; 3] = [char::is_alphabetic, char::is_numeric, is_other];
    for class in classes {
        if at(body).is_some_and(class) {
            let mut end = body + 1;
            while at(end).is_some_and(class) {
                end += 1;
            }
            return end;
        }
    }
    // Whitespace: a run, leaving its last character to the next word when one follows.
    let mut end = start;
    while at(end).is_some_and(char::is_whitespace) {
        end += 1;
    }
    if end == start {
        return start + 1;
    }
    if at(end).is_some() && end - start > 1 {
        end - 1
    } else {
        end
    }
}

fn is_other(ch: char) -> bool {
    !ch.is_whitespace() && !ch.is_alphabetic() && !ch.is_numeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretokenizes_like_gpt2() {
        assert_eq!(pretokenize("Hello world"), vec!["Hello", " world"]);
        assert_eq!(pretokenize("it's 42!!"), vec!["it", "'s", " 42", "!!"]);
        assert_eq!(pretokenize("a  b"), vec!["a", " ", " b"]);
        assert_eq!(pretokenize("end  "), vec!["end", "  "]);
        assert_eq!(pretokenize("x\ny"), vec!["x", "\n", "y"]);
    }

    #[test]
    fn merges_lowest_id_pair_first() {
        let tokens: Vec<String> = ["h", "e", "l", "o", "lo", "he", "helo", "el"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let bpe = Bpe::new(&tokens);
        // "lo" (4) joins before "he" (5); "el" (7) would need "e","l" but "lo" took the "l".
        assert_eq!(bpe.encode("helo"), vec![6]);
        assert_eq!(bpe.encode("hel"), vec![5, 2]);
    }
}
