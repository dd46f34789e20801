//! Building and running the whole server: the same [`Application::build`] serves `main` and the
//! integration tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::DefaultBodyLimit;
use dalston_audio::FfmpegPolicy;
use dalston_core::retry::RetryPolicy;
use dalston_engine::engines::{MergeEngine, PrepareEngine, TranscribeEngine, WhisperCatalog};
use dalston_engine::runner::{Runner, RunnerConfig};
use dalston_engine::{Engine, TaskEvents};
use dalston_models::LoadOptions;
use dalston_models::vad::SileroVad;
use dalston_orchestrator::Orchestrator;
use dalston_queue::{DEFAULT_MAX_DELIVERIES, EmbeddedQueue, TaskQueue};
use dalston_store::{BlobStore, MetadataStore, SqliteStore, WebhookStore};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::{AuthMode, Config};
use crate::state::AppState;

/// A built server, bound to its port but not yet serving.
pub struct Application {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    port: u16,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Validates the configuration, opens the stores, bootstraps the admin key, loads the
    /// default model, starts the orchestrator and engines, and binds the listener.
    ///
    /// # Errors
    /// Any start-up problem, with context naming what was being done.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let backends = config.validate()?;
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
        let sqlite = SqliteStore::connect(&backends.database_url).await?;
        let queue = Arc::new(EmbeddedQueue::new(
            sqlite.pool().clone(),
            DEFAULT_MAX_DELIVERIES,
        ));
        let released = queue.release_all_leases().await?;
        if released > 0 {
            tracing::info!(
                tasks = released,
                "resuming tasks that were running when the server stopped"
            );
        }
        let sqlite = Arc::new(sqlite);
        let webhooks: Arc<dyn WebhookStore> = Arc::clone(&sqlite) as Arc<dyn WebhookStore>;
        let store: Arc<dyn MetadataStore> = sqlite;
        let queue: Arc<dyn TaskQueue> = queue;
        let blobs = BlobStore::from_url(&backends.storage_url)?;
        let auth_disabled = config.auth.mode == AuthMode::None;
        if auth_disabled {
            tracing::warn!("authentication is disabled (--auth none); every caller is admin");
        } else {
            crate::auth::bootstrap_admin_key(
                store.as_ref(),
                config.auth.admin_key.as_ref(),
                &config.data_dir,
            )
            .await?;
        }

        let catalog = Arc::new(WhisperCatalog::new(
            config.models_dir.clone(),
            config.engine.default_model.clone(),
            LoadOptions {
                threads: config.engine.threads,
            },
        ));
        let orchestrator = Orchestrator::new(Arc::clone(&store), Arc::clone(&queue), blobs.clone())
            .with_webhooks(Arc::clone(&webhooks));
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut workers = Vec::new();

        let engines: Vec<Arc<dyn Engine>> = if config.engine.run_engines {
            anyhow::ensure!(
                catalog.available().contains(&config.engine.default_model),
                "the default model {:?} is not in {} (found: {:?}); run scripts/fetch-models or set {}",
                config.engine.default_model,
                config.models_dir.display(),
                catalog.available(),
                crate::config::env::MODELS_DIR,
            );
            // Loading at start-up makes the first job as fast as the rest and fails early on a
            // broken model directory.
            let warm = Arc::clone(&catalog);
            let default_model = config.engine.default_model.clone();
            tokio::task::spawn_blocking(move || warm.get(&default_model))
                .await?
                .map_err(|error| anyhow::anyhow!("loading the default model: {error}"))?;
            let ffmpeg = if config.engine.ffmpeg_fallback {
                FfmpegPolicy::Auto
            } else {
                FfmpegPolicy::Never
            };
            let vad_dir = config.models_dir.join("silero-vad");
            let vad = tokio::task::spawn_blocking(move || SileroVad::load(&vad_dir))
                .await?
                .map_err(|error| {
                    anyhow::anyhow!(
                        "loading Silero VAD: {error}; run scripts/fetch-models or set {}",
                        crate::config::env::MODELS_DIR
                    )
                })?;
            vec![
                PrepareEngine::new(config.limits.max_audio_duration_secs, ffmpeg, Arc::new(vad)),
                TranscribeEngine::new(Arc::clone(&catalog)),
                MergeEngine::new(),
            ]
        } else {
            Vec::new()
        };
        let events: Arc<dyn TaskEvents> = Arc::new(events_tx.clone());
        let instance = instance_id();
        for engine in &engines {
            let stage = engine.capabilities().stage;
            let runner = Runner::new(
                Arc::clone(engine),
                Arc::clone(&store),
                blobs.clone(),
                Arc::clone(&queue),
                Arc::clone(&events),
                RunnerConfig {
                    worker_id: format!("{instance}-{stage}"),
                    lease: Duration::from_secs(config.engine.lease_secs),
                    retry: RetryPolicy {
                        max_attempts: config.engine.max_attempts,
                        ..RetryPolicy::default()
                    },
                    idle_wait: Duration::from_secs(2),
                    scratch_dir: config.data_dir.join("scratch"),
                },
            );
            workers.push(tokio::spawn(runner.run(shutdown_rx.clone())));
        }
        let server_secret = crate::webhooks::signature::load_or_create_secret(
            config.webhooks.secret.as_ref(),
            &config.data_dir,
        )?;
        let deliverer = crate::webhooks::deliverer::Deliverer::new(
            Arc::clone(&webhooks),
            Arc::clone(&store),
            blobs.clone(),
            server_secret,
            &config.webhooks,
        )?;
        workers.push(tokio::spawn(deliverer.run(shutdown_rx.clone())));
        workers.push(tokio::spawn(orchestrator.clone().run(
            events_rx,
            Duration::from_secs(5),
            shutdown_rx.clone(),
        )));

        let state = Arc::new(AppState {
            store,
            webhooks,
            blobs,
            queue,
            orchestrator,
            job_events: events_tx,
            catalog,
            engines: engines.iter().map(|engine| engine.capabilities()).collect(),
            limits: config.limits.clone(),
            auth_disabled,
            scratch_dir: config.data_dir.join("scratch"),
            started_at: std::time::Instant::now(),
        });
        let router = crate::routes::router()
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&state),
                crate::auth::authenticate,
            ))
            .layer(DefaultBodyLimit::max(
                usize::try_from(config.limits.max_upload_bytes)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1024 * 1024),
            ))
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .with_state(state);

        let address = config.bind_address();
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("binding {address}"))?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            router,
            shutdown,
            workers,
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` resolves, then stops the workers.
    ///
    /// # Errors
    /// When the listener fails.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(address = %self.listener.local_addr()?, "dalston is listening");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stop)
            .await?;
        let _ = self.shutdown.send(true);
        // A task still running is not waited for long: its lease is released at the next start
        // and it runs again then.
        let workers = futures::future::join_all(self.workers);
        if tokio::time::timeout(Duration::from_secs(5), workers)
            .await
            .is_err()
        {
            tracing::info!("stopping with a task still running; it resumes at the next start");
        }
        Ok(())
    }
}

/// Identifies this process in lease owners (worker ids), so leases of different runs differ.
fn instance_id() -> String {
    format!("{}-{}", std::process::id(), dalston_store::clock::now_ms())
}
