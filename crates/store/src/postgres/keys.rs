//! API key rows. Only the SHA-256 of a secret is stored.

use dalston_core::KeyId;
use sqlx::PgPool;

use crate::sql::{corrupt, key_columns, key_from_row};
use crate::{ApiKeyRecord, StoreError};

pub(super) async fn insert_key(pool: &PgPool, key: &ApiKeyRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, name, prefix, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.id.as_str())
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(&key.key_hash)
    .bind(serde_json::to_string(&key.scopes).map_err(corrupt)?)
    .bind(key.created_at_ms)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn find_key_by_hash(
    pool: &PgPool,
    key_hash: &str,
) -> Result<Option<ApiKeyRecord>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE key_hash = $1"
    ))
    .bind(key_hash)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(key_from_row).transpose()
}

pub(super) async fn get_key(pool: &PgPool, id: &KeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(key_from_row).transpose()
}

pub(super) async fn list_keys(pool: &PgPool) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys ORDER BY created_at, id"
    ))
    .fetch_all(pool)
    .await?;
    rows.iter().map(key_from_row).collect()
}

pub(super) async fn revoke_key(pool: &PgPool, id: &KeyId, at_ms: i64) -> Result<bool, StoreError> {
    let result =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(at_ms)
            .bind(id.as_str())
            .execute(pool)
            .await?;
    Ok(result.rows_affected() == 1)
}

pub(super) async fn touch_key(pool: &PgPool, id: &KeyId, at_ms: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(at_ms)
        .bind(id.as_str())
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn count_active_keys(pool: &PgPool) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}
