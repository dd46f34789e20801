//! OpenAI's audio API: `POST /v1/audio/transcriptions` with an OpenAI model name, and
//! `POST /v1/audio/translations`. Synchronous: the job runs through the normal pipeline and the
//! request waits for it, then answers in OpenAI's shapes and error format so the official SDK
//! works unchanged with only its base URL changed.

use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dalston_core::export::{ExportFormat, ExportOptions, render};
use dalston_core::params::{TimestampsGranularity, TranscriptionTask};
use dalston_core::{JobParameters, Transcript};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::upload::{self, ReceivedForm};

/// Model names OpenAI clients send. Any of them runs the server's default Whisper model.
pub fn is_openai_model(name: &str) -> bool {
    name == "whisper-1"
        || name.starts_with("gpt-4o-") && name.contains("transcribe")
        || name.starts_with("gpt-transcribe")
}

/// An [`ApiError`] in OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug)]
pub struct OpenAiError(pub ApiError);

impl From<ApiError> for OpenAiError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let code = self.0.code();
        let message = match &self.0 {
            ApiError::Internal(error) => {
                tracing::error!(error = ?error, "request failed");
                "internal error; see the server log".to_owned()
            }
            other => other.to_string(),
        };
        let kind = match code.status().as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            429 => "rate_limit_error",
            500..=599 => "server_error",
            _ => "invalid_request_error",
        };
        let body = json!({ "error": { "message": message, "type": kind, "param": null, "code": code.name() } });
        (code.status(), Json(body)).into_response()
    }
}

/// `response_format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseFormat {
    Json,
    Text,
    Srt,
    Vtt,
    VerboseJson,
}

fn response_format(form: &ReceivedForm) -> Result<ResponseFormat, ApiError> {
    match form.field("response_format").unwrap_or("json") {
        "json" => Ok(ResponseFormat::Json),
        "text" => Ok(ResponseFormat::Text),
        "srt" => Ok(ResponseFormat::Srt),
        "vtt" => Ok(ResponseFormat::Vtt),
        "verbose_json" => Ok(ResponseFormat::VerboseJson),
        "diarized_json" => Err(ApiError::BadRequest(
            "response_format diarized_json needs speaker diarization, which this server does not offer yet".into(),
        )),
        other => Err(ApiError::BadRequest(format!(
            "response_format must be one of json, text, srt, vtt, verbose_json; got {other:?}"
        ))),
    }
}

/// Which timings `verbose_json` carries: segments unless only words were asked for (as OpenAI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Granularities {
    words: bool,
    segments: bool,
}

fn openai_parameters(
    form: &ReceivedForm,
    task: TranscriptionTask,
) -> Result<(JobParameters, Granularities), ApiError> {
    let granularities = upload::list_field(&form.fields, "timestamp_granularities")?;
    if let Some(other) = granularities
        .iter()
        .find(|g| *g != "word" && *g != "segment")
    {
        return Err(ApiError::BadRequest(format!(
            "timestamp_granularities accepts word and segment, got {other:?}"
        )));
    }
    // Translations have no word timings in OpenAI's API.
    let words = task == TranscriptionTask::Transcribe && granularities.iter().any(|g| g == "word");
    let language = match (task, form.field("language")) {
        (TranscriptionTask::Translate, _) | (_, None) => None,
        (TranscriptionTask::Transcribe, Some(raw)) => Some(
            dalston_core::language::normalize(raw)
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "language {raw:?} is not an ISO-639-1 code Whisper knows"
                    ))
                })?
                .to_owned(),
        ),
    };
    let parameters = JobParameters {
        language,
        task,
        timestamps_granularity: if words {
            TimestampsGranularity::Word
        } else {
            TimestampsGranularity::Segment
        },
        prompt: form.field("prompt").map(str::to_owned),
        display_name: form.file_name.clone(),
        ..JobParameters::default()
    };
    parameters
        .validate()
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let segments = !words || granularities.iter().any(|g| g == "segment");
    Ok((parameters, Granularities { words, segments }))
}

/// Runs a job to completion and renders it in OpenAI's shape.
async fn run(
    state: &Arc<AppState>,
    principal: &Principal,
    form: ReceivedForm,
    task: TranscriptionTask,
) -> Result<Response, ApiError> {
    if form.size_bytes > state.limits.max_openai_upload_bytes {
        return Err(ApiError::PayloadTooLarge(format!(
            "the file is {} bytes; the OpenAI-compatible endpoints accept at most {}",
            form.size_bytes, state.limits.max_openai_upload_bytes
        )));
    }
    let format = response_format(&form)?;
    let (parameters, granularities) = openai_parameters(&form, task)?;
    if task == TranscriptionTask::Translate && state.catalog.default_model().ends_with(".en") {
        return Err(ApiError::BadRequest(format!(
            "translation needs a multilingual model; the server's default model {} is English-only",
            state.catalog.default_model()
        )));
    }
    let stream = form.field("stream") == Some("true");
    let uploaded = upload::prepare_job(state, principal, form, parameters).await?;
    upload::submit_job(state, &uploaded).await?;
    if stream {
        return Ok(
            super::stream::transcript_events(Arc::clone(state), uploaded.job.id).into_response(),
        );
    }
    let transcript = super::sync::wait_for_transcript(state, &uploaded.job.id).await?;
    Ok(render_response(&transcript, format, task, granularities))
}

fn render_response(
    transcript: &Transcript,
    format: ResponseFormat,
    task: TranscriptionTask,
    granularities: Granularities,
) -> Response {
    let text_body = |format: ExportFormat| -> Response {
        match render(
            transcript,
            format,
            &ExportOptions {
                include_speakers: false,
                ..ExportOptions::default()
            },
        ) {
            Ok(body) => {
                ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
            }
            Err(error) => OpenAiError(ApiError::BadRequest(error.to_string())).into_response(),
        }
    };
    let usage = json!({ "type": "duration", "seconds": transcript.duration_secs.ceil() });
    match format {
        ResponseFormat::Json => {
            Json(json!({ "text": transcript.text, "usage": usage })).into_response()
        }
        ResponseFormat::Text => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", transcript.text),
        )
            .into_response(),
        ResponseFormat::Srt => text_body(ExportFormat::Srt),
        ResponseFormat::Vtt => text_body(ExportFormat::Vtt),
        ResponseFormat::VerboseJson => {
            Json(verbose_json(transcript, task, usage, granularities)).into_response()
        }
    }
}

/// OpenAI's `verbose_json` (whisper-1 reports the language by its English name).
fn verbose_json(
    transcript: &Transcript,
    task: TranscriptionTask,
    usage: Value,
    granularities: Granularities,
) -> Value {
    let segments: Vec<Value> = transcript
        .segments
        .iter()
        .enumerate()
        .map(|(index, segment)| {
            json!({
                "id": index,
                // Whisper's seek is the window offset in 10 ms frames.
                "seek": (segment.start_secs * 100.0).floor() as i64,
                "start": segment.start_secs,
                "end": segment.end_secs,
                "text": format!(" {}", segment.text.trim()),
                "tokens": [],
                "temperature": segment.temperature.unwrap_or(0.0),
                "avg_logprob": segment.avg_logprob.unwrap_or(0.0),
                "compression_ratio": segment.compression_ratio.unwrap_or(0.0),
                "no_speech_prob": segment.no_speech_prob.unwrap_or(0.0),
            })
        })
        .collect();
    let language =
        dalston_core::language::english_name(&transcript.language_code).unwrap_or("unknown");
    let mut body = json!({
        "task": match task { TranscriptionTask::Transcribe => "transcribe", TranscriptionTask::Translate => "translate" },
        "language": language,
        "duration": transcript.duration_secs,
        "text": transcript.text,
        "usage": usage,
    });
    if granularities.segments {
        body["segments"] = Value::Array(segments);
    }
    if granularities.words {
        let words: Vec<Value> = transcript
            .words
            .iter()
            .map(
                |word| json!({ "word": word.text, "start": word.start_secs, "end": word.end_secs }),
            )
            .collect();
        body["words"] = Value::Array(words);
    }
    body
}

/// The OpenAI branch of `POST /v1/audio/transcriptions`.
pub async fn transcribe(
    state: &Arc<AppState>,
    principal: &Principal,
    form: ReceivedForm,
    model: &str,
) -> Result<Response, ApiError> {
    tracing::debug!(model, "openai-compatible transcription");
    Ok(run(state, principal, form, TranscriptionTask::Transcribe)
        .await
        .unwrap_or_else(|error| OpenAiError(error).into_response()))
}

/// `POST /v1/audio/translations`: speech in any language to English text.
pub async fn translate(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, OpenAiError> {
    let multipart = multipart.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let form = upload::receive_form(&state, multipart).await?;
    Ok(run(&state, &principal, form, TranscriptionTask::Translate).await?)
}
