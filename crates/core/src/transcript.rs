//! The canonical transcript. Every API shape and every export is a pure function of it.

use serde::{Deserialize, Serialize};

/// Version of the stored transcript document.
pub const TRANSCRIPT_VERSION: &str = "1.0";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub version: String,
    pub text: String,
    /// ISO-639-1 code, or `und` when unknown.
    pub language_code: String,
    pub language_probability: Option<f32>,
    #[serde(rename = "duration")]
    pub duration_secs: f64,
    pub segments: Vec<Segment>,
    /// All words in time order (empty when word timings were not produced).
    pub words: Vec<Word>,
    pub speakers: Vec<Speaker>,
    pub metadata: TranscriptMetadata,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// `seg_000`, `seg_001`, …
    pub id: String,
    #[serde(rename = "start")]
    pub start_secs: f64,
    #[serde(rename = "end")]
    pub end_secs: f64,
    pub text: String,
    pub speaker: Option<String>,
    pub words: Vec<Word>,
    pub avg_logprob: Option<f32>,
    pub compression_ratio: Option<f32>,
    pub no_speech_prob: Option<f32>,
    pub temperature: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    #[serde(rename = "start")]
    pub start_secs: f64,
    #[serde(rename = "end")]
    pub end_secs: f64,
    pub confidence: Option<f32>,
    pub speaker: Option<String>,
}

impl Word {
    /// The natural log of the word's probability, as ElevenLabs and OpenAI report it (≤ 0;
    /// a probability of 0 counts as 1e-6, so the log stays finite).
    pub fn logprob(&self) -> Option<f64> {
        self.confidence.map(|p| f64::from(p.max(1e-6)).ln())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speaker {
    /// `SPEAKER_00`, …
    pub id: String,
    pub channel: Option<u16>,
    pub talk_time_secs: f64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TranscriptMetadata {
    pub audio_channels: Option<u16>,
    pub sample_rate_hz: Option<u32>,
    pub audio_format: Option<String>,
    /// `requested` or `detected`.
    pub language_source: Option<String>,
    pub model: Option<String>,
    pub word_timestamps: bool,
    pub word_timestamps_requested: bool,
    pub pipeline_stages: Vec<String>,
    /// Things the user should know about the result (an optional stage that failed, a
    /// requested feature that could not be produced).
    pub warnings: Vec<String>,
    /// Processing time per stage in milliseconds.
    pub stage_timings_ms: std::collections::BTreeMap<String, u64>,
}

impl Transcript {
    /// Joins segment texts the way a reader expects: single spaces, trimmed.
    pub fn join_segment_text(segments: &[Segment]) -> String {
        segments
            .iter()
            .map(|segment| segment.text.trim())
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The conventional id of the segment at `index`.
    pub fn segment_id(index: usize) -> String {
        format!("seg_{index:03}")
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    fn segment(index: usize, start: f64, end: f64, text: &str, speaker: Option<&str>) -> Segment {
        Segment {
            id: Transcript::segment_id(index),
            start_secs: start,
            end_secs: end,
            text: text.into(),
            speaker: speaker.map(Into::into),
            words: Vec::new(),
            avg_logprob: None,
            compression_ratio: None,
            no_speech_prob: None,
            temperature: None,
        }
    }

    /// A two-speaker transcript used by the export tests.
    pub(crate) fn two_speakers() -> Transcript {
        let segments = vec![
            segment(
                0,
                0.0,
                2.5,
                " Hello there, how are you doing today?",
                Some("SPEAKER_00"),
            ),
            segment(1, 2.5, 4.0, " Fine, thanks.", Some("SPEAKER_01")),
            segment(2, 4.0, 3661.25, " And you?", Some("SPEAKER_01")),
        ];
        Transcript {
            version: TRANSCRIPT_VERSION.into(),
            text: Transcript::join_segment_text(&segments),
            language_code: "en".into(),
            language_probability: Some(0.98),
            duration_secs: 3661.25,
            segments,
            words: Vec::new(),
            speakers: Vec::new(),
            metadata: TranscriptMetadata::default(),
        }
    }
}
