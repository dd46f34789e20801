//! `/v1/console/dashboard`: what an operator glances at, in one read-only answer — tasks waiting
//! and running per stage, jobs by status, the error rate of recent jobs, each worker's engine,
//! models and last heartbeat, and the realtime sessions of this gateway against its capacity.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use dalston_core::{JobStatus, Stage, TaskStatus};
use dalston_store::JobFilter;
use dalston_store::clock::now_ms;
use serde_json::{Value, json};

use super::views::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How many of the newest jobs the error rate looks at.
const ERROR_RATE_WINDOW: u32 = 100;

pub async fn dashboard(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    let waiting: BTreeMap<Stage, u64> = state
        .queue
        .depth()
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .collect();
    let running = running_tasks(&state).await?;
    let mut stages: Vec<Stage> = state.engines.iter().map(|engine| engine.stage).collect();
    stages.extend(waiting.keys().chain(running.keys()));
    stages.sort();
    stages.dedup();
    let queue: Vec<Value> = stages
        .iter()
        .map(|stage| {
            json!({
                "stage": stage,
                "queued": waiting.get(stage).copied().unwrap_or(0),
                "running": running.get(stage).copied().unwrap_or(0),
            })
        })
        .collect();

    let recent = state
        .store
        .list_jobs(&JobFilter {
            limit: ERROR_RATE_WINDOW,
            ..JobFilter::default()
        })
        .await?;
    let failed = recent
        .iter()
        .filter(|job| job.status == JobStatus::Failed)
        .count();
    let finished = failed
        + recent
            .iter()
            .filter(|job| job.status == JobStatus::Completed)
            .count();
    let rate = (finished > 0).then(|| failed as f64 / finished as f64);

    let now = now_ms();
    let timeout_ms = i64::try_from(state.worker_timeout.as_millis()).unwrap_or(i64::MAX);
    let engines: Vec<Value> = state
        .workers
        .iter()
        .map(|worker| {
            let last_seen = worker.liveness.last_seen_ms();
            json!({
                "engine_id": worker.engine.engine_id,
                "stage": worker.engine.stage,
                "models": worker.engine.models,
                "worker_id": worker.worker_id,
                "last_heartbeat_at": last_seen.and_then(rfc3339),
                "alive": last_seen.is_some_and(|ms| now - ms <= timeout_ms),
            })
        })
        .collect();

    let realtime = state.realtime.capacity.snapshot();
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started_at.elapsed().as_secs(),
        "queue": queue,
        "jobs": state.store.count_jobs().await?.by_status,
        "error_rate": { "window": ERROR_RATE_WINDOW, "finished": finished, "failed": failed, "rate": rate },
        "engines": engines,
        "realtime": {
            "active_sessions": realtime.active_sessions,
            "capacity": realtime.max_sessions,
        },
    })))
}

/// Running tasks per stage, over the unfinished jobs.
async fn running_tasks(state: &AppState) -> ApiResult<BTreeMap<Stage, u64>> {
    let mut running = BTreeMap::new();
    for job_id in state.store.active_job_ids().await? {
        for task in state.store.tasks_for_job(&job_id).await? {
            if task.status == TaskStatus::Running {
                *running.entry(task.stage).or_insert(0) += 1;
            }
        }
    }
    Ok(running)
}
