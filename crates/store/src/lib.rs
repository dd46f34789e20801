//! Persistence behind traits: the [`MetadataStore`] (jobs, tasks, API keys) and the
//! [`BlobStore`] (audio and artifacts).
//!
//! The embedded implementations are SQLite (through sqlx, one file in the data dir) and the local
//! filesystem (through `object_store`); PostgreSQL and S3 implement the same traits in the
//! distributed mode. Callers hold `Arc<dyn MetadataStore>` and never see which one it is.
//! Stores persist state transitions decided in `dalston-core`; every update that changes a status
//! is guarded by the expected current status, so a stale writer cannot overwrite a newer state.

pub mod blob;
pub mod clock;
pub mod error;
pub mod metadata;
pub mod records;
pub mod sqlite;

pub use blob::{BlobKey, BlobStore};
pub use error::StoreError;
pub use metadata::MetadataStore;
pub use records::*;
pub use sqlite::SqliteStore;
