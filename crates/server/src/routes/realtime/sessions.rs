//! `GET /v1/realtime/status`, `GET /v1/realtime/sessions[/{id}]` and
//! `POST /v1/single-use-token/{token_type}`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use base64::Engine as _;
use dalston_store::RealtimeSessionRecord;
use dalston_store::clock::now_ms;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::realtime::{REALTIME_TOKEN_PURPOSE, TOKEN_LIFETIME, TOKEN_PREFIX, hash_token};
use crate::state::AppState;

/// Sessions running on this gateway against its limits.
pub async fn status(State(state): State<Arc<AppState>>) -> Json<Value> {
    let capacity = state.realtime.capacity.snapshot();
    Json(json!({
        "status": if capacity.active_sessions < capacity.max_sessions { "available" } else { "at_capacity" },
        "active_sessions": capacity.active_sessions,
        "max_sessions": capacity.max_sessions,
        "max_sessions_per_key": capacity.max_sessions_per_key,
        "available_sessions": capacity.max_sessions.saturating_sub(capacity.active_sessions),
        "protocols": ["native", "elevenlabs"],
    }))
}

fn session_view(session: &RealtimeSessionRecord) -> Value {
    json!({
        "id": session.id,
        "status": session.status,
        "protocol": session.protocol,
        "model": session.model,
        "language": session.language,
        "encoding": session.encoding,
        "sample_rate": session.sample_rate_hz,
        "audio_duration_secs": session.audio_secs,
        "speech_duration_secs": session.speech_secs,
        "utterances": session.utterances,
        "words": session.words,
        "end_reason": session.end_reason,
        "error": session.error,
        "enhancement_job_id": session.enhancement_job_id,
        "started_at_ms": session.started_at_ms,
        "ended_at_ms": session.ended_at_ms,
    })
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    50
}

/// Newest first; an admin sees every key's sessions, anyone else their own.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Value>> {
    if !(1..=500).contains(&params.limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 500".into(),
        ));
    }
    let owner = (!principal.is_admin())
        .then_some(principal.key_id.as_ref())
        .flatten();
    let sessions = state
        .realtime_sessions
        .list_realtime_sessions(owner, params.limit)
        .await?;
    Ok(Json(json!({
        "sessions": sessions.iter().map(session_view).collect::<Vec<_>>(),
    })))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(session_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let not_found = || ApiError::NotFound(format!("realtime session {session_id} not found"));
    let session = state
        .realtime_sessions
        .get_realtime_session(&session_id)
        .await?
        .ok_or_else(not_found)?;
    if !principal.is_admin() && session.owner_key_id != principal.key_id {
        return Err(not_found());
    }
    Ok(Json(session_view(&session)))
}

/// ElevenLabs' `POST /v1/single-use-token/realtime_scribe`: a token that opens one realtime
/// session within 15 minutes, for clients that must not hold the API key.
pub async fn single_use_token(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(token_type): Path<String>,
) -> ApiResult<Json<Value>> {
    if token_type != REALTIME_TOKEN_PURPOSE {
        return Err(ApiError::Validation {
            field: "token_type".into(),
            message: format!("token_type must be {REALTIME_TOKEN_PURPOSE}"),
        });
    }
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let expires_at_ms = now_ms() + i64::try_from(TOKEN_LIFETIME.as_millis()).unwrap_or(i64::MAX);
    state
        .realtime_sessions
        .insert_single_use_token(
            &hash_token(&token),
            principal.key_id.as_ref(),
            REALTIME_TOKEN_PURPOSE,
            expires_at_ms,
        )
        .await?;
    Ok(Json(json!({ "token": token })))
}
