//! Receiving a job: the multipart form streamed to disk, validated as audio, then stored.
//!
//! The file is never held in memory: chunks go to a scratch file while the size limit is
//! counted, the audio is checked (so a non-audio, empty, truncated or over-long upload
//! is answered 400 at once), and only then is it copied into blob storage and the job row
//! created. A failure at any point leaves no job behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::extract::Multipart;
use axum::extract::multipart::Field;
use dalston_audio::{AudioError, DecodeOptions, FfmpegPolicy};
use dalston_core::dag::{DagPlan, build_dag};
use dalston_core::params::{SpeakerDetection, TimestampsGranularity, VadParameters};
use dalston_core::{JobId, JobParameters, JobStatus, KeyId};
use dalston_store::clock::now_ms;
use dalston_store::{AudioMetadata, BlobKey, JobRecord};
use tokio::io::AsyncWriteExt;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A validated job ready to be stored.
#[derive(Debug)]
pub struct UploadedJob {
    pub job: JobRecord,
    pub plan: DagPlan,
}

/// A file in the server's scratch directory, removed however the request (or session) that
/// made it ends.
pub struct ScratchFile(PathBuf);

impl ScratchFile {
    /// A new, unique path in the scratch directory (created if missing), named `{prefix}-{id}`.
    ///
    /// # Errors
    /// The scratch directory cannot be created.
    pub async fn create(state: &AppState, prefix: &str) -> std::io::Result<Self> {
        tokio::fs::create_dir_all(&state.scratch_dir).await?;
        Ok(Self(
            state
                .scratch_dir
                .join(format!("{prefix}-{}", JobId::generate())),
        ))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    let status = error.status();
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(error.body_text())
    } else {
        ApiError::BadRequest(format!("malformed multipart upload: {}", error.body_text()))
    }
}

async fn read_text_field(field: Field<'_>, name: &str, limit: usize) -> ApiResult<String> {
    let bytes = read_bounded(field, limit)
        .await
        .map_err(|error| match error {
            ApiError::PayloadTooLarge(_) => {
                ApiError::BadRequest(format!("form field `{name}` is longer than {limit} bytes"))
            }
            other => other,
        })?;
    String::from_utf8(bytes)
        .map_err(|_| ApiError::BadRequest(format!("form field `{name}` is not UTF-8 text")))
}

async fn read_bounded(mut field: Field<'_>, limit: usize) -> ApiResult<Vec<u8>> {
    let mut data = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if data.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(String::new()));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// Streams the `file` field to `path`, refusing more than `limit` bytes.
async fn save_file_field(
    mut field: Field<'_>,
    path: &std::path::Path,
    limit: u64,
) -> ApiResult<u64> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(ApiError::internal)?;
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "the upload is larger than the limit of {limit} bytes"
            )));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(size)
}

/// A multipart form as received: its text fields and the uploaded file, saved to scratch space,
/// or the URL to fetch the audio from into that same scratch file.
pub struct ReceivedForm {
    pub fields: BTreeMap<String, Vec<String>>,
    file: ScratchFile,
    /// The upload's size; 0 until a URL's audio is fetched.
    pub size_bytes: u64,
    pub file_name: Option<String>,
    /// The audio is at this URL, fetched by [`prepare_job`] once the caller has checked the
    /// other fields (no download for a request refused anyway).
    audio_url: Option<String>,
    /// The audio is headerless 16-bit little-endian mono PCM at this rate (ElevenLabs'
    /// `file_format=pcm_s16le_16`), given a WAV header by [`prepare_job`].
    pub raw_pcm_rate_hz: Option<u32>,
}

impl std::fmt::Debug for ReceivedForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedForm")
            .field("size_bytes", &self.size_bytes)
            .field("from_url", &self.audio_url.is_some())
            .finish_non_exhaustive()
    }
}

impl ReceivedForm {
    /// The last non-empty value of a field.
    pub fn field(&self, name: &str) -> Option<&str> {
        single(&self.fields, name)
    }
}

/// Reads the whole form: text fields into memory (bounded), the `file` field to a scratch file.
/// `url_fields` name the fields that may give the audio's URL instead (the API's own names);
/// exactly one of `file` and those must be sent.
///
/// # Errors
/// 400 for a malformed form or no audio, 422 for both a file and a URL (or two URLs), 413 over
/// the size limit.
pub async fn receive_form(
    state: &AppState,
    mut multipart: Multipart,
    url_fields: &[&str],
) -> ApiResult<ReceivedForm> {
    let file = ScratchFile::create(state, "upload")
        .await
        .map_err(ApiError::internal)?;
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut upload: Option<(u64, Option<String>)> = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field
            .name()
            .unwrap_or_default()
            .trim_end_matches("[]")
            .to_owned();
        if name == "file" {
            if upload.is_some() {
                return Err(ApiError::BadRequest("send exactly one `file` field".into()));
            }
            let file_name = field.file_name().map(str::to_owned);
            let size = save_file_field(field, &file.0, state.limits.max_upload_bytes).await?;
            upload = Some((size, file_name));
        } else {
            let value = read_text_field(field, &name, state.limits.max_form_field_bytes).await?;
            fields.entry(name).or_default().push(value);
        }
    }
    let urls: Vec<(&str, &str)> = url_fields
        .iter()
        .filter_map(|name| single(&fields, name).map(|url| (*name, url)))
        .collect();
    let sources = || {
        std::iter::once("file")
            .chain(url_fields.iter().copied())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let audio_url = match (&upload, urls.as_slice()) {
        (Some(_), []) => None,
        (None, [(_, url)]) => Some((*url).to_owned()),
        (None, []) => {
            return Err(ApiError::BadRequest(format!(
                "the form has no audio: send it in the `file` field{}",
                if url_fields.is_empty() {
                    String::new()
                } else {
                    format!(" or give its URL in {}", url_fields.join(" or "))
                }
            )));
        }
        (_, [.., (field, _)]) => {
            return Err(ApiError::Validation {
                field: (*field).to_owned(),
                message: format!("send exactly one of {}", sources()),
            });
        }
    };
    let (size_bytes, file_name) = match (upload, &audio_url) {
        (Some(upload), _) => upload,
        (None, url) => (0, url.as_deref().and_then(url_file_name)),
    };
    Ok(ReceivedForm {
        fields,
        file,
        size_bytes,
        file_name,
        audio_url,
        raw_pcm_rate_hz: None,
    })
}

/// The last path segment of a URL, as the name of a job made from it (`talk.mp3` for
/// `https://host/files/talk.mp3?signature=…`).
fn url_file_name(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .path_segments()?
        .rfind(|segment| !segment.is_empty())
        .map(str::to_owned)
}

/// Fetches a received form's audio if it was given by URL, validates it, stores it, and returns
/// the job to insert. `parameters` come from the caller, which knows which API's field names
/// the form uses.
///
/// # Errors
/// 400 for unusable audio or a URL that could not be fetched, 413 for a URL's audio over the
/// upload limit; storage failures.
pub async fn prepare_job(
    state: &AppState,
    principal: &Principal,
    mut form: ReceivedForm,
    parameters: JobParameters,
) -> ApiResult<UploadedJob> {
    if let Some(url) = &form.audio_url {
        form.size_bytes = state
            .audio_urls
            .download(url, form.file.path(), state.limits.max_upload_bytes)
            .await?;
    }
    if let Some(rate) = form.raw_pcm_rate_hz {
        form.file = wav_from_raw_pcm(state, &form.file, form.size_bytes, rate).await?;
    }
    let audio = AudioFile {
        path: form.file.path(),
        name: form.file_name.clone(),
        size_bytes: form.size_bytes,
    };
    prepare_job_from_file(state, principal.key_id.clone(), audio, parameters).await
}

/// The raw 16-bit PCM in `raw` as a new WAV scratch file: the header, then the bytes as they are
/// (streamed, never in memory).
async fn wav_from_raw_pcm(
    state: &AppState,
    raw: &ScratchFile,
    size_bytes: u64,
    rate_hz: u32,
) -> ApiResult<ScratchFile> {
    if !size_bytes.is_multiple_of(2) {
        return Err(ApiError::InvalidAudio {
            reason: "corrupt_audio",
            message: format!("raw 16-bit PCM has an even number of bytes; this has {size_bytes}"),
        });
    }
    let samples = usize::try_from(size_bytes / 2)
        .ok()
        .filter(|samples| *samples <= (u32::MAX as usize - 44) / 2)
        .ok_or_else(|| {
            ApiError::PayloadTooLarge("raw PCM over 4 GiB does not fit a WAV file".into())
        })?;
    let wav = ScratchFile::create(state, "pcm")
        .await
        .map_err(ApiError::internal)?;
    let mut output = tokio::fs::File::create(wav.path())
        .await
        .map_err(ApiError::internal)?;
    output
        .write_all(&dalston_audio::wav_pcm16_header(samples, rate_hz))
        .await
        .map_err(ApiError::internal)?;
    let mut input = tokio::fs::File::open(raw.path())
        .await
        .map_err(ApiError::internal)?;
    tokio::io::copy(&mut input, &mut output)
        .await
        .map_err(ApiError::internal)?;
    output.flush().await.map_err(ApiError::internal)?;
    Ok(wav)
}

/// An audio file on this machine to make a job from.
#[derive(Debug)]
pub struct AudioFile<'a> {
    pub path: &'a Path,
    /// The name shown for the job when the parameters give none.
    pub name: Option<String>,
    pub size_bytes: u64,
}

/// [`prepare_job`] for audio that did not come in a form (a realtime session's recording).
///
/// # Errors
/// 400 for unusable audio; storage failures.
pub async fn prepare_job_from_file(
    state: &AppState,
    owner_key_id: Option<KeyId>,
    audio_file: AudioFile<'_>,
    parameters: JobParameters,
) -> ApiResult<UploadedJob> {
    let job_id = JobId::generate();
    let audio = validate_audio(state, audio_file.path.to_owned()).await?;
    if parameters.speaker_detection == SpeakerDetection::PerChannel
        && audio.channels.is_none_or(|channels| channels < 2)
    {
        return Err(ApiError::BadRequest(
            "speaker_detection=per_channel needs audio with two or more channels; this file has one"
                .to_owned(),
        ));
    }
    let key = BlobKey::original_audio(&job_id);
    let file = tokio::fs::File::open(audio_file.path)
        .await
        .map_err(ApiError::internal)?;
    let stream = futures::StreamExt::map(tokio_util::io::ReaderStream::new(file), |chunk| {
        chunk.map_err(|error| Box::new(error) as dalston_store::blob::StreamError)
    });
    state
        .blobs
        .put_stream(&key, stream)
        .await
        .map_err(|error| match error {
            Ok(stream_error) => ApiError::Internal(anyhow::anyhow!(stream_error)),
            Err(store_error) => ApiError::from(store_error),
        })?;

    let plan = build_dag(&parameters, &state.available_engines());
    let display_name = parameters
        .display_name
        .clone()
        .or(audio_file.name)
        .unwrap_or_else(|| job_id.to_string());
    let job = JobRecord {
        id: job_id,
        status: JobStatus::Pending,
        display_name,
        parameters,
        owner_key_id,
        original_blob_key: Some(key),
        original_size_bytes: i64::try_from(audio_file.size_bytes).ok(),
        audio,
        transcript_blob_key: None,
        warnings: plan.warnings.clone(),
        error: None,
        created_at_ms: now_ms(),
        started_at_ms: None,
        completed_at_ms: None,
        purge_after_ms: None,
    };
    Ok(UploadedJob { job, plan })
}

/// Inserts a prepared job and wakes the orchestrator.
///
/// # Errors
/// Store failures.
pub async fn submit_job(state: &AppState, uploaded: &UploadedJob) -> ApiResult<()> {
    state
        .store
        .create_job(&uploaded.job, &uploaded.plan.tasks)
        .await?;
    // The orchestrator enqueues the first task; a lost wake-up is caught by its sweep.
    let _ = state.job_events.send(uploaded.job.id.clone());
    tracing::info!(job_id = %uploaded.job.id, "job created");
    Ok(())
}

/// Decodes the upload once, keeping no samples (a streaming probe: memory stays at one decoded
/// block whatever the length), to refuse unusable audio with a clear 400 before a job exists.
/// Silence and noise are accepted: they are audio, and their transcript is empty.
async fn validate_audio(state: &AppState, path: PathBuf) -> ApiResult<AudioMetadata> {
    let options = DecodeOptions {
        max_duration_secs: Some(state.limits.max_audio_duration_secs),
        ffmpeg: FfmpegPolicy::Auto,
        channel: None,
    };
    let probed = tokio::task::spawn_blocking(move || dalston_audio::probe_file(&path, &options))
        .await
        .map_err(ApiError::internal)?;
    let info = match probed {
        Ok(decoded) => decoded,
        Err(AudioError::Io(error)) => return Err(ApiError::internal(error)),
        Err(error) => {
            return Err(ApiError::InvalidAudio {
                reason: error.code(),
                message: error.to_string(),
            });
        }
    };
    Ok(AudioMetadata {
        duration_secs: Some(info.duration_secs),
        channels: Some(info.channels),
        sample_rate_hz: Some(info.sample_rate_hz),
        format: Some(info.format),
    })
}

pub(crate) fn single<'a>(fields: &'a BTreeMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    fields
        .get(name)
        .and_then(|values| values.last())
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
}

fn parse_enum<T: serde::de::DeserializeOwned>(
    value: &str,
    field: &str,
    accepted: &str,
) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|_| {
        ApiError::BadRequest(format!("{field} must be one of {accepted}, got {value:?}"))
    })
}

fn parse_number<T: std::str::FromStr>(value: &str, field: &str) -> ApiResult<T> {
    value
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{field} must be a whole number, got {value:?}")))
}

/// `true`/`false` as form fields spell them (also `True`/`False`, `1`/`0`).
fn parse_bool(value: &str, field: &str) -> ApiResult<bool> {
    match value {
        "true" | "True" | "1" => Ok(true),
        "false" | "False" | "0" => Ok(false),
        other => Err(ApiError::BadRequest(format!(
            "{field} must be true or false, got {other:?}"
        ))),
    }
}

/// What a list field sent once as a plain (non-JSON) value holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlainValue {
    /// Items separated by commas (the native `vocabulary=a, b`).
    CommaSeparated,
    /// One item, commas included: ElevenLabs' SDK sends each of its `keyterms` as a field of
    /// its own, and a term such as "Portland, Oregon" must stay whole.
    OneItem,
}

/// A list field sent as a JSON array string, as repeated fields (`name` or `name[]`), or once
/// as a plain value, read as `plain` says.
pub(crate) fn list_field(
    fields: &BTreeMap<String, Vec<String>>,
    name: &str,
    plain: PlainValue,
) -> ApiResult<Vec<String>> {
    let Some(values) = fields.get(name) else {
        return Ok(Vec::new());
    };
    let mut items = Vec::new();
    for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if value.starts_with('[') {
            let parsed: Vec<String> = serde_json::from_str(value).map_err(|_| {
                ApiError::BadRequest(format!("{name} must be a JSON array of strings"))
            })?;
            items.extend(parsed);
        } else if values.len() == 1 && plain == PlainValue::CommaSeparated {
            items.extend(
                value
                    .split(',')
                    .map(|item| item.trim().to_owned())
                    .filter(|item| !item.is_empty()),
            );
        } else {
            items.push(value.to_owned());
        }
    }
    Ok(items)
}

/// The native API's form fields as job parameters.
///
/// # Errors
/// 400 naming the first bad field.
pub fn native_parameters(form: &ReceivedForm, state: &AppState) -> ApiResult<JobParameters> {
    let fields = &form.fields;
    let file_name = form.file_name.as_deref();
    let model = single(fields, "model")
        .filter(|model| *model != "auto")
        .map(str::to_owned);
    if let Some(model) = &model {
        let available = state.catalog.available();
        if !available.contains(model) {
            return Err(ApiError::BadRequest(format!(
                "model {model:?} is not installed; available: auto, {}",
                available.join(", ")
            )));
        }
    }
    let language = single(fields, "language")
        .filter(|language| *language != "auto")
        .map(str::to_ascii_lowercase);
    let timestamps_granularity = single(fields, "timestamps_granularity")
        .map(|value| {
            parse_enum::<TimestampsGranularity>(
                value,
                "timestamps_granularity",
                "none, segment, word",
            )
        })
        .transpose()?
        .unwrap_or_default();
    let speaker_detection = single(fields, "speaker_detection")
        .map(|value| {
            parse_enum::<SpeakerDetection>(value, "speaker_detection", "none, diarize, per_channel")
        })
        .transpose()?
        .unwrap_or_default();
    let number = |name: &str| {
        single(fields, name)
            .map(|value| parse_number::<u32>(value, name))
            .transpose()
    };
    let parameters = JobParameters {
        model,
        language,
        task: Default::default(),
        timestamps_granularity,
        speaker_detection,
        num_speakers: number("num_speakers")?,
        min_speakers: number("min_speakers")?,
        max_speakers: number("max_speakers")?,
        vocabulary: list_field(fields, "vocabulary", PlainValue::CommaSeparated)?,
        prompt: single(fields, "prompt").map(str::to_owned),
        retention_days: single(fields, "retention")
            .map(|value| parse_number::<i32>(value, "retention"))
            .transpose()?,
        display_name: single(fields, "name")
            .or_else(|| single(fields, "display_name"))
            .or(file_name)
            .map(|name| name.chars().take(255).collect()),
        webhook_url: single(fields, "webhook_url").map(str::to_owned),
        webhook_metadata: webhook_metadata(fields)?,
        vad: VadParameters {
            filter: single(fields, "vad_filter")
                .map(|value| parse_bool(value, "vad_filter"))
                .transpose()?,
            threshold: single(fields, "vad_threshold")
                .map(|value| {
                    value.parse::<f32>().map_err(|_| {
                        ApiError::BadRequest(format!(
                            "vad_threshold must be a number, got {value:?}"
                        ))
                    })
                })
                .transpose()?,
            min_speech_duration_ms: number("min_speech_duration_ms")?,
            min_silence_duration_ms: number("min_silence_duration_ms")?,
            speech_pad_ms: number("speech_pad_ms")?,
        },
        ..JobParameters::default()
    };
    parameters
        .validate()
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    Ok(parameters)
}

/// `webhook_metadata`: a JSON value (as the SDKs send it) echoed in the webhook, at most 16 KiB.
pub(crate) fn webhook_metadata(
    fields: &BTreeMap<String, Vec<String>>,
) -> ApiResult<Option<serde_json::Value>> {
    let Some(raw) = single(fields, "webhook_metadata") else {
        return Ok(None);
    };
    if raw.len() > 16 * 1024 {
        return Err(ApiError::BadRequest(
            "webhook_metadata must be at most 16 KiB".into(),
        ));
    }
    // The ElevenLabs SDK sends `null` when the caller gave none.
    match serde_json::from_str(raw) {
        Ok(serde_json::Value::Null) => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(_) => Ok(Some(serde_json::Value::String(raw.to_owned()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in pairs {
            fields
                .entry((*name).to_owned())
                .or_default()
                .push((*value).to_owned());
        }
        fields
    }

    #[test]
    fn list_fields_accept_json_repeated_and_comma_forms() {
        let commas = PlainValue::CommaSeparated;
        assert_eq!(
            list_field(&form(&[("v", r#"["a","b"]"#)]), "v", commas).unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(
            list_field(&form(&[("v", "a"), ("v", "b, c")]), "v", commas).unwrap(),
            vec!["a", "b, c"]
        );
        assert_eq!(
            list_field(&form(&[("v", "a, b")]), "v", commas).unwrap(),
            vec!["a", "b"]
        );
        assert!(list_field(&form(&[("v", "[1")]), "v", commas).is_err());
    }

    #[test]
    fn a_single_item_field_keeps_its_commas() {
        let one = PlainValue::OneItem;
        assert_eq!(
            list_field(&form(&[("k", "Portland, Oregon")]), "k", one).unwrap(),
            vec!["Portland, Oregon"]
        );
        assert_eq!(
            list_field(&form(&[("k", r#"["a, b","c"]"#)]), "k", one).unwrap(),
            vec!["a, b", "c"]
        );
    }

    #[test]
    fn booleans_are_true_or_false_and_nothing_else() {
        assert!(parse_bool("true", "f").unwrap());
        assert!(parse_bool("1", "f").unwrap());
        assert!(!parse_bool("False", "f").unwrap());
        assert!(parse_bool("no", "f").is_err());
    }
}
