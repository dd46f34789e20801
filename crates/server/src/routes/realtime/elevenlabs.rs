//! The ElevenLabs realtime protocol, `WS /v1/speech-to-text/realtime`, as the official SDK
//! speaks it (anchors.md 1.9): query parameters for the session, `input_audio_chunk` messages
//! with base64 audio and a `commit` flag, and `session_started`, `partial_transcript`,
//! `committed_transcript`, `committed_transcript_with_timestamps` and typed error messages back
//! (each `{"message_type": …, "error": "…"}`).

use std::sync::Arc;

use axum::Extension;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use base64::Engine as _;
use dalston_realtime::{Event, PcmEncoding, SessionSummary};
use serde::Deserialize;
use serde_json::{Value, json};

use super::open::{OpenRequest, open};
use super::socket::{ClientAction, ErrorKind, Protocol};
use crate::auth::Principal;
use crate::realtime::SessionChoice;
use crate::state::AppState;

/// What the session was opened with, echoed in `session_started`.
#[derive(Debug, Clone, Default)]
struct Echo {
    model_id: String,
    audio_format: String,
    sample_rate: u32,
    language_code: Option<String>,
    commit_strategy: String,
    include_timestamps: bool,
}

pub async fn realtime(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Query(pairs): Query<Vec<(String, String)>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let mut echo = Echo::default();
    let request = request(&state, &pairs, &mut echo);
    let protocol = ElevenLabs { echo };
    open(state, principal, upgrade, protocol, request)
}

/// Reads the query; unknown parameters are ignored (newer SDKs add them).
fn request(
    state: &AppState,
    pairs: &[(String, String)],
    echo: &mut Echo,
) -> Result<OpenRequest, String> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let flag = |name: &str| -> Result<bool, String> {
        match get(name) {
            None => Ok(false),
            Some("true" | "True" | "1") => Ok(true),
            Some("false" | "False" | "0") => Ok(false),
            Some(other) => Err(format!("{name} must be true or false, not {other:?}")),
        }
    };
    let number = |name: &str| -> Result<Option<f64>, String> {
        get(name)
            .map(|value| {
                value
                    .parse::<f64>()
                    .map_err(|_| format!("{name} must be a number, not {value:?}"))
            })
            .transpose()
    };
    let in_range =
        |name: &str, range: std::ops::RangeInclusive<f64>| -> Result<Option<f64>, String> {
            let value = number(name)?;
            match value {
                Some(value) if !range.contains(&value) => Err(format!(
                    "{name} must be between {} and {}",
                    range.start(),
                    range.end()
                )),
                _ => Ok(value),
            }
        };
    echo.model_id = get("model_id").unwrap_or_default().to_owned();
    let audio_format = get("audio_format").unwrap_or("pcm_16000");
    echo.audio_format = audio_format.to_owned();
    let (encoding, sample_rate_hz) = match audio_format {
        "ulaw_8000" => (PcmEncoding::Mulaw, 8_000),
        format => {
            let rate = format
                .strip_prefix("pcm_")
                .and_then(|rate| rate.parse::<u32>().ok())
                .ok_or_else(|| {
                    format!(
                        "audio_format {format:?} is not supported (pcm_8000 … pcm_48000 or ulaw_8000)"
                    )
                })?;
            (PcmEncoding::S16le, rate)
        }
    };
    echo.sample_rate = sample_rate_hz;
    let language = match get("language_code").filter(|code| !code.is_empty()) {
        None => None,
        Some(code) => Some(
            dalston_core::language::normalize(code)
                .ok_or_else(|| format!("language_code {code:?} is not a language Dalston knows"))?
                .to_owned(),
        ),
    };
    echo.language_code = language.clone();
    let commit_strategy = get("commit_strategy").unwrap_or("manual");
    echo.commit_strategy = commit_strategy.to_owned();
    let mut endpointing = state.realtime.endpointing();
    if let Some(secs) = in_range("vad_silence_threshold_secs", 0.3..=3.0)? {
        endpointing.min_silence_ms = (secs * 1000.0) as u32;
    }
    if let Some(threshold) = in_range("vad_threshold", 0.1..=0.9)? {
        endpointing.threshold = threshold as f32;
    }
    if let Some(ms) = in_range("min_speech_duration_ms", 50.0..=2000.0)? {
        endpointing.min_speech_ms = ms as u32;
    }
    let endpointing = match commit_strategy {
        "manual" => None,
        "vad" => Some(endpointing),
        other => return Err(format!("commit_strategy {other:?} is not manual or vad")),
    };
    echo.include_timestamps = flag("include_timestamps")?;
    let keyterms: Vec<&str> = pairs
        .iter()
        .filter(|(key, _)| key == "keyterms")
        .map(|(_, value)| value.as_str())
        .collect();
    // Only a model installed here is a model choice; ElevenLabs' names are labels.
    let model = Some(echo.model_id.clone()).filter(|id| state.catalog.available().contains(id));
    Ok(OpenRequest {
        model,
        encoding,
        sample_rate_hz,
        choice: SessionChoice {
            language,
            endpointing,
            interim_results: true,
            word_timestamps: echo.include_timestamps,
            prompt: (!keyterms.is_empty()).then(|| keyterms.join(", ")),
        },
        // ElevenLabs' protocol has no hybrid mode.
        enhance_on_end: false,
    })
}

pub struct ElevenLabs {
    echo: Echo,
}

/// `input_audio_chunk` (the SDK's only message) or `close_stream`.
#[derive(Deserialize)]
struct ClientMessage {
    message_type: String,
    #[serde(default)]
    audio_base_64: String,
    #[serde(default)]
    commit: bool,
}

impl Protocol for ElevenLabs {
    const NAME: &'static str = "elevenlabs";

    fn read(&mut self, message: Message) -> Result<Vec<ClientAction>, String> {
        match message {
            Message::Binary(bytes) => Ok(vec![ClientAction::Audio(bytes.to_vec())]),
            Message::Text(text) => {
                let message: ClientMessage = serde_json::from_str(text.as_str()).map_err(|_| {
                    "messages are JSON objects with a message_type (input_audio_chunk)".to_owned()
                })?;
                match message.message_type.as_str() {
                    "input_audio_chunk" => {
                        let mut actions = Vec::new();
                        if !message.audio_base_64.is_empty() {
                            let audio = base64::engine::general_purpose::STANDARD
                                .decode(message.audio_base_64.as_bytes())
                                .map_err(|_| "audio_base_64 is not valid base64".to_owned())?;
                            actions.push(ClientAction::Audio(audio));
                        }
                        if message.commit {
                            actions.push(ClientAction::Commit);
                        }
                        Ok(actions)
                    }
                    "close_stream" => Ok(vec![ClientAction::End]),
                    other => Err(format!("unknown message_type {other:?}")),
                }
            }
            _ => Ok(Vec::new()),
        }
    }

    fn begin(&self, session_id: &str) -> Value {
        let echo = &self.echo;
        json!({
            "message_type": "session_started",
            "session_id": session_id,
            "config": {
                "sample_rate": echo.sample_rate,
                "audio_format": echo.audio_format,
                "language_code": echo.language_code,
                "model_id": echo.model_id,
                "commit_strategy": echo.commit_strategy,
                "include_timestamps": echo.include_timestamps,
            },
        })
    }

    fn event(&mut self, event: &Event) -> Vec<Value> {
        match event {
            Event::Partial { text, .. } => {
                vec![json!({"message_type": "partial_transcript", "text": text.text})]
            }
            Event::Final(utterance) => {
                let mut messages =
                    vec![json!({"message_type": "committed_transcript", "text": utterance.text})];
                if self.echo.include_timestamps {
                    let mut words = Vec::new();
                    for (index, word) in utterance.words.iter().enumerate() {
                        if index > 0 {
                            let previous = &utterance.words[index - 1];
                            words.push(json!({
                                "text": " ",
                                "start": previous.end_secs,
                                "end": word.start_secs,
                                "type": "spacing",
                            }));
                        }
                        words.push(json!({
                            "text": word.word,
                            "start": word.start_secs,
                            "end": word.end_secs,
                            "type": "word",
                            "logprob": word.probability.max(f32::MIN_POSITIVE).ln(),
                        }));
                    }
                    messages.push(json!({
                        "message_type": "committed_transcript_with_timestamps",
                        "text": utterance.text,
                        "language_code": dalston_core::language::iso_639_3(&utterance.language)
                            .unwrap_or(&utterance.language),
                        "words": words,
                    }));
                }
                messages
            }
            Event::LagWarning { lag_secs } => vec![json!({
                "message_type": "warning",
                "code": "processing_lag",
                "lag_seconds": lag_secs,
            })],
            Event::SpeechStarted { .. } | Event::SpeechEnded { .. } | Event::Ended(_) => Vec::new(),
        }
    }

    fn end(
        &self,
        session_id: &str,
        summary: &SessionSummary,
        _enhancement_job_id: Option<&str>,
    ) -> Option<Value> {
        Some(json!({
            "message_type": "session_ended",
            "session_id": session_id,
            "total_audio_seconds": summary.audio_secs,
        }))
    }

    fn error(&self, kind: ErrorKind, message: &str) -> Value {
        let message_type = match kind {
            ErrorKind::InvalidParameters | ErrorKind::InvalidMessage => "invalid_request",
            ErrorKind::InvalidAudio => "input_error",
            ErrorKind::NoCapacity => "resource_exhausted",
            ErrorKind::KeyLimit => "rate_limited",
            ErrorKind::LagExceeded => "queue_overflow",
            ErrorKind::TimeLimit => "session_time_limit_exceeded",
            ErrorKind::Internal => "transcriber_error",
        };
        json!({"message_type": message_type, "error": message})
    }
}
