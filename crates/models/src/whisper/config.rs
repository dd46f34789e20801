//! The `config.json` CTranslate2 writes beside a converted Whisper model.
//!
//! It lists the token ids the decoder must never emit (`suppress_ids`), those it must not emit
//! as the first sampled token (`suppress_ids_begin`), the language token ids and the
//! cross-attention heads that align text with audio. They differ between English-only and
//! multilingual vocabularies, which is why they are read rather than assumed.

use std::path::Path;

use serde::Deserialize;

use crate::ModelError;

/// The parts of `config.json` decoding uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Ct2Config {
    /// (layer, head) pairs of the decoder's cross-attention used for word timing.
    #[serde(default)]
    pub alignment_heads: Vec<(usize, usize)>,
    /// Tokens never sampled (non-speech symbols and the special task tokens).
    #[serde(default)]
    pub suppress_ids: Vec<u32>,
    /// Tokens not sampled as the first token of a window (a blank and end-of-text).
    #[serde(default)]
    pub suppress_ids_begin: Vec<u32>,
}

impl Ct2Config {
    /// Reads `config.json` from the model directory.
    ///
    /// # Errors
    /// [`ModelError::MissingFile`], [`ModelError::Io`] or [`ModelError::InvalidModel`] when the
    /// file is absent, unreadable or not the expected JSON.
    pub fn read(path: &Path) -> Result<Ct2Config, ModelError> {
        if !path.is_file() {
            return Err(ModelError::MissingFile {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|err| ModelError::InvalidModel {
            path: path.to_path_buf(),
            reason: err.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ctranslate2_layout() {
        let json = r#"{"alignment_heads": [[3, 1], [4, 2]], "lang_ids": [50259],
            "suppress_ids": [1, 2], "suppress_ids_begin": [220, 50257]}"#;
        let config: Ct2Config = serde_json::from_str(json).unwrap();
        assert_eq!(config.alignment_heads, vec![(3, 1), (4, 2)]);
        assert_eq!(config.suppress_ids_begin, vec![220, 50257]);
    }
}
