//! Health, readiness, status, models, engines and the OpenAPI document.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use dalston_core::Stage;
use dalston_store::EngineRecord;
use dalston_store::clock::now_ms;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "healthy" }))
}

/// Engines whose heartbeat is recent, in this process or anywhere in the deployment.
async fn live_engines(state: &AppState) -> Result<Vec<EngineRecord>, dalston_store::StoreError> {
    let since = now_ms().saturating_sub(
        i64::try_from(crate::registry::LIVE_WITHIN.as_millis()).unwrap_or(i64::MAX),
    );
    state.registry.live_engines(since).await
}

/// An engine as `/v1/engines` shows it.
fn engine_view(engine: &EngineRecord) -> serde_json::Value {
    serde_json::json!({
        "id": engine.id,
        "stage": engine.stage,
        "models": engine.models,
        "capacity": engine.capacity,
        "load": engine.active_tasks,
        "started_at_ms": engine.started_at_ms,
        "last_heartbeat_at_ms": engine.last_heartbeat_at_ms,
    })
}

/// Ready when the database and storage answer and every required stage has a live engine.
pub async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, Json<serde_json::Value>) {
    let database = state.store.ping().await.is_ok();
    let storage = state.blobs.ping().await.is_ok();
    let queue = state.queue.depth().await.is_ok();
    let live = live_engines(&state).await.unwrap_or_default();
    let missing: Vec<&str> = [Stage::Prepare, Stage::Transcribe, Stage::Merge]
        .into_iter()
        .filter(|stage| !live.iter().any(|engine| engine.stage == *stage))
        .map(Stage::as_str)
        .collect();
    let ready = database && storage && queue && missing.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": { "database": database, "storage": storage, "queue": queue, "engines_missing": missing },
    });
    (status, Json(body))
}

pub async fn status(State(state): State<Arc<AppState>>) -> ApiResult<Json<serde_json::Value>> {
    let depth = state.queue.depth().await.map_err(ApiError::internal)?;
    let jobs = state.store.count_jobs().await?;
    let engines: Vec<serde_json::Value> = live_engines(&state)
        .await?
        .iter()
        .map(engine_view)
        .collect();
    let queue: serde_json::Map<String, serde_json::Value> = depth
        .into_iter()
        .map(|(stage, n)| (stage.to_string(), serde_json::Value::from(n)))
        .collect();
    Ok(Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started_at.elapsed().as_secs(),
        "queue_depth": queue,
        "jobs": jobs.by_status,
        "engines": engines,
    })))
}

pub async fn models(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let default = state.catalog.default_model().to_owned();
    let data: Vec<_> = state
        .catalog
        .available()
        .into_iter()
        .map(|id| {
            // CTranslate2 directories of English-only Whisper models are named `*.en`.
            let english_only = id.ends_with(".en");
            let languages: Vec<&str> = if english_only {
                vec!["en"]
            } else {
                dalston_core::language::whisper_codes().collect()
            };
            serde_json::json!({
                "id": id,
                "object": "model",
                "created": 0,
                "owned_by": "dalston",
                "stage": "transcribe",
                "engine_id": "whisper-candle",
                "status": "ready",
                "default": id == default,
                "languages": languages,
                "capabilities": {
                    "translate": !english_only,
                    "word_timestamps": true,
                    "language_detection": !english_only,
                    "beam_search": true,
                },
            })
        })
        .collect();
    // The name OpenAI clients ask for; it runs the default model.
    let mut data = data;
    data.push(serde_json::json!({
        "id": "whisper-1",
        "object": "model",
        "created": 0,
        "owned_by": "dalston",
        "stage": "transcribe",
        "alias_of": default,
    }));
    Json(serde_json::json!({ "object": "list", "data": data }))
}

/// The live engines with their stage, models, capacity, load (tasks running) and last
/// heartbeat.
pub async fn engines(State(state): State<Arc<AppState>>) -> ApiResult<Json<serde_json::Value>> {
    let engines: Vec<serde_json::Value> = live_engines(&state)
        .await?
        .iter()
        .map(engine_view)
        .collect();
    Ok(Json(serde_json::json!({ "engines": engines })))
}

pub async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}
