//! JSON: the whole canonical transcript, metadata and warnings included.

use super::ExportError;
use crate::transcript::Transcript;

/// Pretty-printed canonical transcript, the same document the job stores, so a JSON export can
/// be read back with [`serde_json::from_str`] into a [`Transcript`].
///
/// # Errors
/// [`ExportError::Json`] if serialisation fails, which the transcript's types do not do in
/// practice.
pub fn render_json(transcript: &Transcript) -> Result<String, ExportError> {
    serde_json::to_string_pretty(transcript).map_err(ExportError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::fixtures::two_speakers;

    #[test]
    fn fixture_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let transcript = two_speakers();
        let json = render_json(&transcript)?;
        let parsed: Transcript = serde_json::from_str(&json)?;
        assert_eq!(parsed, transcript);
        Ok(())
    }

    /// Checks shape rather than the whole string, so adding a field to the transcript model does
    /// not break the export tests; the round trip above covers the content.
    #[test]
    fn fixture_is_pretty_printed_with_metadata() -> Result<(), Box<dyn std::error::Error>> {
        let mut transcript = two_speakers();
        transcript
            .metadata
            .warnings
            .push("diarization failed".into());
        let json = render_json(&transcript)?;
        assert!(json.starts_with("{\n  \"version\": \"1.0\",\n  \"text\": \"Hello there, how are you doing today? Fine, thanks. And you?\","), "{json}");
        assert!(
            json.contains(
                "\n      \"id\": \"seg_000\",\n      \"start\": 0.0,\n      \"end\": 2.5,\n"
            ),
            "{json}"
        );
        let value: serde_json::Value = serde_json::from_str(&json)?;
        assert_eq!(
            value["metadata"]["warnings"],
            serde_json::json!(["diarization failed"])
        );
        assert_eq!(value["segments"][2]["end"], serde_json::json!(3661.25));
        Ok(())
    }
}
