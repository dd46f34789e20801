//! OpenAI's audio API: `POST /v1/audio/transcriptions` with an OpenAI model name, and
//! `POST /v1/audio/translations`. Synchronous: the job runs through the normal pipeline and the
//! request waits for it, then answers in OpenAI's shapes and error format so the official SDK
//! works unchanged with only its base URL changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dalston_core::export::{ExportFormat, ExportOptions, render};
use dalston_core::params::{
    SpeakerDetection, TimestampsGranularity, TranscriptionTask, VadParameters,
};
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
/// `param` names the request field at fault, so SDK users see which argument to fix.
#[derive(Debug)]
pub struct OpenAiError {
    error: ApiError,
    param: Option<&'static str>,
}

impl OpenAiError {
    /// A 400 about one request field.
    fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        Self {
            error: ApiError::BadRequest(message.into()),
            param: Some(param),
        }
    }
}

impl From<ApiError> for OpenAiError {
    fn from(error: ApiError) -> Self {
        Self { error, param: None }
    }
}

/// The `error` object of OpenAI's error shape, `{message, type, param, code}`: the body of an
/// error response, and of a stream's `error` event (which the SDK raises as an `APIError`).
pub(super) fn error_object(error: &ApiError, param: Option<&str>) -> Value {
    let code = error.code();
    let message = match error {
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
    json!({ "message": message, "type": kind, "param": param, "code": code.name() })
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": error_object(&self.error, self.param) });
        (self.error.code().status(), Json(body)).into_response()
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
    /// Segments with speaker labels; only for a `-diarize` model, as OpenAI.
    DiarizedJson,
}

/// The requested format, refusing `diarized_json` where OpenAI does: for translations and for
/// models other than `gpt-4o-transcribe-diarize`, so a client that works here works there.
fn response_format(
    form: &ReceivedForm,
    task: TranscriptionTask,
) -> Result<ResponseFormat, OpenAiError> {
    match form.field("response_format").unwrap_or("json") {
        "json" => Ok(ResponseFormat::Json),
        "text" => Ok(ResponseFormat::Text),
        "srt" => Ok(ResponseFormat::Srt),
        "vtt" => Ok(ResponseFormat::Vtt),
        "verbose_json" => Ok(ResponseFormat::VerboseJson),
        "diarized_json" if task == TranscriptionTask::Translate => Err(OpenAiError::invalid(
            "response_format",
            "response_format diarized_json is for transcriptions; translations answer in json, text, srt, vtt or verbose_json",
        )),
        "diarized_json" => match form.field("model").unwrap_or_default() {
            model if model.contains("diarize") => Ok(ResponseFormat::DiarizedJson),
            model => Err(OpenAiError::invalid(
                "response_format",
                format!(
                    "response_format diarized_json needs model gpt-4o-transcribe-diarize; got {model:?}"
                ),
            )),
        },
        other => Err(OpenAiError::invalid(
            "response_format",
            format!(
                "response_format must be one of json, text, srt, vtt, verbose_json, diarized_json; got {other:?}"
            ),
        )),
    }
}

/// What an answer carries beyond the text: for `verbose_json`, segments unless only words were
/// asked for (as OpenAI), and words; for `json`, `logprobs` when `include[]=logprobs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Detail {
    words: bool,
    segments: bool,
    logprobs: bool,
}

/// `include[]`: OpenAI's one value, `logprobs`, for `json` answers without `stream` (the
/// stream's events carry none here). Refused elsewhere, as OpenAI refuses it for other formats.
fn include_logprobs(form: &ReceivedForm, format: ResponseFormat) -> Result<bool, OpenAiError> {
    const PARAM: &str = "include";
    let include = upload::list_field(&form.fields, PARAM, upload::PlainValue::CommaSeparated)?;
    if let Some(other) = include.iter().find(|item| *item != "logprobs") {
        return Err(OpenAiError::invalid(
            PARAM,
            format!("include accepts logprobs, got {other:?}"),
        ));
    }
    if include.is_empty() {
        return Ok(false);
    }
    if format != ResponseFormat::Json {
        return Err(OpenAiError::invalid(
            PARAM,
            "include[]=logprobs needs response_format json",
        ));
    }
    if form.field("stream") == Some("true") {
        return Err(OpenAiError::invalid(
            PARAM,
            "include[]=logprobs is answered without stream=true only",
        ));
    }
    Ok(true)
}

/// OpenAI's `temperature` (0–1): the first temperature Whisper decodes at, falling back to
/// higher ones as OpenAI's Whisper does.
fn temperature(form: &ReceivedForm) -> Result<Option<f32>, OpenAiError> {
    let Some(raw) = form.field("temperature") else {
        return Ok(None);
    };
    match raw.parse::<f32>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(Some(value)),
        _ => Err(OpenAiError::invalid(
            "temperature",
            format!("temperature must be a number between 0 and 1; got {raw:?}"),
        )),
    }
}

/// OpenAI's `chunking_strategy` as voice activity detection settings. `auto` (or nothing)
/// keeps the server's defaults; `server_vad` maps `threshold`, `silence_duration_ms` and
/// `prefix_padding_ms` onto the VAD that decides what reaches the transcriber. The SDK sends
/// the object as `chunking_strategy[key]` fields; curl users may send it as a JSON string.
fn chunking_strategy(form: &ReceivedForm) -> Result<VadParameters, OpenAiError> {
    const PARAM: &str = "chunking_strategy";
    let mut settings: BTreeMap<String, Value> = BTreeMap::new();
    if let Some(raw) = form.field(PARAM) {
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(object)) => settings.extend(object),
            Ok(Value::String(text)) => {
                settings.insert("type".into(), Value::String(text));
            }
            _ => {
                settings.insert("type".into(), Value::String(raw.to_owned()));
            }
        }
    }
    for (name, values) in &form.fields {
        let key = name
            .strip_prefix("chunking_strategy[")
            .and_then(|rest| rest.strip_suffix(']'));
        if let (Some(key), Some(value)) = (key, values.last()) {
            settings.insert(key.to_owned(), Value::String(value.trim().to_owned()));
        }
    }
    let kind = settings.remove("type");
    match kind.as_ref().and_then(Value::as_str) {
        None if settings.is_empty() => return Ok(VadParameters::default()),
        Some("auto") if settings.is_empty() => return Ok(VadParameters::default()),
        Some("server_vad") => {}
        _ => {
            return Err(OpenAiError::invalid(
                PARAM,
                "chunking_strategy must be \"auto\" or an object with type \"server_vad\"",
            ));
        }
    }
    let mut vad = VadParameters::default();
    for (key, value) in &settings {
        let number = value
            .as_f64()
            .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
            .filter(|number| number.is_finite() && *number >= 0.0)
            .ok_or_else(|| {
                OpenAiError::invalid(
                    PARAM,
                    format!("chunking_strategy {key} must be a non-negative number; got {value}"),
                )
            })?;
        let milliseconds = || u32::try_from(number.round() as u64).unwrap_or(u32::MAX);
        match key.as_str() {
            "threshold" => vad.threshold = Some(number as f32),
            "silence_duration_ms" => vad.min_silence_duration_ms = Some(milliseconds()),
            "prefix_padding_ms" => vad.speech_pad_ms = Some(milliseconds()),
            other => {
                return Err(OpenAiError::invalid(
                    PARAM,
                    format!(
                        "chunking_strategy has no setting {other:?}; it takes threshold, silence_duration_ms and prefix_padding_ms"
                    ),
                ));
            }
        }
    }
    vad.validate()
        .map_err(|error| OpenAiError::invalid(PARAM, format!("chunking_strategy: {error}")))?;
    Ok(vad)
}

/// Refuses OpenAI's known-speaker fields: naming speakers needs matching them against the
/// reference clips, which this server's diarization cannot do. Labels stay `A`, `B`, ….
fn refuse_known_speakers(form: &ReceivedForm) -> Result<(), OpenAiError> {
    for param in ["known_speaker_names", "known_speaker_references"] {
        if form
            .fields
            .get(param)
            .is_some_and(|values| values.iter().any(|v| !v.trim().is_empty()))
        {
            return Err(OpenAiError::invalid(
                param,
                format!(
                    "{param} is not supported: this server cannot match speakers against reference audio; leave out known_speaker_names and known_speaker_references to get speakers labelled A, B, …"
                ),
            ));
        }
    }
    Ok(())
}

fn openai_parameters(
    form: &ReceivedForm,
    task: TranscriptionTask,
    format: ResponseFormat,
) -> Result<(JobParameters, Detail), OpenAiError> {
    let granularities = upload::list_field(
        &form.fields,
        "timestamp_granularities",
        upload::PlainValue::CommaSeparated,
    )?;
    if let Some(other) = granularities
        .iter()
        .find(|g| *g != "word" && *g != "segment")
    {
        return Err(OpenAiError::invalid(
            "timestamp_granularities",
            format!("timestamp_granularities accepts word and segment, got {other:?}"),
        ));
    }
    if !granularities.is_empty() && format != ResponseFormat::VerboseJson {
        return Err(OpenAiError::invalid(
            "timestamp_granularities",
            "timestamp_granularities needs response_format verbose_json",
        ));
    }
    let logprobs = include_logprobs(form, format)?;
    if logprobs && task == TranscriptionTask::Translate {
        return Err(OpenAiError::invalid(
            "include",
            "translations answer no logprobs; leave out include[]",
        ));
    }
    let temperature = temperature(form)?;
    let diarize = format == ResponseFormat::DiarizedJson;
    if diarize {
        refuse_known_speakers(form)?;
    }
    // Translations have no word timings in OpenAI's API. Log probabilities are the words'.
    let words = task == TranscriptionTask::Transcribe
        && (logprobs || granularities.iter().any(|g| g == "word"));
    let language = match (task, form.field("language")) {
        (TranscriptionTask::Translate, _) | (_, None) => None,
        (TranscriptionTask::Transcribe, Some(raw)) => Some(
            dalston_core::language::normalize(raw)
                .ok_or_else(|| {
                    OpenAiError::invalid(
                        "language",
                        format!("language {raw:?} is not an ISO-639-1 code Whisper knows"),
                    )
                })?
                .to_owned(),
        ),
    };
    let parameters = JobParameters {
        language,
        task,
        // Speaker changes split segments at word boundaries, so diarization wants word timings.
        timestamps_granularity: if words || diarize {
            TimestampsGranularity::Word
        } else {
            TimestampsGranularity::Segment
        },
        speaker_detection: if diarize {
            SpeakerDetection::Diarize
        } else {
            SpeakerDetection::None
        },
        prompt: form.field("prompt").map(str::to_owned),
        temperature,
        display_name: form.file_name.clone(),
        vad: chunking_strategy(form)?,
        ..JobParameters::default()
    };
    parameters
        .validate()
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let segments = !words || granularities.iter().any(|g| g == "segment");
    Ok((
        parameters,
        Detail {
            words,
            segments,
            logprobs,
        },
    ))
}

/// Runs a job to completion and renders it in OpenAI's shape.
async fn run(
    state: &Arc<AppState>,
    principal: &Principal,
    form: ReceivedForm,
    task: TranscriptionTask,
) -> Result<Response, OpenAiError> {
    if form.size_bytes > state.limits.max_openai_upload_bytes {
        return Err(ApiError::PayloadTooLarge(format!(
            "the file is {} bytes; the OpenAI-compatible endpoints accept at most {}",
            form.size_bytes, state.limits.max_openai_upload_bytes
        ))
        .into());
    }
    let format = response_format(&form, task)?;
    let (parameters, detail) = openai_parameters(&form, task, format)?;
    if format == ResponseFormat::DiarizedJson && !state.available_engines().diarize {
        return Err(OpenAiError::invalid(
            "response_format",
            "response_format diarized_json needs speaker diarization, and no diarize engine runs on this server",
        ));
    }
    if task == TranscriptionTask::Translate && state.catalog.default_model().ends_with(".en") {
        return Err(ApiError::BadRequest(format!(
            "translation needs a multilingual model; the server's default model {} is English-only",
            state.catalog.default_model()
        ))
        .into());
    }
    let stream = form.field("stream") == Some("true");
    let uploaded = upload::prepare_job(state, principal, form, parameters).await?;
    upload::submit_job(state, &uploaded).await?;
    if stream {
        let events = if format == ResponseFormat::DiarizedJson {
            super::stream::Events::Diarized
        } else {
            super::stream::Events::Deltas
        };
        return Ok(
            super::stream::transcript_events(Arc::clone(state), uploaded.job.id, events)
                .into_response(),
        );
    }
    let transcript = super::sync::wait_for_transcript(state, &uploaded.job.id).await?;
    Ok(render_response(&transcript, format, task, detail))
}

fn render_response(
    transcript: &Transcript,
    format: ResponseFormat,
    task: TranscriptionTask,
    detail: Detail,
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
            Err(error) => {
                OpenAiError::from(ApiError::BadRequest(error.to_string())).into_response()
            }
        }
    };
    let usage = json!({ "type": "duration", "seconds": transcript.duration_secs.ceil() });
    match format {
        ResponseFormat::Json => {
            let mut body = json!({ "text": transcript.text, "usage": usage });
            if detail.logprobs {
                body["logprobs"] = logprobs(transcript);
            }
            Json(body).into_response()
        }
        ResponseFormat::Text => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", transcript.text),
        )
            .into_response(),
        ResponseFormat::Srt => text_body(ExportFormat::Srt),
        ResponseFormat::Vtt => text_body(ExportFormat::Vtt),
        ResponseFormat::VerboseJson => {
            Json(verbose_json(transcript, task, usage, detail)).into_response()
        }
        ResponseFormat::DiarizedJson => Json(json!({
            "task": "transcribe",
            "duration": transcript.duration_secs,
            "text": transcript.text,
            "segments": diarized_segments(transcript),
            "usage": usage,
        }))
        .into_response(),
    }
}

/// OpenAI's name for the speaker first heard `index`-th: `A` … `Z`, then `AA`, `AB`, … (the
/// transcript allows up to 32 speakers).
fn speaker_letter(index: usize) -> String {
    const LETTERS: usize = 26;
    let letter = |n: usize| char::from(b'A' + u8::try_from(n % LETTERS).unwrap_or(0));
    if index < LETTERS {
        letter(index).to_string()
    } else {
        format!("{}{}", letter(index / LETTERS - 1), letter(index))
    }
}

/// The transcript's segments as OpenAI's diarized segments (`transcript.text.segment`), the
/// shape of both `diarized_json`'s `segments` and the diarized stream's segment events.
/// Speakers are relabelled `A`, `B`, … in order of first appearance, as OpenAI labels them; a
/// segment the diarizer left unlabelled (no speech it could attribute) keeps the previous
/// segment's speaker, since OpenAI's type requires one on every segment.
pub(super) fn diarized_segments(transcript: &Transcript) -> Vec<Value> {
    let mut letters: Vec<&str> = Vec::new();
    let mut current: Option<String> = None;
    transcript
        .segments
        .iter()
        .map(|segment| {
            if let Some(id) = segment.speaker.as_deref() {
                let index = letters
                    .iter()
                    .position(|known| *known == id)
                    .unwrap_or_else(|| {
                        letters.push(id);
                        letters.len() - 1
                    });
                current = Some(speaker_letter(index));
            }
            json!({
                "type": "transcript.text.segment",
                "id": segment.id,
                "start": segment.start_secs,
                "end": segment.end_secs,
                "text": segment.text.trim(),
                "speaker": current.clone().unwrap_or_else(|| speaker_letter(0)),
            })
        })
        .collect()
}

/// `Transcription.logprobs`: one entry per word, since Whisper's word probabilities are what the
/// transcript keeps (OpenAI's entries are tokens, which are often whole words too). Every
/// `token` after the first starts with its space, as tokens do, so together they spell the text.
fn logprobs(transcript: &Transcript) -> Value {
    transcript
        .words
        .iter()
        .enumerate()
        .map(|(index, word)| {
            let text = word.text.trim();
            let token = if index == 0 {
                text.to_owned()
            } else {
                format!(" {text}")
            };
            json!({
                "bytes": token.as_bytes(),
                "token": token,
                "logprob": word.logprob().unwrap_or(0.0),
            })
        })
        .collect()
}

/// OpenAI's `verbose_json` (whisper-1 reports the language by its English name).
fn verbose_json(
    transcript: &Transcript,
    task: TranscriptionTask,
    usage: Value,
    detail: Detail,
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
    if detail.segments {
        body["segments"] = Value::Array(segments);
    }
    if detail.words {
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
        .unwrap_or_else(IntoResponse::into_response))
}

/// `POST /v1/audio/translations`: speech in any language to English text.
pub async fn translate(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, OpenAiError> {
    let multipart = multipart.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let form = upload::receive_form(&state, multipart, &[]).await?;
    run(&state, &principal, form, TranscriptionTask::Translate).await
}

#[cfg(test)]
mod tests {
    use super::speaker_letter;

    #[test]
    fn speakers_are_lettered_like_openai_then_doubled_past_z() {
        let labels: Vec<String> = [0, 1, 25, 26, 27, 31].map(speaker_letter).into();
        assert_eq!(labels, ["A", "B", "Z", "AA", "AB", "AF"]);
    }
}
