//! `/v1/audio/transcriptions`: the native batch API.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dalston_core::export::{ExportFormat, ExportOptions, render};
use dalston_core::{JobId, JobStatus, Transcript};
use dalston_store::{JobFilter, JobRecord};
use serde::Deserialize;

use super::views::{JobSummary, JobView, StageView, rfc3339};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::upload;

/// Loads a job the caller may see: admins see every job, other keys only their own. A job
/// that exists but belongs to someone else is reported as missing, not forbidden, so ids cannot
/// be probed.
pub async fn load_job(
    state: &AppState,
    principal: &Principal,
    raw_id: &str,
) -> ApiResult<JobRecord> {
    let not_found = || ApiError::NotFound(format!("job {raw_id} not found"));
    let id = JobId::parse(raw_id).map_err(|_| not_found())?;
    let job = state.store.get_job(&id).await?.ok_or_else(not_found)?;
    let visible =
        principal.is_admin() || principal.key_id.is_none() || job.owner_key_id == principal.key_id;
    if visible { Ok(job) } else { Err(not_found()) }
}

/// 409 unless the job has finished; `why` completes "job X is running; …".
pub fn ensure_finished(job: &JobRecord, why: &str) -> ApiResult<()> {
    if job.status.is_terminal() {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!(
            "job {} is {}; {why}",
            job.id, job.status
        )))
    }
}

/// The stored transcript of a completed job; `None` for any other status.
pub async fn load_transcript(state: &AppState, job: &JobRecord) -> ApiResult<Option<Transcript>> {
    let Some(key) = job
        .transcript_blob_key
        .as_deref()
        .filter(|_| job.status == JobStatus::Completed)
    else {
        return Ok(None);
    };
    let bytes = state.blobs.get_bytes(key).await?;
    let transcript = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
    Ok(Some(transcript))
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    let multipart = multipart.map_err(|rejection| {
        ApiError::BadRequest(format!(
            "expected a multipart/form-data upload with a `file` field: {rejection}"
        ))
    })?;
    let active = state
        .store
        .count_active_jobs(principal.key_id.as_ref())
        .await?;
    if active >= u64::from(state.limits.max_active_jobs_per_key) {
        return Err(ApiError::RateLimited(format!(
            "this key already has {active} unfinished jobs (limit {}); wait for some to finish",
            state.limits.max_active_jobs_per_key
        )));
    }
    let form = upload::receive_form(&state, multipart, &["audio_url"]).await?;
    if let Some(model) = form
        .field("model")
        .filter(|model| super::openai::is_openai_model(model))
    {
        let model = model.to_owned();
        return super::openai::transcribe(&state, &principal, form, &model).await;
    }
    let parameters = upload::native_parameters(&form, &state)?;
    if let Some(url) = &parameters.webhook_url {
        crate::targets::check(url, state.allow_private_targets).await?;
    }
    let uploaded = upload::prepare_job(&state, &principal, form, parameters).await?;
    upload::submit_job(&state, &uploaded).await?;
    let job = uploaded.job;
    let body = serde_json::json!({
        "id": job.id,
        "status": job.status,
        "display_name": job.display_name,
        "created_at": rfc3339(job.created_at_ms),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    status: Option<String>,
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 100".into(),
        ));
    }
    let before = query
        .cursor
        .as_deref()
        .map(JobId::parse)
        .transpose()
        .map_err(|_| {
            ApiError::BadRequest("cursor is not valid; pass the `cursor` of a previous page".into())
        })?;
    let status = query
        .status
        .as_deref()
        .map(str::parse::<JobStatus>)
        .transpose()
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let owner_key_id = if principal.is_admin() {
        None
    } else {
        principal.key_id.clone()
    };
    let filter = JobFilter {
        status,
        owner_key_id,
        before,
        limit: limit + 1,
    };
    let mut jobs = state.store.list_jobs(&filter).await?;
    let has_more = jobs.len() > limit as usize;
    jobs.truncate(limit as usize);
    let cursor = if has_more {
        jobs.last().map(|job| job.id.to_string())
    } else {
        None
    };
    let summaries: Vec<JobSummary> = jobs.iter().map(JobSummary::new).collect();
    Ok(Json(
        serde_json::json!({ "jobs": summaries, "cursor": cursor, "has_more": has_more }),
    ))
}

pub async fn get_one(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(job_id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let job = load_job(&state, &principal, &job_id).await?;
    let tasks = state.store.tasks_for_job(&job.id).await?;
    let transcript = load_transcript(&state, &job).await?;
    Ok(Json(JobView::new(&job, &tasks, transcript)))
}

pub async fn cancel(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(job_id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let job = load_job(&state, &principal, &job_id).await?;
    let Some(status) = state.orchestrator.cancel_job(&job).await? else {
        return Err(ApiError::Conflict(format!(
            "job {} is already {} and cannot be cancelled",
            job.id, job.status
        )));
    };
    let message = match status {
        JobStatus::Cancelling => "cancellation requested; the running stage stops shortly",
        _ => "job cancelled",
    };
    Ok(Json(
        serde_json::json!({ "id": job.id, "status": status, "message": message }),
    ))
}

pub async fn delete_one(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(job_id): Path<String>,
) -> ApiResult<StatusCode> {
    let job = load_job(&state, &principal, &job_id).await?;
    ensure_finished(&job, "cancel it or wait for it to finish before deleting")?;
    state.orchestrator.delete_job(&job).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn tasks(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(job_id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let job = load_job(&state, &principal, &job_id).await?;
    let tasks = state.store.tasks_for_job(&job.id).await?;
    let views: Vec<StageView> = tasks.iter().map(StageView::new).collect();
    Ok(Json(
        serde_json::json!({ "job_id": job.id, "tasks": views }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    include_speakers: Option<bool>,
    max_line_length: Option<usize>,
    max_lines: Option<usize>,
}

pub async fn export(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path((job_id, format)): Path<(String, String)>,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let format: ExportFormat =
        format
            .parse()
            .map_err(|error: dalston_core::export::UnknownExportFormat| {
                ApiError::BadRequest(error.to_string())
            })?;
    let job = load_job(&state, &principal, &job_id).await?;
    let Some(transcript) = load_transcript(&state, &job).await? else {
        return Err(ApiError::BadRequest(format!(
            "job {} is {}; exports exist once it has completed",
            job.id, job.status
        )));
    };
    let defaults = ExportOptions::default();
    let options = ExportOptions {
        include_speakers: query.include_speakers.unwrap_or(defaults.include_speakers),
        max_line_length: query.max_line_length.unwrap_or(defaults.max_line_length),
        max_lines: query.max_lines.unwrap_or(defaults.max_lines),
    };
    let body = render(&transcript, format, &options).map_err(|error| match error {
        error @ (dalston_core::export::ExportError::Json(_)
        | dalston_core::export::ExportError::Docx(_)) => ApiError::internal(error),
        other => ApiError::BadRequest(other.to_string()),
    })?;
    let disposition = format!("attachment; filename=\"{}.{}\"", job.id, format.extension());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

pub async fn audio(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(job_id): Path<String>,
) -> ApiResult<Response> {
    let job = load_job(&state, &principal, &job_id).await?;
    let Some(key) = job.original_blob_key.as_deref() else {
        return Err(ApiError::NotFound(format!(
            "job {} has no stored audio",
            job.id
        )));
    };
    let stream = state.blobs.get_stream(key).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}

pub async fn delete_audio(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(job_id): Path<String>,
) -> ApiResult<StatusCode> {
    let job = load_job(&state, &principal, &job_id).await?;
    ensure_finished(&job, "its audio is still needed")?;
    if let Some(key) = job.original_blob_key.as_deref() {
        state.blobs.delete(key).await?;
        state.store.clear_original_audio(&job.id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
