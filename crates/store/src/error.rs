//! Errors of the metadata and blob stores.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to open the metadata database at {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("failed to apply database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("database query failed")]
    Database(#[from] sqlx::Error),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("blob storage operation on {key} failed")]
    Blob {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("blob storage is misconfigured: {0}")]
    BlobConfig(String),
    #[error("local file I/O failed")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// True when the blob does not exist (a deleted job's audio, for example).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StoreError::Blob {
                source: object_store::Error::NotFound { .. },
                ..
            }
        )
    }
}
