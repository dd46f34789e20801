//! The native protocol, `WS /v1/audio/transcriptions/stream` (API.md, Realtime): binary PCM
//! frames and JSON control messages in; `session.begin`, `vad.*`, `transcript.partial`,
//! `transcript.final`, `warning`, `error` and `session.end` out.

use std::sync::Arc;

use axum::Extension;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use dalston_realtime::{Event, PcmEncoding, SessionSummary, SessionUpdate};
use serde::Deserialize;
use serde_json::{Value, json};

use super::open::{OpenRequest, open};
use super::socket::{ClientAction, ErrorKind, Protocol};
use crate::auth::Principal;
use crate::realtime::SessionChoice;
use crate::state::AppState;

/// The query parameters, as API.md names them.
#[derive(Debug, Deserialize)]
pub struct NativeParams {
    language: Option<String>,
    model: Option<String>,
    #[serde(default = "default_sample_rate")]
    sample_rate: u32,
    #[serde(default = "default_encoding")]
    encoding: String,
    #[serde(default = "yes")]
    enable_vad: bool,
    #[serde(default = "yes")]
    interim_results: bool,
    #[serde(default = "yes")]
    word_timestamps: bool,
    #[serde(default)]
    enhance_on_end: bool,
    /// Terms to bias recognition towards: a JSON array of strings.
    vocabulary: Option<String>,
    /// Silence that ends an utterance (ms), 100–5000.
    min_silence_duration_ms: Option<u32>,
    /// Speech probability threshold, 0.1–0.9.
    vad_threshold: Option<f32>,
}

fn default_sample_rate() -> u32 {
    16_000
}
fn default_encoding() -> String {
    "pcm_s16le".into()
}
fn yes() -> bool {
    true
}

pub async fn stream(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    params: Result<Query<NativeParams>, axum::extract::rejection::QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let protocol = Native {
        word_timestamps: params
            .as_ref()
            .is_ok_and(|Query(params)| params.word_timestamps),
    };
    let request = params
        .map_err(|rejection| rejection.body_text())
        .and_then(|Query(params)| request(&state, params));
    open(state, principal, upgrade, protocol, request)
}

fn request(state: &AppState, params: NativeParams) -> Result<OpenRequest, String> {
    let encoding = PcmEncoding::parse(&params.encoding).ok_or_else(|| {
        format!(
            "encoding {:?} is not supported (pcm_s16le, pcm_f32le or mulaw)",
            params.encoding
        )
    })?;
    let language = params
        .language
        .filter(|language| !language.is_empty() && language != "auto");
    let prompt = params
        .vocabulary
        .map(|vocabulary| {
            serde_json::from_str::<Vec<String>>(&vocabulary)
                .map(|terms| terms.join(", "))
                .map_err(|_| "vocabulary must be a JSON array of strings".to_owned())
        })
        .transpose()?;
    let mut endpointing = state.realtime.endpointing();
    if let Some(silence) = params.min_silence_duration_ms {
        endpointing.min_silence_ms = checked_min_silence(silence)?;
    }
    if let Some(threshold) = params.vad_threshold {
        endpointing.threshold = checked_vad_threshold(threshold)?;
    }
    Ok(OpenRequest {
        model: params.model.filter(|model| !model.is_empty()),
        encoding,
        sample_rate_hz: params.sample_rate,
        choice: SessionChoice {
            language,
            endpointing: params.enable_vad.then_some(endpointing),
            interim_results: params.interim_results,
            word_timestamps: params.word_timestamps,
            prompt,
        },
        enhance_on_end: params.enhance_on_end,
    })
}

fn checked_min_silence(ms: u32) -> Result<u32, String> {
    if (100..=5_000).contains(&ms) {
        Ok(ms)
    } else {
        Err("min_silence_duration_ms must be between 100 and 5000".into())
    }
}

fn checked_vad_threshold(threshold: f32) -> Result<f32, String> {
    if (0.1..=0.9).contains(&threshold) {
        Ok(threshold)
    } else {
        Err("vad_threshold must be between 0.1 and 0.9".into())
    }
}

pub struct Native {
    word_timestamps: bool,
}

/// A JSON control message: `flush`, `end`, `clear`, or `config` with the settings to change.
#[derive(Deserialize)]
struct Control {
    #[serde(rename = "type")]
    kind: String,
    language: Option<String>,
    vad_threshold: Option<f32>,
    min_silence_duration_ms: Option<u32>,
    prefix_padding_ms: Option<u32>,
}

impl Control {
    /// The settings a `config` message changes, checked as the query parameters are.
    fn update(self) -> Result<SessionUpdate, String> {
        if let Some(padding) = self.prefix_padding_ms
            && padding > 2_000
        {
            return Err("prefix_padding_ms must be between 0 and 2000".into());
        }
        Ok(SessionUpdate {
            language: self
                .language
                .map(|language| Some(language).filter(|code| !code.is_empty() && code != "auto")),
            vad_threshold: self.vad_threshold.map(checked_vad_threshold).transpose()?,
            min_silence_ms: self
                .min_silence_duration_ms
                .map(checked_min_silence)
                .transpose()?,
            speech_pad_ms: self.prefix_padding_ms,
        })
    }
}

fn secs(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

impl Protocol for Native {
    const NAME: &'static str = "native";

    fn read(&mut self, message: Message) -> Result<Vec<ClientAction>, String> {
        match message {
            Message::Binary(bytes) => Ok(vec![ClientAction::Audio(bytes.to_vec())]),
            Message::Text(text) => {
                let control: Control = serde_json::from_str(text.as_str())
                    .map_err(|_| "control messages are JSON objects with a \"type\"".to_owned())?;
                match control.kind.as_str() {
                    "flush" | "commit" => Ok(vec![ClientAction::Commit]),
                    "end" => Ok(vec![ClientAction::End]),
                    "clear" => Ok(vec![ClientAction::Clear]),
                    "config" => Ok(vec![ClientAction::Configure(control.update()?)]),
                    other => Err(format!(
                        "unknown message type {other:?} (expected config, flush, clear or end)"
                    )),
                }
            }
            _ => Ok(Vec::new()),
        }
    }

    fn begin(&self, session_id: &str) -> Value {
        json!({"type": "session.begin", "session_id": session_id})
    }

    fn event(&mut self, event: &Event) -> Vec<Value> {
        let message = match event {
            Event::SpeechStarted { at_secs } => {
                json!({"type": "vad.speech_start", "timestamp": secs(*at_secs)})
            }
            Event::SpeechEnded { at_secs } => {
                json!({"type": "vad.speech_end", "timestamp": secs(*at_secs)})
            }
            Event::Partial {
                text,
                start_secs,
                end_secs,
            } => json!({
                "type": "transcript.partial",
                "text": text.text,
                "stable_text": text.stable_text,
                "start": secs(*start_secs),
                "end": secs(*end_secs),
            }),
            Event::Final(utterance) => {
                let words: Vec<Value> = utterance
                    .words
                    .iter()
                    .map(|word| {
                        json!({
                            "word": word.word,
                            "start": secs(word.start_secs),
                            "end": secs(word.end_secs),
                            "confidence": word.probability,
                        })
                    })
                    .collect();
                let mut message = json!({
                    "type": "transcript.final",
                    "text": utterance.text,
                    "start": secs(utterance.start_secs),
                    "end": secs(utterance.end_secs),
                    "confidence": utterance.confidence,
                    "language": utterance.language,
                });
                if self.word_timestamps {
                    message["words"] = Value::Array(words);
                }
                message
            }
            Event::LagWarning { lag_secs } => json!({
                "type": "warning",
                "code": "processing_lag",
                "message": "transcription is falling behind the audio",
                "lag_seconds": secs(*lag_secs),
            }),
            Event::Ended(_) => return Vec::new(),
        };
        vec![message]
    }

    fn end(
        &self,
        session_id: &str,
        summary: &SessionSummary,
        enhancement_job_id: Option<&str>,
    ) -> Option<Value> {
        let segments: Vec<Value> = summary
            .utterances
            .iter()
            .map(|utterance| {
                json!({
                    "start": secs(utterance.start_secs),
                    "end": secs(utterance.end_secs),
                    "text": utterance.text,
                })
            })
            .collect();
        let mut end = json!({
            "type": "session.end",
            "session_id": session_id,
            "total_audio_seconds": secs(summary.audio_secs),
            "total_speech_duration": secs(summary.speech_secs),
            "transcript": summary.transcript(),
            "segments": segments,
            "end_reason": summary.reason.as_str(),
        });
        if let Some(job_id) = enhancement_job_id {
            end["enhancement_job_id"] = json!(job_id);
        }
        Some(end)
    }

    fn error(&self, kind: ErrorKind, message: &str) -> Value {
        let (code, recoverable) = match kind {
            ErrorKind::InvalidParameters => ("invalid_parameters", false),
            ErrorKind::InvalidMessage => ("invalid_message", true),
            ErrorKind::InvalidAudio => ("invalid_audio", true),
            ErrorKind::NoCapacity => ("no_capacity", false),
            ErrorKind::KeyLimit => ("rate_limit", false),
            ErrorKind::LagExceeded => ("lag_exceeded", false),
            ErrorKind::TimeLimit => ("session_timeout", false),
            ErrorKind::Internal => ("internal_error", false),
        };
        json!({"type": "error", "code": code, "message": message, "recoverable": recoverable})
    }
}
