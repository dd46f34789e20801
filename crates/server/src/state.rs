//! What every handler can reach.

use std::path::PathBuf;
use std::sync::Arc;

use dalston_core::dag::AvailableEngines;
use dalston_engine::EngineCapabilities;
use dalston_engine::engines::WhisperCatalog;
use dalston_engine::runner::Liveness;
use dalston_orchestrator::Orchestrator;
use dalston_queue::TaskQueue;
use dalston_store::{BlobStore, EngineRegistry, MetadataStore, RealtimeStore, WebhookStore};
use tokio::sync::mpsc;

use crate::config::LimitsConfig;
use crate::realtime::Realtime;

pub struct AppState {
    pub store: Arc<dyn MetadataStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    /// Engines of the whole deployment, as they heartbeat.
    pub registry: Arc<dyn EngineRegistry>,
    /// Realtime session records and single-use tokens.
    pub realtime_sessions: Arc<dyn RealtimeStore>,
    /// Live sessions of this gateway: capacity, models, settings.
    pub realtime: Arc<Realtime>,
    pub blobs: BlobStore,
    pub queue: Arc<dyn TaskQueue>,
    pub orchestrator: Orchestrator,
    /// Wakes the orchestrator for a job (job created, cancelled).
    pub job_events: mpsc::UnboundedSender<dalston_core::JobId>,
    pub catalog: Arc<WhisperCatalog>,
    /// Engines this build provides, for planning (the registry says which are running).
    pub engines: Vec<EngineCapabilities>,
    /// The runners serving those engines in this process, for the dashboard.
    pub workers: Vec<Worker>,
    /// A worker silent for longer than this is reported as not responding.
    pub worker_timeout: std::time::Duration,
    pub limits: LimitsConfig,
    pub auth_disabled: bool,
    /// Webhook targets on private or local addresses are allowed (`webhooks.allow_private_targets`).
    pub allow_private_targets: bool,
    /// Fetches the audio of jobs submitted by URL.
    pub audio_urls: crate::audio_url::AudioUrlFetcher,
    /// Scratch space for uploads being validated.
    pub scratch_dir: PathBuf,
    pub started_at: std::time::Instant,
}

/// One runner of this process: its engine, its lease owner name and its sign of life.
#[derive(Debug, Clone)]
pub struct Worker {
    pub engine: EngineCapabilities,
    pub worker_id: String,
    pub liveness: Liveness,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// What the DAG builder needs to know about the engines.
    pub fn available_engines(&self) -> AvailableEngines {
        let has = |stage| self.engines.iter().any(|engine| engine.stage == stage);
        AvailableEngines {
            transcriber_word_timestamps: self.engines.iter().any(|engine| {
                engine.stage == dalston_core::Stage::Transcribe && engine.word_timestamps
            }),
            align: has(dalston_core::Stage::Align),
            diarize: has(dalston_core::Stage::Diarize),
        }
    }
}
