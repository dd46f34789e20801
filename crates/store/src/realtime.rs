//! Live transcription sessions and single-use tokens.
//!
//! A session row is written when a WebSocket session starts (`active`) and completed when it
//! ends, whatever ended it, so `GET /v1/realtime/sessions` shows every session's duration,
//! words, model and end reason on any gateway. Single-use tokens let a browser open a session
//! without holding an API key: only the token's hash is stored, and consuming it is one guarded
//! `UPDATE`, so a token opens at most one session even with several gateways racing.
//! [`impl_realtime_store!`] writes the one implementation for each pool type.

use async_trait::async_trait;
use dalston_core::KeyId;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub struct RealtimeSessionRecord {
    pub id: String,
    /// `active`, `completed`, `interrupted` (client went away) or `error`.
    pub status: String,
    /// `native` or `elevenlabs`.
    pub protocol: String,
    pub owner_key_id: Option<KeyId>,
    pub model: String,
    pub language: Option<String>,
    pub encoding: String,
    pub sample_rate_hz: u32,
    pub audio_secs: f64,
    pub speech_secs: f64,
    pub utterances: u32,
    pub words: u32,
    /// Why it ended (`completed`, `disconnected`, `lag_exceeded`, `error`).
    pub end_reason: Option<String>,
    pub error: Option<String>,
    /// The batch job made from the session's audio (`enhance_on_end=true`).
    pub enhancement_job_id: Option<String>,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
}

/// Totals written when a session ends.
#[derive(Debug, Clone, PartialEq)]
pub struct RealtimeSessionEnd {
    pub status: String,
    pub audio_secs: f64,
    pub speech_secs: f64,
    pub utterances: u32,
    pub words: u32,
    pub end_reason: String,
    pub error: Option<String>,
    pub enhancement_job_id: Option<String>,
    pub ended_at_ms: i64,
}

#[async_trait]
pub trait RealtimeStore: Send + Sync + 'static {
    async fn insert_realtime_session(
        &self,
        session: &RealtimeSessionRecord,
    ) -> Result<(), StoreError>;
    /// Records the end of an `active` session; `false` when it was not active.
    async fn end_realtime_session(
        &self,
        id: &str,
        end: &RealtimeSessionEnd,
    ) -> Result<bool, StoreError>;
    async fn get_realtime_session(
        &self,
        id: &str,
    ) -> Result<Option<RealtimeSessionRecord>, StoreError>;
    /// Newest first; only `owner`'s when given.
    async fn list_realtime_sessions(
        &self,
        owner: Option<&KeyId>,
        limit: u32,
    ) -> Result<Vec<RealtimeSessionRecord>, StoreError>;

    async fn insert_single_use_token(
        &self,
        token_hash: &str,
        owner: Option<&KeyId>,
        purpose: &str,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;
    /// Marks an unused, unexpired token for `purpose` used; `Some(owner)` if it was valid.
    async fn consume_single_use_token(
        &self,
        token_hash: &str,
        purpose: &str,
        now_ms: i64,
    ) -> Result<Option<Option<KeyId>>, StoreError>;
}

/// The columns [`session_from_row`] reads, in `SELECT` order.
macro_rules! session_columns {
    () => {
        "id, status, protocol, owner_key_id, model, language, encoding, sample_rate, audio_secs, \
         speech_secs, utterances, words, end_reason, error, enhancement_job_id, started_at, ended_at"
    };
}
pub(crate) use session_columns;

pub(crate) fn session_from_row<R>(row: &R) -> Result<RealtimeSessionRecord, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> f64: Decode<'r, R::Database> + Type<R::Database>,
{
    let count = |column: &str| -> Result<u32, StoreError> {
        let value: i32 = row.try_get(column)?;
        Ok(u32::try_from(value).unwrap_or(0))
    };
    let owner: Option<String> = row.try_get("owner_key_id")?;
    Ok(RealtimeSessionRecord {
        id: row.try_get("id")?,
        status: row.try_get("status")?,
        protocol: row.try_get("protocol")?,
        owner_key_id: owner
            .map(|key| KeyId::parse(&key))
            .transpose()
            .map_err(crate::sql::corrupt)?,
        model: row.try_get("model")?,
        language: row.try_get("language")?,
        encoding: row.try_get("encoding")?,
        sample_rate_hz: count("sample_rate")?,
        audio_secs: row.try_get("audio_secs")?,
        speech_secs: row.try_get("speech_secs")?,
        utterances: count("utterances")?,
        words: count("words")?,
        end_reason: row.try_get("end_reason")?,
        error: row.try_get("error")?,
        enhancement_job_id: row.try_get("enhancement_job_id")?,
        started_at_ms: row.try_get("started_at")?,
        ended_at_ms: row.try_get("ended_at")?,
    })
}

/// Implements [`RealtimeStore`] for a store type with a `pool` field.
macro_rules! impl_realtime_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::realtime::RealtimeStore for $store {
            async fn insert_realtime_session(
                &self,
                session: &$crate::realtime::RealtimeSessionRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(concat!(
                    "INSERT INTO realtime_sessions (",
                    $crate::realtime::session_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                ))
                .bind(&session.id)
                .bind(&session.status)
                .bind(&session.protocol)
                .bind(session.owner_key_id.as_ref().map(dalston_core::KeyId::as_str))
                .bind(&session.model)
                .bind(&session.language)
                .bind(&session.encoding)
                .bind(i32::try_from(session.sample_rate_hz).unwrap_or(i32::MAX))
                .bind(session.audio_secs)
                .bind(session.speech_secs)
                .bind(i32::try_from(session.utterances).unwrap_or(i32::MAX))
                .bind(i32::try_from(session.words).unwrap_or(i32::MAX))
                .bind(&session.end_reason)
                .bind(&session.error)
                .bind(&session.enhancement_job_id)
                .bind(session.started_at_ms)
                .bind(session.ended_at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn end_realtime_session(
                &self,
                id: &str,
                end: &$crate::realtime::RealtimeSessionEnd,
            ) -> Result<bool, $crate::StoreError> {
                let result = sqlx::query(
                    "UPDATE realtime_sessions SET status = $1, audio_secs = $2, speech_secs = $3, \
                     utterances = $4, words = $5, end_reason = $6, error = $7, \
                     enhancement_job_id = $8, ended_at = $9 WHERE id = $10 AND status = 'active'",
                )
                .bind(&end.status)
                .bind(end.audio_secs)
                .bind(end.speech_secs)
                .bind(i32::try_from(end.utterances).unwrap_or(i32::MAX))
                .bind(i32::try_from(end.words).unwrap_or(i32::MAX))
                .bind(&end.end_reason)
                .bind(&end.error)
                .bind(&end.enhancement_job_id)
                .bind(end.ended_at_ms)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn get_realtime_session(
                &self,
                id: &str,
            ) -> Result<Option<$crate::realtime::RealtimeSessionRecord>, $crate::StoreError> {
                let row = sqlx::query(concat!(
                    "SELECT ",
                    $crate::realtime::session_columns!(),
                    " FROM realtime_sessions WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map($crate::realtime::session_from_row).transpose()
            }

            async fn list_realtime_sessions(
                &self,
                owner: Option<&dalston_core::KeyId>,
                limit: u32,
            ) -> Result<Vec<$crate::realtime::RealtimeSessionRecord>, $crate::StoreError> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::realtime::session_columns!(),
                    " FROM realtime_sessions WHERE ($1 IS NULL OR owner_key_id = $1) \
                     ORDER BY started_at DESC, id DESC LIMIT $2"
                ))
                .bind(owner.map(dalston_core::KeyId::as_str))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map($crate::realtime::session_from_row).collect()
            }

            async fn insert_single_use_token(
                &self,
                token_hash: &str,
                owner: Option<&dalston_core::KeyId>,
                purpose: &str,
                expires_at_ms: i64,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO single_use_tokens (token_hash, owner_key_id, purpose, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(owner.map(dalston_core::KeyId::as_str))
                .bind(purpose)
                .bind(expires_at_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn consume_single_use_token(
                &self,
                token_hash: &str,
                purpose: &str,
                now_ms: i64,
            ) -> Result<Option<Option<dalston_core::KeyId>>, $crate::StoreError> {
                let row = sqlx::query(
                    "UPDATE single_use_tokens SET used_at = $1 WHERE token_hash = $2 \
                     AND purpose = $3 AND used_at IS NULL AND expires_at > $1 RETURNING owner_key_id",
                )
                .bind(now_ms)
                .bind(token_hash)
                .bind(purpose)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let owner: Option<String> = sqlx::Row::try_get(&row, "owner_key_id")?;
                let owner = owner
                    .map(|key| dalston_core::KeyId::parse(&key))
                    .transpose()
                    .map_err($crate::sql::corrupt)?;
                Ok(Some(owner))
            }
        }
    };
}
pub(crate) use impl_realtime_store;
