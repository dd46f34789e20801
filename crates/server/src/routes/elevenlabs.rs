//! ElevenLabs' speech-to-text API: `POST /v1/speech-to-text` and
//! `GET`/`DELETE /v1/speech-to-text/transcripts/{id}`, in the shapes the official `elevenlabs`
//! SDK parses. Requests run through the normal pipeline; the transcription id is the job id.
//! `use_multi_channel=true` is per-channel transcription, answered with one transcript per
//! channel (`{transcripts: […]}`).

use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use dalston_core::export::{
    ExportFormat, ExportOptions, SegmentLimits, SegmentedJsonOptions, WordEntry, WordListOptions,
    elevenlabs_word_list, render, render_html, render_segmented_json, resegment,
};
use dalston_core::params::{SpeakerDetection, TimestampsGranularity};
use dalston_core::per_channel;
use dalston_core::transcript::Word;
use dalston_core::webhook::WebhookStyle;
use dalston_core::{JobParameters, Transcript};
use dalston_store::JobRecord;
use serde_json::{Value, json};

use super::jobs::{ensure_finished, load_job};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::upload::{self, ReceivedForm};

/// An [`ApiError`] in ElevenLabs' shape: `{"detail": {"status", "message"}}`, and for invalid
/// fields their validation list `{"detail": [{"loc", "msg", "type"}]}` with 422.
#[derive(Debug)]
pub struct ElevenLabsError(pub ApiError);

impl From<ApiError> for ElevenLabsError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ElevenLabsError {
    fn into_response(self) -> Response {
        match self.0 {
            ApiError::Validation { field, message } => {
                let body = json!({ "detail": [{ "loc": ["body", field], "msg": message, "type": "value_error" }] });
                (axum::http::StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            }
            other => other.into_response(),
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn boolean(form: &ReceivedForm, field: &str) -> Result<bool, ApiError> {
    match form.field(field) {
        None | Some("false" | "False" | "0") => Ok(false),
        Some("true" | "True" | "1") => Ok(true),
        Some(other) => Err(invalid(
            field,
            format!("expected true or false, got {other:?}"),
        )),
    }
}

/// A number field within `range`, or `None` when not sent.
fn number<T>(
    form: &ReceivedForm,
    field: &str,
    range: std::ops::RangeInclusive<T>,
) -> Result<Option<T>, ApiError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = form.field(field) else {
        return Ok(None);
    };
    match raw.parse::<T>() {
        Ok(value) if range.contains(&value) => Ok(Some(value)),
        _ => Err(invalid(
            field,
            format!(
                "expected a number from {} to {}, got {raw:?}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// A JSON-encoded field the SDK sends as `null` when the caller gave none.
fn json_field_given(form: &ReceivedForm, field: &str) -> bool {
    form.field(field).is_some_and(|raw| raw != "null")
}

/// Refuses the fields asking for output this server cannot produce, where answering without it
/// would mislead: an unredacted transcript for a redaction request, `speaker_N` where
/// `agent`/`customer` were asked for, no `edited_transcript`, one transcript per channel where
/// a combined one was asked for. Fields that only tune or hint
/// (`tag_audio_events`, `no_verbatim`, `seed`, …) are accepted and have no effect; see
/// [`parse_request`].
fn refuse_unsupported(form: &ReceivedForm) -> Result<(), ApiError> {
    for (field, why) in [
        (
            "entity_detection",
            "entity detection is not available on this server; leave out entity_detection",
        ),
        (
            "entity_redaction",
            "entity redaction is not available on this server; leave out entity_redaction",
        ),
    ] {
        if json_field_given(form, field) {
            return Err(invalid(field, why));
        }
    }
    if form.field("transcript_edit").is_some() {
        return Err(invalid(
            "transcript_edit",
            "transcript editing is not available on this server; leave out transcript_edit",
        ));
    }
    if boolean(form, "detect_speaker_roles")? {
        return Err(invalid(
            "detect_speaker_roles",
            "speaker roles (agent/customer) are not available on this server; diarize gives speaker_0, speaker_1, …",
        ));
    }
    match form.field("multichannel_output_style") {
        None | Some("separate") => {}
        Some("combined") => {
            return Err(invalid(
                "multichannel_output_style",
                "the combined style is not available on this server; use separate (one transcript per channel)",
            ));
        }
        Some(other) => {
            return Err(invalid(
                "multichannel_output_style",
                format!("expected separate or combined, got {other:?}"),
            ));
        }
    }
    match form.field("numbers_format") {
        None | Some("digits" | "words") => Ok(()),
        Some(other) => Err(invalid(
            "numbers_format",
            format!("expected digits or words, got {other:?}"),
        )),
    }
}

/// `file_format`: `pcm_s16le_16` is headerless 16-bit little-endian mono PCM at 16 kHz (the
/// rate returned); `other` (the default) is any container the decoders read.
fn raw_pcm_rate(form: &ReceivedForm) -> Result<Option<u32>, ApiError> {
    match form.field("file_format") {
        None | Some("other") => Ok(None),
        Some("pcm_s16le_16") => Ok(Some(16_000)),
        Some(other) => Err(invalid(
            "file_format",
            format!("expected pcm_s16le_16 or other, got {other:?}"),
        )),
    }
}

/// `timestamps_granularity` of the ElevenLabs API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Granularity {
    None,
    Word,
    Character,
}

/// The request as understood: job parameters plus what shapes the response.
#[derive(Debug)]
struct ElevenLabsRequest {
    /// Answer at once; the transcript goes to the registered webhooks.
    webhook: bool,
    parameters: JobParameters,
    granularity: Granularity,
    additional_formats: Vec<FormatRequest>,
}

/// One `additional_formats` item: the format and its layout options.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FormatRequest {
    format: AdditionalFormat,
    /// Speaker labels, and SRT/TXT line length (`max_characters_per_line`).
    options: ExportOptions,
    limits: SegmentLimits,
    /// `segmented_json` only: segment and word times (the other formats always have them
    /// or never do).
    include_timestamps: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AdditionalFormat {
    Srt,
    Txt,
    SegmentedJson,
    Html,
    Docx,
    Pdf,
}

fn parse_request(form: &ReceivedForm, state: &AppState) -> Result<ElevenLabsRequest, ApiError> {
    let model = match form.field("model_id") {
        None => return Err(invalid("model_id", "field required")),
        // ElevenLabs' own model names run the server's default model.
        Some(id) if id.starts_with("scribe") => None,
        Some(id)
            if state
                .catalog
                .available()
                .iter()
                .any(|available| available == id) =>
        {
            Some(id.to_owned())
        }
        Some(id) => {
            return Err(invalid(
                "model_id",
                format!(
                    "unknown model {id:?}; use scribe_v1, scribe_v2 or one of {}",
                    state.catalog.available().join(", ")
                ),
            ));
        }
    };
    refuse_unsupported(form)?;
    // Accepted, checked, and without effect: Whisper tags no audio events, writes few fillers
    // anyway, decodes the same at temperature 0 whatever the seed, has no speaker library,
    // detects one language per recording, and decides its number style itself. The diarizer's
    // clustering threshold is its own.
    for field in ["tag_audio_events", "no_verbatim", "use_speaker_library"] {
        boolean(form, field)?;
    }
    number::<u32>(form, "seed", 0..=2_147_483_647)?;
    number::<f64>(form, "diarization_threshold", 0.0..=1.0)?;
    let multi_channel = boolean(form, "use_multi_channel")?;
    if multi_channel && boolean(form, "diarize")? {
        return Err(invalid(
            "use_multi_channel",
            "each channel is one speaker; it cannot be combined with diarize",
        ));
    }
    let webhook = boolean(form, "webhook")?;
    if form.field("webhook_id").is_some() && !webhook {
        return Err(invalid("webhook_id", "only allowed with webhook=true"));
    }
    let granularity = match form.field("timestamps_granularity").unwrap_or("word") {
        "none" => Granularity::None,
        "word" => Granularity::Word,
        "character" => Granularity::Character,
        other => {
            return Err(invalid(
                "timestamps_granularity",
                format!("expected none, word or character, got {other:?}"),
            ));
        }
    };
    let language = form
        .field("language_code")
        .map(|raw| {
            dalston_core::language::normalize(raw)
                .map(str::to_owned)
                .ok_or_else(|| {
                    invalid(
                        "language_code",
                        format!("{raw:?} is not a language code Whisper knows"),
                    )
                })
        })
        .transpose()?;
    let num_speakers = form
        .field("num_speakers")
        .map(|raw| {
            raw.parse::<u32>()
                .map_err(|_| invalid("num_speakers", "expected a whole number"))
        })
        .transpose()?;
    let parameters = JobParameters {
        model,
        language,
        timestamps_granularity: match granularity {
            Granularity::None => TimestampsGranularity::Segment,
            Granularity::Word | Granularity::Character => TimestampsGranularity::Word,
        },
        speaker_detection: if multi_channel {
            SpeakerDetection::PerChannel
        } else if boolean(form, "diarize")? {
            SpeakerDetection::Diarize
        } else {
            SpeakerDetection::None
        },
        max_speakers: num_speakers,
        // ElevenLabs allows up to 2; Whisper's schedule stops at 1.
        temperature: number::<f32>(form, "temperature", 0.0..=2.0)?.map(|t| t.min(1.0)),
        vocabulary: upload::list_field(&form.fields, "keyterms", upload::PlainValue::OneItem)?,
        display_name: form.file_name.clone(),
        webhook_style: if webhook {
            WebhookStyle::ElevenLabs
        } else {
            WebhookStyle::Standard
        },
        webhook_id: form.field("webhook_id").map(str::to_owned),
        webhook_metadata: upload::webhook_metadata(&form.fields)?,
        ..JobParameters::default()
    };
    parameters
        .validate()
        .map_err(|error| invalid("form", error.to_string()))?;
    Ok(ElevenLabsRequest {
        webhook,
        parameters,
        granularity,
        additional_formats: additional_formats(form)?,
    })
}

fn additional_formats(form: &ReceivedForm) -> Result<Vec<FormatRequest>, ApiError> {
    let Some(raw) = form.fields.get("additional_formats") else {
        return Ok(Vec::new());
    };
    let mut formats = Vec::new();
    for value in raw {
        let parsed: Value = serde_json::from_str(value).map_err(|_| {
            invalid(
                "additional_formats",
                "expected a JSON list of {\"format\": …} objects",
            )
        })?;
        let items = match parsed {
            Value::Array(items) => items,
            single => vec![single],
        };
        for item in items {
            formats.push(format_request(&item)?);
        }
    }
    Ok(formats)
}

/// One item of `additional_formats`, with the options ElevenLabs' SDK may send on it.
fn format_request(item: &Value) -> Result<FormatRequest, ApiError> {
    let format = match item["format"].as_str() {
        Some("srt") => AdditionalFormat::Srt,
        Some("txt") => AdditionalFormat::Txt,
        Some("segmented_json") => AdditionalFormat::SegmentedJson,
        Some("html") => AdditionalFormat::Html,
        Some("docx") => AdditionalFormat::Docx,
        Some("pdf") => AdditionalFormat::Pdf,
        other => {
            return Err(invalid(
                "additional_formats",
                format!("unknown format {other:?}"),
            ));
        }
    };
    let flag = |name: &str| match &item[name] {
        Value::Null => Ok(true),
        Value::Bool(value) => Ok(*value),
        other => Err(invalid(
            "additional_formats",
            format!("{name} must be true or false, got {other}"),
        )),
    };
    let positive = |name: &str| match &item[name] {
        Value::Null => Ok(None),
        value => value
            .as_f64()
            .filter(|secs| *secs > 0.0)
            .map(Some)
            .ok_or_else(|| {
                invalid(
                    "additional_formats",
                    format!("{name} must be a positive number, got {value}"),
                )
            }),
    };
    let mut options = ExportOptions {
        include_speakers: flag("include_speakers")?,
        ..ExportOptions::default()
    };
    if let Some(chars) = positive("max_characters_per_line")? {
        options.max_line_length = chars as usize;
        options
            .validate()
            .map_err(|error| invalid("additional_formats", error.to_string()))?;
    }
    Ok(FormatRequest {
        format,
        options,
        limits: SegmentLimits {
            split_on_silence_secs: positive("segment_on_silence_longer_than_s")?,
            max_duration_secs: positive("max_segment_duration_s")?,
            max_chars: positive("max_segment_chars")?.map(|chars| chars as usize),
        },
        include_timestamps: flag("include_timestamps")?,
    })
}

/// The response's `words[]` for `granularity` (none: an empty list).
fn words(words: &[Word], granularity: Granularity, channel: Option<u16>) -> Vec<WordEntry> {
    if granularity == Granularity::None {
        return Vec::new();
    }
    let options = WordListOptions {
        timestamps: true,
        characters: granularity == Granularity::Character,
        speakers: true,
        channel,
    };
    elevenlabs_word_list(words, &options)
}

/// Text formats are sent as they are; binary ones (docx, pdf) base64-encoded, as ElevenLabs does.
enum FormatContent {
    Text(String),
    Binary(Vec<u8>),
}

fn additional_format_response(
    transcript: &Transcript,
    request: &FormatRequest,
) -> Result<Value, ApiError> {
    use dalston_core::export::{ExportError, render_docx, render_pdf};
    let transcript = &resegment(transcript, &request.limits);
    let options = request.options;
    let text = |rendered: Result<String, ExportError>| rendered.map(FormatContent::Text);
    let (name, extension, content_type, content) = match request.format {
        AdditionalFormat::Srt => (
            "srt",
            "srt",
            "application/x-subrip",
            text(render(transcript, ExportFormat::Srt, &options)),
        ),
        AdditionalFormat::Txt => (
            "txt",
            "txt",
            "text/plain",
            text(render(transcript, ExportFormat::Txt, &options)),
        ),
        AdditionalFormat::Html => (
            "html",
            "html",
            "text/html",
            Ok(FormatContent::Text(render_html(transcript, &options))),
        ),
        AdditionalFormat::Docx => (
            "docx",
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            render_docx(transcript, &options).map(FormatContent::Binary),
        ),
        AdditionalFormat::Pdf => (
            "pdf",
            "pdf",
            "application/pdf",
            render_pdf(transcript, &options).map(FormatContent::Binary),
        ),
        AdditionalFormat::SegmentedJson => (
            "segmented_json",
            "json",
            "application/json",
            text(render_segmented_json(
                transcript,
                &SegmentedJsonOptions {
                    include_speakers: options.include_speakers,
                    include_timestamps: request.include_timestamps,
                },
            )),
        ),
    };
    let (is_base64_encoded, content) = match content {
        Ok(FormatContent::Text(text)) => (false, text),
        Ok(FormatContent::Binary(bytes)) => (
            true,
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ),
        Err(error @ (ExportError::Json(_) | ExportError::Docx(_))) => {
            return Err(ApiError::internal(error));
        }
        Err(error) => return Err(ApiError::BadRequest(error.to_string())),
    };
    Ok(json!({
        "requested_format": name,
        "file_extension": extension,
        "content_type": content_type,
        "is_base64_encoded": is_base64_encoded,
        "content": content,
    }))
}

/// The response to a job: one transcript per channel (`MultichannelSpeechToTextResponseModel`)
/// for a per-channel job, else the single transcript ([`chunk_response`]).
fn transcript_response(
    job: &JobParameters,
    transcript: &Transcript,
    transcription_id: &str,
    granularity: Granularity,
    formats: &[FormatRequest],
) -> Result<Value, ApiError> {
    if job.speaker_detection != SpeakerDetection::PerChannel {
        return chunk_response(transcript, transcription_id, None, granularity, formats);
    }
    let transcripts: Vec<Value> = per_channel::transcript_channels(transcript)
        .into_iter()
        .map(|channel| {
            chunk_response(
                &per_channel::channel_transcript(transcript, channel),
                transcription_id,
                Some(channel),
                granularity,
                formats,
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(json!({
        "transcripts": transcripts,
        "transcription_id": transcription_id,
        "audio_duration_secs": transcript.duration_secs,
    }))
}

/// One transcript (`SpeechToTextChunkResponseModel`): the whole recording, or one channel of it
/// (`channel_index`, on the response and on every word).
fn chunk_response(
    transcript: &Transcript,
    transcription_id: &str,
    channel_index: Option<u16>,
    granularity: Granularity,
    formats: &[FormatRequest],
) -> Result<Value, ApiError> {
    let additional: Vec<Value> = formats
        .iter()
        .map(|format| additional_format_response(transcript, format))
        .collect::<Result<_, _>>()?;
    Ok(json!({
        "language_code": dalston_core::language::iso_639_3(&transcript.language_code).unwrap_or("und"),
        "language_probability": transcript.language_probability.unwrap_or(1.0),
        "text": transcript.text,
        "words": words(&transcript.words, granularity, channel_index),
        "channel_index": channel_index,
        "additional_formats": if additional.is_empty() { Value::Null } else { Value::Array(additional) },
        "transcription_id": transcription_id,
        "audio_duration_secs": transcript.duration_secs,
    }))
}

/// The fields that may give the audio's URL instead of a `file`: `source_url`, and the
/// deprecated `cloud_storage_url` the same way (ElevenLabs fetches both; so does this server,
/// though not from video sites' pages, which are not audio).
const URL_FIELDS: &[&str] = &["cloud_storage_url", "source_url"];

/// `POST /v1/speech-to-text`.
pub async fn convert(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<Value>, ElevenLabsError> {
    let multipart = multipart.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let mut form = upload::receive_form(&state, multipart, URL_FIELDS).await?;
    let request = parse_request(&form, &state)?;
    form.raw_pcm_rate_hz = raw_pcm_rate(&form)?;
    let uploaded = upload::prepare_job(&state, &principal, form, request.parameters).await?;
    upload::submit_job(&state, &uploaded).await?;
    if request.webhook {
        return Ok(Json(json!({
            "message": "Request accepted; the transcript will be delivered to your webhooks.",
            "request_id": uploaded.job.id,
            "transcription_id": uploaded.job.id,
        })));
    }
    let transcript = super::sync::wait_for_transcript(&state, &uploaded.job.id).await?;
    Ok(Json(transcript_response(
        &uploaded.job.parameters,
        &transcript,
        uploaded.job.id.as_str(),
        request.granularity,
        &request.additional_formats,
    )?))
}

/// The body of an ElevenLabs webhook delivery for a finished job: the transcript in the
/// `convert` response shape, or the failure reason.
pub(crate) fn webhook_body(
    job: &JobRecord,
    transcript: Option<&Transcript>,
    timestamp_secs: i64,
) -> Result<String, ApiError> {
    let mut data = json!({
        "request_id": job.id,
        "transcription_id": job.id,
        "webhook_metadata": job.parameters.webhook_metadata,
    });
    match transcript {
        Some(transcript) => {
            data["transcription"] = transcript_response(
                &job.parameters,
                transcript,
                job.id.as_str(),
                granularity_of(job),
                &[],
            )?
        }
        None => {
            data["error"] = Value::from(
                job.error
                    .clone()
                    .unwrap_or_else(|| format!("the job {}", job.status)),
            )
        }
    }
    let body = json!({ "type": dalston_core::webhook::ELEVENLABS_EVENT, "event_timestamp": timestamp_secs, "data": data });
    Ok(body.to_string())
}

fn granularity_of(job: &JobRecord) -> Granularity {
    match job.parameters.timestamps_granularity {
        TimestampsGranularity::Word => Granularity::Word,
        TimestampsGranularity::Segment | TimestampsGranularity::None => Granularity::None,
    }
}

/// `GET /v1/speech-to-text/transcripts/{transcription_id}`.
pub async fn get_transcript(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(transcription_id): Path<String>,
) -> Result<Json<Value>, ElevenLabsError> {
    let job = load_job(&state, &principal, &transcription_id).await?;
    let transcript = super::jobs::load_transcript(&state, &job)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "transcript {transcription_id} is not available (the job is {})",
                job.status
            ))
        })?;
    let granularity = granularity_of(&job);
    Ok(Json(transcript_response(
        &job.parameters,
        &transcript,
        job.id.as_str(),
        granularity,
        &[],
    )?))
}

/// `DELETE /v1/speech-to-text/transcripts/{transcription_id}`.
pub async fn delete_transcript(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(transcription_id): Path<String>,
) -> Result<Json<Value>, ElevenLabsError> {
    let job = load_job(&state, &principal, &transcription_id).await?;
    ensure_finished(&job, "wait for it to finish before deleting")?;
    state
        .orchestrator
        .delete_job(&job)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(
        json!({ "message": "deleted", "transcription_id": job.id }),
    ))
}
