//! Pipeline stages: the kinds of work an engine can do.

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

crate::names::wire_names!(Stage, UnknownStage, "stage", {
    Prepare => "prepare",
    Transcribe => "transcribe",
    Align => "align",
    Diarize => "diarize",
    Merge => "merge",
});
