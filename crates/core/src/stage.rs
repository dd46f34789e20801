//! Pipeline stages: the kinds of work an engine can do.

use std::fmt;
use std::str::FromStr;

/// One step of the batch pipeline. Engines pull tasks of a single stage.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Decode any input format, downmix and resample to 16 kHz mono, record audio metadata.
    Prepare,
    /// Speech to text with segment timings.
    Transcribe,
    /// Word timings (only when the transcriber does not give them itself).
    Align,
    /// Speaker turns.
    Diarize,
    /// Assemble the canonical transcript from the upstream outputs.
    Merge,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Prepare,
        Stage::Transcribe,
        Stage::Align,
        Stage::Diarize,
        Stage::Merge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Prepare => "prepare",
            Stage::Transcribe => "transcribe",
            Stage::Align => "align",
            Stage::Diarize => "diarize",
            Stage::Merge => "merge",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage name that Dalston does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stage {0:?} (expected one of prepare, transcribe, align, diarize, merge)")]
pub struct UnknownStage(pub String);

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| UnknownStage(s.to_owned()))
    }
}
