//! Whisper's special token ids, looked up by name in the vocabulary.
//!
//! English-only and multilingual vocabularies number them differently (`<|endoftext|>` is 50256
//! in `tiny.en` and 50257 in `base`), so nothing here is a constant.

/// Ids of the control tokens the decoding policy needs.
#[derive(Debug, Clone)]
pub(crate) struct SpecialTokens {
    /// `<|endoftext|>`: ends a window's text; every id from here on is a control token.
    pub eot: u32,
    /// `<|startoftranscript|>`.
    pub sot: u32,
    /// `<|translate|>`.
    pub translate: u32,
    /// `<|transcribe|>`.
    pub transcribe: u32,
    /// `<|startofprev|>`: introduces the prompt (previous text) before the SOT sequence.
    pub sot_prev: u32,
    /// `<|nocaptions|>` (older vocabularies) or `<|nospeech|>`: its probability at the SOT
    /// position is the no-speech probability.
    pub no_speech: u32,
    /// `<|notimestamps|>`.
    pub no_timestamps: u32,
    /// `<|0.00|>`: the first of the timestamp tokens, one per 20 ms.
    pub timestamp_begin: u32,
    /// Language tokens in vocabulary order, with their ISO-639-1 (or Whisper) codes.
    pub languages: Vec<(String, u32)>,
}

impl SpecialTokens {
    /// Finds the control tokens in `tokens` (id → token text); `Err` names the first missing one.
    pub fn find(tokens: &[String]) -> Result<SpecialTokens, String> {
        let id = |name: &str| -> Result<u32, String> {
            tokens
                .iter()
                .position(|token| token == name)
                .map(|index| index as u32)
                .ok_or_else(|| format!("vocabulary has no {name} token"))
        };
        let sot = id("<|startoftranscript|>")?;
        let translate = id("<|translate|>")?;
        let no_speech = id("<|nospeech|>").or_else(|_| id("<|nocaptions|>"))?;
        let languages = tokens
            .iter()
            .enumerate()
            .take(translate as usize)
            .skip(sot as usize + 1)
            .filter_map(|(index, token)| {
                let code = token.strip_prefix("<|")?.strip_suffix("|>")?;
                Some((code.to_string(), index as u32))
            })
            .collect();
        Ok(SpecialTokens {
            eot: id("<|endoftext|>")?,
            sot,
            translate,
            transcribe: id("<|transcribe|>")?,
            sot_prev: id("<|startofprev|>")?,
            no_speech,
            no_timestamps: id("<|notimestamps|>")?,
            timestamp_begin: id("<|0.00|>")?,
            languages,
        })
    }

    /// The language token for an ISO-639-1 code such as `"en"`.
    pub fn language_token(&self, code: &str) -> Option<u32> {
        self.languages
            .iter()
            .find(|(known, _)| known == code)
            .map(|&(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_by_name() {
        let names = [
            "a",
            "<|endoftext|>",
            "<|startoftranscript|>",
            "<|en|>",
            "<|de|>",
            "<|translate|>",
            "<|transcribe|>",
            "<|startoflm|>",
            "<|startofprev|>",
            "<|nocaptions|>",
            "<|notimestamps|>",
            "<|0.00|>",
            "<|0.02|>",
        ];
        let tokens: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let special = SpecialTokens::find(&tokens).unwrap();
        assert_eq!(special.eot, 1);
        assert_eq!(special.sot, 2);
        assert_eq!(special.language_token("de"), Some(4));
        assert_eq!(special.languages[0], ("en".to_string(), 3));
        assert_eq!(special.no_speech, 9);
        assert_eq!(special.timestamp_begin, 11);
    }
}
