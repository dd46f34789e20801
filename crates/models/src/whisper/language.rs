//! Spoken-language detection: one decoder step from `<|startoftranscript|>` over an encoded
//! window, softmax restricted to the language tokens (OpenAI's `detect_language`).

use crate::ModelError;
use crate::whisper::decoder::{CrossCache, SelfCache};
use crate::whisper::model::WhisperNet;
use crate::whisper::sampling::softmax;
use crate::whisper::special::SpecialTokens;

/// A detected language and its probability among the model's languages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DetectedLanguage {
    pub code: String,
    pub probability: f32,
}

/// Detects the language spoken in the window encoded in `cross`.
///
/// # Errors
/// [`ModelError::Inference`] when the decoder step fails.
pub(crate) fn detect_language(
    net: &WhisperNet,
    special: &SpecialTokens,
    cross: &CrossCache,
) -> Result<DetectedLanguage, ModelError> {
    let mut cache = SelfCache::default();
    let hidden = net.decoder.forward(&[special.sot], &mut cache, cross)?;
    let logits = net
        .decoder
        .logits(&hidden)?
        .into_iter()
        .next()
        .unwrap_or_default();
    let language_logits: Vec<f32> = special
        .languages
        .iter()
        .map(|&(_, id)| {
            logits
                .get(id as usize)
                .copied()
                .unwrap_or(f32::NEG_INFINITY)
        })
        .collect();
    Ok(pick_language(special, &language_logits))
}

/// The most likely language given logits aligned with `special.languages`.
fn pick_language(special: &SpecialTokens, language_logits: &[f32]) -> DetectedLanguage {
    let probabilities = softmax(language_logits);
    let (index, probability) = probabilities
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0));
    DetectedLanguage {
        code: special
            .languages
            .get(index)
            .map_or_else(|| "en".to_string(), |(code, _)| code.clone()),
        probability: probability as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_most_likely_language_token() {
        let names: Vec<String> = [
            "<|endoftext|>",
            "<|startoftranscript|>",
            "<|en|>",
            "<|de|>",
            "<|fr|>",
            "<|translate|>",
            "<|transcribe|>",
            "<|startofprev|>",
            "<|nocaptions|>",
            "<|notimestamps|>",
            "<|0.00|>",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let special = SpecialTokens::find(&names).unwrap();
        let detected = pick_language(&special, &[0.0, 3.0, 0.0]);
        assert_eq!(detected.code, "de");
        assert!(detected.probability > 0.9);
    }
}
