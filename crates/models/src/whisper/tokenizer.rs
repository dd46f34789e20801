//! Whisper's GPT-2 byte-level BPE tokenizer, read from `vocabulary.txt`.
//!
//! Each vocabulary line is one token whose characters stand for bytes through GPT-2's
//! byte-to-unicode table, so decoding is a table lookup per character and a UTF-8 conversion at
//! the end; no tokenizer crate is needed. Encoding (only used for the initial prompt) is
//! tiktoken-style BPE over the same vocabulary (see [`super::bpe`]).

use std::collections::HashMap;
use std::path::Path;

use crate::ModelError;
use crate::whisper::bpe::Bpe;
use crate::whisper::special::SpecialTokens;

/// Token ids ↔ text for one model.
pub(crate) struct Tokenizer {
    tokens: Vec<String>,
    byte_decoder: HashMap<char, u8>,
    bpe: Bpe,
    pub special: SpecialTokens,
}

impl Tokenizer {
    /// Reads `vocabulary.txt` from the model directory `dir`.
    ///
    /// # Errors
    /// [`ModelError::MissingFile`] without `vocabulary.txt`, [`ModelError::InvalidModel`] when
    /// it lacks a control token Whisper needs.
    pub fn load(dir: &Path) -> Result<Tokenizer, ModelError> {
        let path = dir.join("vocabulary.txt");
        if !path.is_file() {
            return Err(ModelError::MissingFile { path });
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
            path: path.clone(),
            source,
        })?;
        // Split on '\n' only: a token is never a raw newline (GPT-2 maps it to 'Ċ'), but a
        // '\r' would be a real character and `lines()` would drop it.
        let mut tokens: Vec<String> = text.split('\n').map(str::to_string).collect();
        if tokens.last().is_some_and(String::is_empty) {
            tokens.pop();
        }
        let special = SpecialTokens::find(&tokens).map_err(|reason| ModelError::InvalidModel {
            path: path.clone(),
            reason,
        })?;
        Ok(Tokenizer::new(tokens, special))
    }

    fn new(tokens: Vec<String>, special: SpecialTokens) -> Tokenizer {
        let byte_decoder = byte_to_unicode()
            .iter()
            .enumerate()
            .map(|(byte, &ch)| (ch, byte as u8))
            .collect();
        Tokenizer {
            bpe: Bpe::new(&tokens),
            tokens,
            byte_decoder,
            special,
        }
    }

    /// Number of tokens in the vocabulary (the decoder's output size).
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Text of the ordinary tokens in `ids`; control and timestamp tokens are skipped, and byte
    /// sequences that are not valid UTF-8 (a character cut at a window edge) become U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for &id in ids.iter().filter(|&&id| id < self.special.eot) {
            if let Some(token) = self.tokens.get(id as usize) {
                bytes.extend(token.chars().filter_map(|ch| self.byte_decoder.get(&ch)));
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Token ids for `text` (no control tokens added).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.bpe.encode(text)
    }
}

/// GPT-2's reversible map from the 256 byte values to printable unicode characters: printable
/// Latin-1 bytes map to themselves, the others to U+0100 onwards in byte order.
pub(crate) fn byte_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for byte in 0..=255u8 {
        let printable = matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let code = if printable { u32::from(byte) } else { next };
        if !printable {
            next += 1;
        }
        table[usize::from(byte)] = char::from_u32(code).unwrap_or('\0');
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_tokenizer() -> Tokenizer {
        // Ids 0..=9 form a consistent little BPE vocabulary ("Hello" is built l+l, ll+o, e+llo,
        // H+ello); "Ã©" is the byte-level spelling of "é".
        let names = [
            "H",
            "e",
            "l",
            "o",
            "Ġ",
            "!",
            "ll",
            "llo",
            "ello",
            "Hello",
            "Ã©",
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
        ];
        let tokens: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let special = SpecialTokens::find(&tokens).unwrap();
        Tokenizer::new(tokens, special)
    }

    #[test]
    fn byte_table_is_gpt2() {
        let table = byte_to_unicode();
        assert_eq!(table[usize::from(b' ')], 'Ġ');
        assert_eq!(table[usize::from(b'\n')], 'Ċ');
        assert_eq!(table[usize::from(b'A')], 'A');
        assert_eq!(table[0], 'Ā');
        let mut sorted = table.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 256);
    }

    #[test]
    fn decodes_bytes_and_skips_control_tokens() {
        let tokenizer = tiny_tokenizer();
        assert_eq!(
            tokenizer.decode(&[12, 9, 4, 0, 8, 5, 11, 20]),
            "Hello Hello!"
        );
        assert_eq!(tokenizer.decode(&[4, 10]), " é");
    }

    #[test]
    fn real_vocabularies_number_special_tokens_differently() {
        use crate::whisper::test_support::model_dir;
        let base = Tokenizer::load(&model_dir("whisper-base")).unwrap();
        let tiny = Tokenizer::load(&model_dir("whisper-tiny.en")).unwrap();
        assert_eq!((base.vocab_size(), tiny.vocab_size()), (51865, 51864));
        assert_eq!((base.special.eot, tiny.special.eot), (50257, 50256));
        assert_eq!(
            (base.special.timestamp_begin, tiny.special.timestamp_begin),
            (50364, 50363)
        );
        assert_eq!(base.special.transcribe, 50359);
        assert_eq!(base.special.no_speech, 50362);
        assert_eq!(base.special.languages.len(), 99);
        assert_eq!(base.special.language_token("en"), Some(50259));
        // Ordinary ids differ too: " the" is 264 in the multilingual vocabulary, 262 in GPT-2's.
        assert_eq!(base.decode(&[264]), " the");
        assert_eq!(tiny.decode(&[262]), " the");
        assert_eq!(base.encode(" the"), vec![264]);
        assert_eq!(tiny.encode(" the"), vec![262]);
    }

    #[test]
    fn real_bpe_round_trips_text() {
        let tokenizer =
            Tokenizer::load(&crate::whisper::test_support::model_dir("whisper-base")).unwrap();
        for text in [
            " And so, my fellow Americans",
            " Dashwood's leisure: 42 €, naïve café!",
            "\nline two",
        ] {
            let ids = tokenizer.encode(text);
            assert_eq!(tokenizer.decode(&ids), text);
            assert!(ids.len() < text.len(), "{text:?} -> {ids:?}");
        }
        // Rank-ordered merges give the trained split: common words are single tokens.
        assert_eq!(tokenizer.encode(" country"), vec![1941]);
        assert_eq!(tokenizer.encode(" Americans"), vec![6280]);
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let tokenizer = tiny_tokenizer();
        let ids = tokenizer.encode("Hello!");
        assert_eq!(ids, vec![9, 5]);
        assert_eq!(tokenizer.decode(&ids), "Hello!");
    }
}
