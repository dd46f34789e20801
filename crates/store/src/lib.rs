//! Persistence behind traits: the [`MetadataStore`] (jobs, tasks, API keys) and the
//! [`BlobStore`] (audio and artifacts).
//!
//! The embedded mode uses [`SqliteStore`] (through sqlx, one file in the data dir) and the local
//! filesystem (through `object_store`); the distributed mode uses [`PgStore`] and S3 behind the
//! same traits. Callers hold `Arc<dyn MetadataStore>` and never see which one it is. Both SQL
//! backends share one portable schema (`migrations/sqlite` and `migrations/postgres` create the
//! same tables and columns), the same SQL text where it is built at run time, and the same row
//! decoding (`src/sql.rs`); they behave alike, which `tests/backends.rs` checks by running one suite
//! against both.
//!
//! Stores persist state transitions decided in `dalston-core`; they never decide one. Every update
//! that changes a status is guarded by the expected current status, so a stale writer cannot
//! overwrite a newer state.

pub mod blob;
pub mod clock;
pub mod engines;
pub mod error;
pub mod metadata;
mod metadata_sql;
pub mod postgres;
pub mod realtime;
pub mod records;
pub mod s3;
mod sql;
pub mod sqlite;
pub mod webhooks;

pub use blob::{BlobKey, BlobStore};
pub use engines::{EngineRecord, EngineRegistry};
pub use error::StoreError;
pub use metadata::MetadataStore;
pub use postgres::PgStore;
pub use realtime::{RealtimeSessionEnd, RealtimeSessionRecord, RealtimeStore};
pub use records::*;
pub use s3::S3Settings;
pub use sqlite::SqliteStore;
pub use webhooks::{DeliveryOutcome, DeliveryRecord, DeliveryStatus, WebhookRecord, WebhookStore};
