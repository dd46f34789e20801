#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("task queue database operation failed")]
    Database(#[from] sqlx::Error),
    #[error("queued message is corrupt: {0}")]
    Corrupt(String),
}
