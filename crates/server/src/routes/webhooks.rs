//! `/v1/webhooks`: registered endpoints that receive job events, and their delivery logs.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use dalston_core::webhook::{WebhookEvent, is_http_url};
use dalston_core::{DeliveryId, WebhookId};
use dalston_store::clock::now_ms;
use dalston_store::{DeliveryRecord, WebhookRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use super::views::rfc3339;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::webhooks::signature::generate_secret;

fn webhook_view(webhook: &WebhookRecord, with_secret: bool) -> Value {
    let mut view = json!({
        "id": webhook.id,
        "url": webhook.url,
        "events": webhook.events,
        "description": webhook.description,
        "active": webhook.active,
        "consecutive_failures": webhook.consecutive_failures,
        "created_at": rfc3339(webhook.created_at_ms),
        "updated_at": rfc3339(webhook.updated_at_ms),
    });
    if with_secret {
        view["secret"] = Value::from(webhook.secret.clone());
    }
    view
}

fn delivery_view(delivery: &DeliveryRecord) -> Value {
    json!({
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "job_id": delivery.job_id,
        "event": delivery.event,
        "status": delivery.status.as_str(),
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at_ms.and_then(rfc3339),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": rfc3339(delivery.created_at_ms),
        "updated_at": rfc3339(delivery.updated_at_ms),
    })
}

fn validate_events(events: &[String]) -> ApiResult<()> {
    if events.is_empty() {
        return Err(ApiError::BadRequest(
            "events must name at least one event".into(),
        ));
    }
    for event in events {
        event
            .parse::<WebhookEvent>()
            .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    }
    Ok(())
}

async fn validate_url(state: &AppState, url: &str) -> ApiResult<()> {
    if !is_http_url(url) {
        return Err(ApiError::BadRequest(
            "url must be an http:// or https:// URL".into(),
        ));
    }
    crate::targets::check(url, state.allow_private_targets).await?;
    Ok(())
}

/// A webhook the caller may manage: admins any, other keys their own.
async fn load_webhook(
    state: &AppState,
    principal: &Principal,
    raw_id: &str,
) -> ApiResult<WebhookRecord> {
    let not_found = || ApiError::NotFound(format!("webhook {raw_id} not found"));
    let id = WebhookId::parse(raw_id).map_err(|_| not_found())?;
    let webhook = state
        .webhooks
        .get_webhook(&id)
        .await?
        .ok_or_else(not_found)?;
    let visible = principal.is_admin()
        || principal.key_id.is_none()
        || webhook.owner_key_id == principal.key_id;
    if visible {
        Ok(webhook)
    } else {
        Err(not_found())
    }
}

fn json_body<T>(body: Result<Json<T>, axum::extract::rejection::JsonRejection>) -> ApiResult<T> {
    body.map(|Json(body)| body)
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
}

#[derive(Debug, Deserialize)]
pub struct CreateWebhook {
    url: String,
    events: Option<Vec<String>>,
    description: Option<String>,
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<CreateWebhook>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = json_body(body)?;
    validate_url(&state, &body.url).await?;
    let events = body.events.unwrap_or_else(|| {
        WebhookEvent::ALL
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect()
    });
    validate_events(&events)?;
    let now = now_ms();
    let webhook = WebhookRecord {
        id: WebhookId::generate(),
        url: body.url,
        secret: generate_secret(),
        events,
        description: body.description,
        active: true,
        // Admin webhooks receive every job's events; others only their own key's jobs.
        owner_key_id: if principal.is_admin() {
            None
        } else {
            principal.key_id.clone()
        },
        consecutive_failures: 0,
        created_at_ms: now,
        updated_at_ms: now,
    };
    state.webhooks.insert_webhook(&webhook).await?;
    Ok((StatusCode::CREATED, Json(webhook_view(&webhook, true))))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let owner = if principal.is_admin() {
        None
    } else {
        principal.key_id.as_ref()
    };
    let webhooks = state.webhooks.list_webhooks(owner).await?;
    let views: Vec<Value> = webhooks
        .iter()
        .map(|webhook| webhook_view(webhook, false))
        .collect();
    Ok(Json(json!({ "webhooks": views, "total": views.len() })))
}

pub async fn get_one(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(webhook_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let webhook = load_webhook(&state, &principal, &webhook_id).await?;
    Ok(Json(webhook_view(&webhook, false)))
}

#[derive(Debug, Deserialize)]
pub struct UpdateWebhook {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    active: Option<bool>,
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(webhook_id): Path<String>,
    body: Result<Json<UpdateWebhook>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    let body = json_body(body)?;
    let mut webhook = load_webhook(&state, &principal, &webhook_id).await?;
    if let Some(url) = body.url {
        validate_url(&state, &url).await?;
        webhook.url = url;
    }
    if let Some(events) = body.events {
        validate_events(&events)?;
        webhook.events = events;
    }
    if let Some(description) = body.description {
        webhook.description = Some(description);
    }
    if let Some(active) = body.active {
        // Re-enabling forgives the failures that disabled it.
        if active && !webhook.active {
            webhook.consecutive_failures = 0;
        }
        webhook.active = active;
    }
    webhook.updated_at_ms = now_ms();
    state.webhooks.update_webhook(&webhook).await?;
    Ok(Json(webhook_view(&webhook, false)))
}

pub async fn delete_one(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(webhook_id): Path<String>,
) -> ApiResult<StatusCode> {
    let webhook = load_webhook(&state, &principal, &webhook_id).await?;
    state.webhooks.delete_webhook(&webhook.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(webhook_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut webhook = load_webhook(&state, &principal, &webhook_id).await?;
    webhook.secret = generate_secret();
    webhook.updated_at_ms = now_ms();
    state.webhooks.update_webhook(&webhook).await?;
    Ok(Json(webhook_view(&webhook, true)))
}

pub async fn deliveries(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(webhook_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let webhook = load_webhook(&state, &principal, &webhook_id).await?;
    let deliveries = state.webhooks.list_deliveries(&webhook.id, 100).await?;
    let views: Vec<Value> = deliveries.iter().map(delivery_view).collect();
    Ok(Json(json!({ "deliveries": views, "total": views.len() })))
}

pub async fn retry_delivery(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path((webhook_id, delivery_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let webhook = load_webhook(&state, &principal, &webhook_id).await?;
    let not_found = || ApiError::NotFound(format!("delivery {delivery_id} not found"));
    let id = DeliveryId::parse(&delivery_id).map_err(|_| not_found())?;
    let delivery = state
        .webhooks
        .get_delivery(&id)
        .await?
        .filter(|d| d.webhook_id.as_ref() == Some(&webhook.id))
        .ok_or_else(not_found)?;
    if !state
        .webhooks
        .retry_delivery(&delivery.id, now_ms())
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "delivery {} is already waiting to be sent",
            delivery.id
        )));
    }
    let delivery = state
        .webhooks
        .get_delivery(&id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(delivery_view(&delivery)))
}
