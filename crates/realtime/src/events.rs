//! What a session tells its client, before any protocol shapes it.

use crate::stabilizer::PartialText;

/// One timed word of a final transcript, on the session's timeline (seconds from its start).
#[derive(Debug, Clone, PartialEq)]
pub struct TimedWord {
    pub word: String,
    pub start_secs: f64,
    pub end_secs: f64,
    /// Mean probability of the word's tokens.
    pub probability: f32,
}

/// The final transcript of one utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    pub text: String,
    pub start_secs: f64,
    pub end_secs: f64,
    /// Empty unless word timestamps were asked for.
    pub words: Vec<TimedWord>,
    /// ISO-639-1 code transcribed (given or detected).
    pub language: String,
    /// exp(average token log-probability), 0–1.
    pub confidence: f32,
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The client asked to end.
    Completed,
    /// The client went away without ending.
    Disconnected,
    /// Processing fell behind the audio for too long.
    LagExceeded,
    /// Decoding failed.
    Failed(String),
}

impl EndReason {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Completed => "completed",
            Self::Disconnected => "disconnected",
            Self::LagExceeded => "lag_exceeded",
            Self::Failed(_) => "error",
        }
    }
}

/// Totals of a finished session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub audio_secs: f64,
    pub speech_secs: f64,
    /// Every final utterance, in order.
    pub utterances: Vec<Utterance>,
    pub reason: EndReason,
}

impl SessionSummary {
    /// The whole transcript: the finals joined.
    pub fn transcript(&self) -> String {
        self.utterances
            .iter()
            .map(|utterance| utterance.text.as_str())
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn word_count(&self) -> usize {
        self.utterances
            .iter()
            .map(|utterance| utterance.text.split_whitespace().count())
            .sum()
    }
}

/// A message from the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An utterance began (time of its first audio, padding included).
    SpeechStarted { at_secs: f64 },
    /// The utterance ended (its last audio, padding included).
    SpeechEnded { at_secs: f64 },
    /// The growing utterance decoded so far.
    Partial {
        text: PartialText,
        start_secs: f64,
        end_secs: f64,
    },
    /// An utterance's final transcript.
    Final(Utterance),
    /// Processing is behind the audio by this much.
    LagWarning { lag_secs: f64 },
    /// The last event of every session.
    Ended(SessionSummary),
}
