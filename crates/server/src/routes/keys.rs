//! `/auth/keys` and `/auth/me`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use dalston_core::KeyId;
use dalston_store::ApiKeyRecord;
use dalston_store::clock::now_ms;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::views::rfc3339;
use crate::auth::{Principal, Scope, generate_key};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn key_view(key: &ApiKeyRecord, caller: &Principal) -> serde_json::Value {
    serde_json::json!({
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "created_at": rfc3339(key.created_at_ms),
        "last_used_at": key.last_used_at_ms.and_then(rfc3339),
        "is_revoked": key.revoked_at_ms.is_some(),
        "is_current": caller.key_id.as_ref() == Some(&key.id),
    })
}

#[derive(Debug, Deserialize)]
pub struct CreateKey {
    name: String,
    scopes: Option<Vec<String>>,
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<CreateKey>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let Json(body) = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::BadRequest(
            "name must be 1 to 255 characters".into(),
        ));
    }
    let scopes: Vec<Scope> = match body.scopes {
        None => Scope::DEFAULT.to_vec(),
        Some(names) if names.is_empty() => {
            return Err(ApiError::BadRequest("scopes must not be empty".into()));
        }
        Some(names) => names
            .iter()
            .map(|n| n.parse())
            .collect::<Result<_, _>>()
            .map_err(ApiError::BadRequest)?,
    };
    let key = generate_key(name, &scopes);
    state.store.insert_key(&key.record).await?;
    let mut view = key_view(&key.record, &principal);
    view["key"] = serde_json::Value::from(key.secret.expose_secret());
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    let keys = state.store.list_keys().await?;
    let views: Vec<_> = keys.iter().map(|key| key_view(key, &principal)).collect();
    Ok(Json(
        serde_json::json!({ "keys": views, "total": views.len() }),
    ))
}

async fn load_key(state: &AppState, raw_id: &str) -> ApiResult<ApiKeyRecord> {
    let not_found = || ApiError::NotFound(format!("API key {raw_id} not found"));
    let id = KeyId::parse(raw_id).map_err(|_| not_found())?;
    state.store.get_key(&id).await?.ok_or_else(not_found)
}

pub async fn get_one(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(key_id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let key = load_key(&state, &key_id).await?;
    Ok(Json(key_view(&key, &principal)))
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    let key = load_key(&state, &key_id).await?;
    if principal.key_id.as_ref() == Some(&key.id) {
        return Err(ApiError::Conflict(
            "a key cannot revoke itself; use another admin key".into(),
        ));
    }
    state.store.revoke_key(&key.id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    match &principal.key_id {
        Some(id) => {
            let key = state
                .store
                .get_key(id)
                .await?
                .ok_or_else(|| ApiError::Unauthorized("key not found".into()))?;
            Ok(Json(key_view(&key, &principal)))
        }
        None => Ok(Json(
            serde_json::json!({ "id": null, "name": "anonymous (auth disabled)", "scopes": ["admin"] }),
        )),
    }
}
