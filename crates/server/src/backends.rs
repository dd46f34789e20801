//! The backends of one process, opened from the resolved URLs: metadata (SQLite or PostgreSQL),
//! task queue and job events (embedded or Redis), blobs (filesystem or S3). Every role of the
//! process shares them.

use std::sync::Arc;

use anyhow::Context as _;
use dalston_core::JobId;
use dalston_queue::{DEFAULT_MAX_DELIVERIES, EmbeddedQueue, RedisQueue, TaskQueue};
use dalston_store::{
    BlobStore, EngineRegistry, MetadataStore, PgStore, RealtimeStore, SqliteStore, WebhookStore,
};
use tokio::sync::mpsc;

use crate::config::{Backends, DatabaseBackend, QueueBackend, StorageBackend};

/// The opened backends every role of a process shares.
pub struct Opened {
    pub store: Arc<dyn MetadataStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    pub registry: Arc<dyn EngineRegistry>,
    pub realtime_sessions: Arc<dyn RealtimeStore>,
    pub queue: Arc<dyn TaskQueue>,
    pub blobs: BlobStore,
    /// Where "this job changed" goes: the orchestrator's channel (embedded) or Redis.
    pub events: mpsc::UnboundedSender<JobId>,
    /// The embedded orchestrator's end of `events`.
    local_events: Option<mpsc::UnboundedReceiver<JobId>>,
}

type Stores = (
    Arc<dyn MetadataStore>,
    Arc<dyn WebhookStore>,
    Arc<dyn EngineRegistry>,
    Arc<dyn RealtimeStore>,
);

fn stores<S: MetadataStore + WebhookStore + EngineRegistry + RealtimeStore>(store: S) -> Stores {
    let store = Arc::new(store);
    (
        Arc::clone(&store) as Arc<dyn MetadataStore>,
        Arc::clone(&store) as Arc<dyn WebhookStore>,
        Arc::clone(&store) as Arc<dyn EngineRegistry>,
        store,
    )
}

impl Opened {
    /// Connects to every backend (applying migrations); the embedded queue releases the leases
    /// of a previous run.
    ///
    /// # Errors
    /// A backend that cannot be reached or opened.
    pub async fn open(backends: &Backends) -> anyhow::Result<Self> {
        let ((store, webhooks, registry, realtime_sessions), sqlite_pool) = match &backends.database
        {
            DatabaseBackend::Sqlite(url) => {
                let sqlite = SqliteStore::connect(url).await?;
                let pool = sqlite.pool().clone();
                (stores(sqlite), Some(pool))
            }
            DatabaseBackend::Postgres(url) => (stores(PgStore::connect(url).await?), None),
        };
        let (queue, events, local_events): (Arc<dyn TaskQueue>, _, _) = match &backends.queue {
            QueueBackend::Embedded => {
                let pool = sqlite_pool.context(
                    "the embedded queue needs the SQLite database (checked by validate)",
                )?;
                let queue = EmbeddedQueue::new(pool, DEFAULT_MAX_DELIVERIES);
                let released = queue.release_all_leases().await?;
                if released > 0 {
                    tracing::info!(
                        tasks = released,
                        "resuming tasks that were running when the server stopped"
                    );
                }
                let (events, receiver) = mpsc::unbounded_channel();
                (Arc::new(queue), events, Some(receiver))
            }
            QueueBackend::Redis(url) => {
                let queue = RedisQueue::connect(url, DEFAULT_MAX_DELIVERIES)
                    .await
                    .context("connecting to the Redis queue")?;
                let events = RedisQueue::event_publisher(url).await?;
                (Arc::new(queue), events, None)
            }
        };
        let blobs = match &backends.storage {
            StorageBackend::File(url) => BlobStore::from_url(url)?,
            StorageBackend::S3(settings) => BlobStore::s3(settings)?,
        };
        Ok(Self {
            store,
            webhooks,
            registry,
            realtime_sessions,
            queue,
            blobs,
            events,
            local_events,
        })
    }

    /// The events the orchestrator of this process reacts to.
    ///
    /// # Errors
    /// The Redis subscription failed.
    pub async fn orchestrator_events(
        &mut self,
        backends: &Backends,
    ) -> anyhow::Result<mpsc::UnboundedReceiver<JobId>> {
        if let Some(local) = self.local_events.take() {
            return Ok(local);
        }
        let QueueBackend::Redis(url) = &backends.queue else {
            anyhow::bail!("no event source for the orchestrator");
        };
        let (forward, receiver) = mpsc::unbounded_channel();
        dalston_queue::redis::subscribe_events(url, forward)
            .await
            .context("subscribing to job events on Redis")?;
        Ok(receiver)
    }
}
