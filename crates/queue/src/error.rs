#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("task queue database operation failed")]
    Database(#[from] sqlx::Error),
    #[error("task queue Redis operation failed")]
    Redis(#[from] redis::RedisError),
    #[error("queued message is corrupt: {0}")]
    Corrupt(String),
}
