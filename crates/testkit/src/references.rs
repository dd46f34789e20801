//! The known text of the test recordings, for word error rates: `NAME.txt` beside `NAME.wav`
//! (jfk), or `NAME`'s line in a Sphinx `transcription` listing in the same directory (the
//! LibriVox clips). Only `std`, so the Whisper benchmark binary includes this file by path.

use std::path::Path;

/// The reference text of a recording, when one is known.
pub fn reference_text(recording: &Path) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(recording.with_extension("txt")) {
        return Some(text.trim().to_string());
    }
    let name = recording.file_stem()?.to_str()?;
    let listing = std::fs::read_to_string(recording.with_file_name("transcription")).ok()?;
    transcription_listing(&listing)
        .into_iter()
        .find_map(|(id, text)| (id == name).then_some(text))
}

/// `(recording name, text)` of each line of a listing: `<s> the words </s> (name)`.
fn transcription_listing(listing: &str) -> Vec<(String, String)> {
    listing
        .lines()
        .filter_map(|line| {
            let (text, id) = line.rsplit_once(" (")?;
            let text = text
                .trim()
                .trim_start_matches("<s>")
                .trim_end_matches("</s>")
                .trim();
            Some((id.trim_end_matches(')').to_string(), text.to_string()))
        })
        .collect()
}
