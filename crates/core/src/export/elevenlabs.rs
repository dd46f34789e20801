//! ElevenLabs' word list (`words[]` of its speech-to-text response) and its `segmented_json`
//! export, which carries the same words per segment. Both are built here, from the canonical
//! transcript, so the response and the export cannot drift apart, and the export is a pure
//! function with a snapshot like the others.

use serde::Serialize;

use super::ExportError;
use crate::transcript::{Transcript, Word};

/// What each entry of an ElevenLabs word list carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WordListOptions {
    /// `start` and `end` on every entry (without them the keys are left out).
    pub timestamps: bool,
    /// `characters`, each with a share of its word's span (`timestamps_granularity=character`).
    pub characters: bool,
    /// `speaker_id` (`speaker_N`) where the transcript knows the speaker; else null.
    pub speakers: bool,
    /// The channel the words were spoken on (`use_multi_channel`), on every entry.
    pub channel: Option<u16>,
}

/// `type` of an ElevenLabs word entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WordKind {
    Word,
    /// The space between two words, with the gap's times: joining every entry's `text`
    /// rebuilds the transcript.
    Spacing,
}

/// One entry of `words[]` (`SpeechToTextWordResponseModel`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordEntry {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    #[serde(rename = "type")]
    pub kind: WordKind,
    pub speaker_id: Option<String>,
    /// Log of the word's probability (0 when unknown, and for spacing).
    pub logprob: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub characters: Option<Vec<Character>>,
    pub channel_index: Option<u16>,
}

/// One character of a word, with its share of the word's span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Character {
    pub text: String,
    pub start: f64,
    pub end: f64,
}

/// ElevenLabs' speaker id for a canonical one: `speaker_0` for `SPEAKER_00`.
pub fn speaker_id(speaker: Option<&str>) -> Option<String> {
    speaker
        .and_then(|id| id.strip_prefix("SPEAKER_"))
        .and_then(|n| n.parse::<u32>().ok())
        .map(|n| format!("speaker_{n}"))
}

/// `words` as ElevenLabs lists them: each word, with a `spacing` entry between consecutive ones.
pub fn word_list(words: &[Word], options: &WordListOptions) -> Vec<WordEntry> {
    let timed = |secs: f64| options.timestamps.then_some(secs);
    let speaker = |word: &Word| {
        if options.speakers {
            speaker_id(word.speaker.as_deref())
        } else {
            None
        }
    };
    let mut entries = Vec::with_capacity(words.len() * 2);
    for (index, word) in words.iter().enumerate() {
        if let Some(previous) = index.checked_sub(1).map(|i| &words[i]) {
            entries.push(WordEntry {
                text: " ".into(),
                start: timed(previous.end_secs),
                end: timed(word.start_secs),
                kind: WordKind::Spacing,
                speaker_id: speaker(word),
                logprob: 0.0,
                characters: None,
                channel_index: options.channel,
            });
        }
        let text = word.text.trim();
        entries.push(WordEntry {
            text: text.to_owned(),
            start: timed(word.start_secs),
            end: timed(word.end_secs),
            kind: WordKind::Word,
            speaker_id: speaker(word),
            logprob: word.logprob().unwrap_or(0.0),
            characters: options.characters.then(|| characters(word, text)),
            channel_index: options.channel,
        });
    }
    entries
}

/// A word's characters sharing its span evenly: Whisper gives no finer timing.
fn characters(word: &Word, text: &str) -> Vec<Character> {
    let count = text.chars().count().max(1) as f64;
    let step = (word.end_secs - word.start_secs) / count;
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            let start = word.start_secs + step * i as f64;
            Character {
                text: c.to_string(),
                start,
                end: start + step,
            }
        })
        .collect()
}

/// The layout options of a `segmented_json` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentedJsonOptions {
    /// Speaker ids on segments and words (null when left out).
    pub include_speakers: bool,
    /// `start`/`end` on segments and words (the keys left out without them).
    pub include_timestamps: bool,
}

#[derive(Serialize)]
struct SegmentedJson {
    language_code: String,
    segments: Vec<SegmentEntry>,
}

#[derive(Serialize)]
struct SegmentEntry {
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<f64>,
    speaker_id: Option<String>,
    words: Vec<WordEntry>,
}

/// ElevenLabs' `segmented_json`: the language (ISO-639-3) and the segments, each with its text
/// and its words in the response's `words[]` shape, spacing included. Pretty-printed, as
/// [`super::render_json`].
///
/// # Errors
/// [`ExportError::Json`] if serialisation fails, which these types do not do in practice.
pub fn render_segmented_json(
    transcript: &Transcript,
    options: &SegmentedJsonOptions,
) -> Result<String, ExportError> {
    let words = WordListOptions {
        timestamps: options.include_timestamps,
        characters: false,
        speakers: options.include_speakers,
        channel: None,
    };
    let timed = |secs: f64| options.include_timestamps.then_some(secs);
    let document = SegmentedJson {
        language_code: crate::language::iso_639_3(&transcript.language_code)
            .unwrap_or("und")
            .to_owned(),
        segments: transcript
            .segments
            .iter()
            .map(|segment| SegmentEntry {
                text: segment.text.trim().to_owned(),
                start: timed(segment.start_secs),
                end: timed(segment.end_secs),
                speaker_id: if options.include_speakers {
                    speaker_id(segment.speaker.as_deref())
                } else {
                    None
                },
                words: word_list(&segment.words, &words),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&document).map_err(ExportError::Json)
}
