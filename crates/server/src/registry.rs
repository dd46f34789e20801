//! Engines registering themselves: every process that runs engines heartbeats one row per engine
//! into the [`EngineRegistry`] (stage, models, capacity, tasks running now), so `GET
//! /v1/engines` and `/ready` on any gateway see the engines of the whole deployment.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use dalston_engine::{Engine, EngineCapabilities, EngineError, TaskContext, TaskInput, TaskOutput};
use dalston_store::clock::now_ms;
use dalston_store::{EngineRecord, EngineRegistry};
use tokio::sync::watch;

/// How often an engine refreshes its row.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// A row older than this belongs to an engine that stopped.
pub const LIVE_WITHIN: Duration = Duration::from_secs(30);

/// An engine that counts the tasks it is running, for the registry's load figure.
pub struct CountingEngine {
    inner: Arc<dyn Engine>,
    active: Arc<AtomicU32>,
}

impl CountingEngine {
    pub fn wrap(inner: Arc<dyn Engine>) -> (Arc<dyn Engine>, Arc<AtomicU32>) {
        let active = Arc::new(AtomicU32::new(0));
        let counting = Arc::new(Self {
            inner,
            active: Arc::clone(&active),
        });
        (counting, active)
    }
}

/// Decrements on drop, so a cancelled or panicking task is uncounted too.
struct Running<'a>(&'a AtomicU32);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl Engine for CountingEngine {
    fn capabilities(&self) -> EngineCapabilities {
        self.inner.capabilities()
    }

    async fn process(
        &self,
        input: TaskInput,
        context: TaskContext,
    ) -> Result<TaskOutput, EngineError> {
        self.active.fetch_add(1, Ordering::Relaxed);
        let _running = Running(&self.active);
        self.inner.process(input, context).await
    }
}

/// One engine of this process as the registry shows it.
pub struct Registration {
    pub record: EngineRecord,
    pub active: Arc<AtomicU32>,
}

impl Registration {
    pub fn new(
        id: String,
        capabilities: &EngineCapabilities,
        capacity: u32,
        active: Arc<AtomicU32>,
    ) -> Self {
        let now = now_ms();
        Self {
            record: EngineRecord {
                id,
                stage: capabilities.stage,
                models: capabilities.models.clone(),
                capacity,
                active_tasks: 0,
                started_at_ms: now,
                last_heartbeat_at_ms: now,
            },
            active,
        }
    }

    /// Writes the row as it is now.
    ///
    /// # Errors
    /// A store failure.
    pub async fn beat(
        &mut self,
        registry: &dyn EngineRegistry,
    ) -> Result<(), dalston_store::StoreError> {
        self.record.active_tasks = self.active.load(Ordering::Relaxed);
        self.record.last_heartbeat_at_ms = now_ms();
        registry.record_engine_heartbeat(&self.record).await
    }
}

/// Heartbeats every registration until `shutdown`, then removes their rows (a clean stop
/// disappears at once; a crash ages out after [`LIVE_WITHIN`]).
pub async fn heartbeat(
    registry: Arc<dyn EngineRegistry>,
    mut registrations: Vec<Registration>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(HEARTBEAT_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                for registration in &mut registrations {
                    if let Err(error) = registration.beat(registry.as_ref()).await {
                        tracing::warn!(engine = %registration.record.id, error = %error, "engine heartbeat failed");
                    }
                }
            }
            _ = shutdown.changed() => break,
        }
    }
    for registration in &registrations {
        if let Err(error) = registry.remove_engine(&registration.record.id).await {
            tracing::warn!(engine = %registration.record.id, error = %error, "could not deregister the engine");
        }
    }
}
