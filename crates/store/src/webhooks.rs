//! Registered webhooks and the durable delivery outbox.
//!
//! Deliveries are rows: the orchestrator inserts them when a job ends, a deliverer claims the due
//! ones (moving their next attempt forward by a lease, so a deliverer that dies mid-request is
//! retried later rather than losing the delivery), sends, and records the outcome. Both backends
//! share the SQL and the row decoding; [`impl_webhook_store!`] writes the one implementation
//! for each pool type.

use async_trait::async_trait;
use dalston_core::{DeliveryId, JobId, KeyId, WebhookId};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::StoreError;
use crate::sql::corrupt;

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: WebhookId,
    pub url: String,
    /// `whsec_…` signing secret (Standard Webhooks).
    pub secret: String,
    /// Event names it receives (`transcription.completed`, …).
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    /// The key that created it; `None` for admin-created webhooks, which receive every job's events.
    pub owner_key_id: Option<KeyId>,
    pub consecutive_failures: u32,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Success,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Success => "success",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(value: &str) -> Result<Self, StoreError> {
        match value {
            "pending" => Ok(DeliveryStatus::Pending),
            "success" => Ok(DeliveryStatus::Success),
            "failed" => Ok(DeliveryStatus::Failed),
            other => Err(corrupt(format!("unknown delivery status {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    /// `None` for a job's own `webhook_url` (signed with the server's webhook secret).
    pub webhook_id: Option<WebhookId>,
    pub job_id: JobId,
    pub event: String,
    pub url: String,
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at_ms: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The outcome of one attempt, as the deliverer decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryOutcome {
    pub status: DeliveryStatus,
    /// When to try again (with `Pending`).
    pub next_attempt_at_ms: Option<i64>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    async fn insert_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError>;
    async fn get_webhook(&self, id: &WebhookId) -> Result<Option<WebhookRecord>, StoreError>;
    /// Webhooks visible to `owner` (all when `None`), oldest first.
    async fn list_webhooks(&self, owner: Option<&KeyId>) -> Result<Vec<WebhookRecord>, StoreError>;
    /// Writes every mutable field (url, secret, events, description, active, failures).
    async fn update_webhook(&self, webhook: &WebhookRecord) -> Result<bool, StoreError>;
    /// Deletes the webhook and its delivery log.
    async fn delete_webhook(&self, id: &WebhookId) -> Result<bool, StoreError>;
    /// Active webhooks that should receive `event` for a job owned by `job_owner`.
    async fn webhooks_for_event(
        &self,
        event: &str,
        job_owner: Option<&KeyId>,
    ) -> Result<Vec<WebhookRecord>, StoreError>;

    async fn insert_delivery(&self, delivery: &DeliveryRecord) -> Result<(), StoreError>;
    async fn get_delivery(&self, id: &DeliveryId) -> Result<Option<DeliveryRecord>, StoreError>;
    /// Newest first.
    async fn list_deliveries(
        &self,
        webhook_id: &WebhookId,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// Pending deliveries due by `now_ms`, at most `limit`; their next attempt moves to
    /// `now_ms + lease_ms` so no other deliverer takes them meanwhile.
    async fn claim_due_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// Records an attempt (attempts + 1).
    async fn record_delivery_attempt(
        &self,
        id: &DeliveryId,
        outcome: &DeliveryOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Makes a finished delivery pending again, due now.
    async fn retry_delivery(&self, id: &DeliveryId, now_ms: i64) -> Result<bool, StoreError>;
}

macro_rules! webhook_columns {
    () => {
        "id, url, secret, events, description, active, owner_key_id, consecutive_failures, created_at, updated_at"
    };
}
pub(crate) use webhook_columns;

macro_rules! delivery_columns {
    () => {
        "id, webhook_id, job_id, event, url, payload, status, attempts, next_attempt_at, \
         last_status_code, last_error, created_at, updated_at"
    };
}
pub(crate) use delivery_columns;

pub(crate) fn webhook_from_row<'r, R>(row: &'r R) -> Result<WebhookRecord, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let events: String = row.try_get("events")?;
    let owner: Option<String> = row.try_get("owner_key_id")?;
    let active: i32 = row.try_get("active")?;
    let failures: i32 = row.try_get("consecutive_failures")?;
    Ok(WebhookRecord {
        id: WebhookId::parse(&id).map_err(corrupt)?,
        url: row.try_get("url")?,
        secret: row.try_get("secret")?,
        events: serde_json::from_str(&events).map_err(corrupt)?,
        description: row.try_get("description")?,
        active: active != 0,
        owner_key_id: owner
            .map(|key| KeyId::parse(&key))
            .transpose()
            .map_err(corrupt)?,
        consecutive_failures: u32::try_from(failures).unwrap_or(0),
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

pub(crate) fn delivery_from_row<'r, R>(row: &'r R) -> Result<DeliveryRecord, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    Option<i32>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let webhook_id: Option<String> = row.try_get("webhook_id")?;
    let job_id: String = row.try_get("job_id")?;
    let status: String = row.try_get("status")?;
    let attempts: i32 = row.try_get("attempts")?;
    Ok(DeliveryRecord {
        id: DeliveryId::parse(&id).map_err(corrupt)?,
        webhook_id: webhook_id
            .map(|id| WebhookId::parse(&id))
            .transpose()
            .map_err(corrupt)?,
        job_id: JobId::parse(&job_id).map_err(corrupt)?,
        event: row.try_get("event")?,
        url: row.try_get("url")?,
        payload: row.try_get("payload")?,
        status: DeliveryStatus::parse(&status)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at_ms: row.try_get("next_attempt_at")?,
        last_status_code: row.try_get("last_status_code")?,
        last_error: row.try_get("last_error")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

/// Implements [`WebhookStore`] for a store type with a `pool` field; the SQL is portable, only the
/// pool type differs (sqlx's query results cannot be used generically across databases).
macro_rules! impl_webhook_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::webhooks::WebhookStore for $store {
            async fn insert_webhook(&self, webhook: &$crate::webhooks::WebhookRecord) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO webhooks (id, url, secret, events, description, active, owner_key_id, \
                     consecutive_failures, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(webhook.id.as_str())
                .bind(&webhook.url)
                .bind(&webhook.secret)
                .bind(serde_json::to_string(&webhook.events).map_err($crate::sql::corrupt)?)
                .bind(&webhook.description)
                .bind(i32::from(webhook.active))
                .bind(webhook.owner_key_id.as_ref().map(dalston_core::KeyId::as_str))
                .bind(i32::try_from(webhook.consecutive_failures).unwrap_or(i32::MAX))
                .bind(webhook.created_at_ms)
                .bind(webhook.updated_at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_webhook(
                &self,
                id: &dalston_core::WebhookId,
            ) -> Result<Option<$crate::webhooks::WebhookRecord>, $crate::StoreError> {
                let row = sqlx::query(concat!("SELECT ", $crate::webhooks::webhook_columns!(), " FROM webhooks WHERE id = $1"))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map($crate::webhooks::webhook_from_row).transpose()
            }

            async fn list_webhooks(
                &self,
                owner: Option<&dalston_core::KeyId>,
            ) -> Result<Vec<$crate::webhooks::WebhookRecord>, $crate::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::webhooks::webhook_columns!(),
                    " FROM webhooks WHERE ($1 IS NULL OR owner_key_id = $1) ORDER BY created_at, id"
                ))
                .bind(owner.map(dalston_core::KeyId::as_str))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map($crate::webhooks::webhook_from_row).collect()
            }

            async fn update_webhook(&self, webhook: &$crate::webhooks::WebhookRecord) -> Result<bool, $crate::StoreError> {
                let result = sqlx::query(
                    "UPDATE webhooks SET url = $1, secret = $2, events = $3, description = $4, active = $5, \
                     consecutive_failures = $6, updated_at = $7 WHERE id = $8",
                )
                .bind(&webhook.url)
                .bind(&webhook.secret)
                .bind(serde_json::to_string(&webhook.events).map_err($crate::sql::corrupt)?)
                .bind(&webhook.description)
                .bind(i32::from(webhook.active))
                .bind(i32::try_from(webhook.consecutive_failures).unwrap_or(i32::MAX))
                .bind(webhook.updated_at_ms)
                .bind(webhook.id.as_str())
                .execute(&self.pool)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn delete_webhook(&self, id: &dalston_core::WebhookId) -> Result<bool, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
                let deleted = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id.as_str()).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(deleted.rows_affected() == 1)
            }

            async fn webhooks_for_event(
                &self,
                event: &str,
                job_owner: Option<&dalston_core::KeyId>,
            ) -> Result<Vec<$crate::webhooks::WebhookRecord>, $crate::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::webhooks::webhook_columns!(),
                    " FROM webhooks WHERE active = 1 AND (owner_key_id IS NULL OR owner_key_id = $1) ORDER BY id"
                ))
                .bind(job_owner.map(dalston_core::KeyId::as_str))
                .fetch_all(&self.pool)
                .await?;
                let webhooks: Vec<$crate::webhooks::WebhookRecord> =
                    rows.iter().map($crate::webhooks::webhook_from_row).collect::<Result<_, _>>()?;
                Ok(webhooks.into_iter().filter(|webhook| webhook.events.iter().any(|e| e == event)).collect())
            }

            async fn insert_delivery(&self, delivery: &$crate::webhooks::DeliveryRecord) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO webhook_deliveries (id, webhook_id, job_id, event, url, payload, status, attempts, \
                     next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(delivery.id.as_str())
                .bind(delivery.webhook_id.as_ref().map(dalston_core::WebhookId::as_str))
                .bind(delivery.job_id.as_str())
                .bind(&delivery.event)
                .bind(&delivery.url)
                .bind(&delivery.payload)
                .bind(delivery.status.as_str())
                .bind(i32::try_from(delivery.attempts).unwrap_or(i32::MAX))
                .bind(delivery.next_attempt_at_ms)
                .bind(delivery.created_at_ms)
                .bind(delivery.updated_at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_delivery(
                &self,
                id: &dalston_core::DeliveryId,
            ) -> Result<Option<$crate::webhooks::DeliveryRecord>, $crate::StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::webhooks::delivery_columns!(),
                    " FROM webhook_deliveries WHERE id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map($crate::webhooks::delivery_from_row).transpose()
            }

            async fn list_deliveries(
                &self,
                webhook_id: &dalston_core::WebhookId,
                limit: u32,
            ) -> Result<Vec<$crate::webhooks::DeliveryRecord>, $crate::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::webhooks::delivery_columns!(),
                    " FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
                ))
                .bind(webhook_id.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map($crate::webhooks::delivery_from_row).collect()
            }

            async fn claim_due_deliveries(
                &self,
                now_ms: i64,
                lease_ms: i64,
                limit: u32,
            ) -> Result<Vec<$crate::webhooks::DeliveryRecord>, $crate::StoreError> {
                let rows = sqlx::query(concat!(
                    "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id IN (SELECT id FROM webhook_deliveries \
                     WHERE status = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3) RETURNING ",
                    $crate::webhooks::delivery_columns!()
                ))
                .bind(now_ms.saturating_add(lease_ms))
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map($crate::webhooks::delivery_from_row).collect()
            }

            async fn record_delivery_attempt(
                &self,
                id: &dalston_core::DeliveryId,
                outcome: &$crate::webhooks::DeliveryOutcome,
                now_ms: i64,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
                     last_status_code = $3, last_error = $4, updated_at = $5 WHERE id = $6",
                )
                .bind(outcome.status.as_str())
                .bind(outcome.next_attempt_at_ms)
                .bind(outcome.status_code)
                .bind(&outcome.error)
                .bind(now_ms)
                .bind(id.as_str())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn retry_delivery(&self, id: &dalston_core::DeliveryId, now_ms: i64) -> Result<bool, $crate::StoreError> {
                let result = sqlx::query(
                    "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $1 \
                     WHERE id = $2 AND status <> 'pending'",
                )
                .bind(now_ms)
                .bind(id.as_str())
                .execute(&self.pool)
                .await?;
                Ok(result.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use impl_webhook_store;

#[cfg(test)]
mod tests {
    use super::DeliveryStatus;

    #[test]
    fn delivery_statuses_round_trip() {
        for status in [
            DeliveryStatus::Pending,
            DeliveryStatus::Success,
            DeliveryStatus::Failed,
        ] {
            assert_eq!(DeliveryStatus::parse(status.as_str()).ok(), Some(status));
        }
    }
}
