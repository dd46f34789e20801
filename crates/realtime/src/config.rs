//! What a live session is asked to do, whatever protocol asked.

use std::time::Duration;

use crate::endpointer::EndpointOptions;

/// How far a session may fall behind the audio it receives.
///
/// Lag is audio received minus audio processed. Above `warn_secs` the client is told (at most
/// once a second); above `close_secs` for longer than `grace` the session is closed, so one
/// session that cannot keep up never holds the engine for the others.
#[derive(Debug, Clone, PartialEq)]
pub struct LagLimits {
    pub warn_secs: f64,
    pub close_secs: f64,
    pub grace: Duration,
}

impl Default for LagLimits {
    fn default() -> Self {
        Self {
            warn_secs: 3.0,
            close_secs: 5.0,
            grace: Duration::from_secs(2),
        }
    }
}

/// One session's settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// ISO-639-1 language; `None` detects it on each utterance (multilingual models).
    pub language: Option<String>,
    /// Utterances end on silence (`Some`), or only when the client commits (`None`).
    pub endpointing: Option<EndpointOptions>,
    /// Send partial transcripts while an utterance grows.
    pub interim_results: bool,
    /// Time every word of a final transcript.
    pub word_timestamps: bool,
    /// New audio an utterance must gain before it is decoded again for a partial.
    pub partial_every: Duration,
    /// An utterance is cut (and finalised) when it grows this long.
    pub max_utterance: Duration,
    /// Beam size for finals; partials are always greedy.
    pub beam_size: usize,
    /// Decode finals on a full 30 s window, as batch does (default), or on the utterance's
    /// own length: several times faster on short utterances, but prone to repetition loops.
    pub full_window_finals: bool,
    /// Words to bias decoding towards (names, jargon), given to Whisper as a prompt.
    pub prompt: Option<String>,
    pub lag: LagLimits,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            language: None,
            endpointing: Some(EndpointOptions::default()),
            interim_results: true,
            word_timestamps: true,
            partial_every: Duration::from_millis(500),
            max_utterance: Duration::from_secs(30),
            beam_size: 1,
            full_window_finals: true,
            prompt: None,
            lag: LagLimits::default(),
        }
    }
}

/// Settings a client changes mid-session; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionUpdate {
    /// `Some(None)` detects the language from now on; `Some(Some(code))` fixes it.
    pub language: Option<Option<String>>,
    pub vad_threshold: Option<f32>,
    pub min_silence_ms: Option<u32>,
    pub speech_pad_ms: Option<u32>,
}

impl SessionConfig {
    /// Applies an update; VAD settings only matter when endpointing is on.
    pub fn update(&mut self, update: SessionUpdate) {
        if let Some(language) = update.language {
            self.language = language;
        }
        if let Some(endpointing) = self.endpointing.as_mut() {
            if let Some(threshold) = update.vad_threshold {
                endpointing.threshold = threshold;
            }
            if let Some(silence) = update.min_silence_ms {
                endpointing.min_silence_ms = silence;
            }
            if let Some(pad) = update.speech_pad_ms {
                endpointing.speech_pad_ms = pad;
            }
        }
    }
}
