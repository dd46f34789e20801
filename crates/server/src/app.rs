//! Building and running the server: the same [`Application::build`] serves `main` and the
//! integration tests, and [`Application::build_role`] builds the distributed roles from the same
//! pieces (backends, engines and runners, orchestrator, gateway).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::DefaultBodyLimit;
use dalston_audio::FfmpegPolicy;
use dalston_core::Stage;
use dalston_core::retry::RetryPolicy;
use dalston_engine::engines::{
    DiarizeEngine, MergeEngine, PrepareEngine, TranscribeEngine, WhisperCatalog,
};
use dalston_engine::runner::{Runner, RunnerConfig};
use dalston_engine::{Engine, TaskEvents};
use dalston_models::LoadOptions;
use dalston_orchestrator::Orchestrator;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backends::Opened;
use crate::config::{AuthMode, Config};
use crate::registry::{CountingEngine, Registration};
use crate::state::AppState;

/// A built server, bound to its port but not yet serving.
pub struct Application {
    /// The gateway's listener and routes; `None` for roles without HTTP.
    http: Option<(tokio::net::TcpListener, axum::Router)>,
    shutdown: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    port: u16,
    role: Role,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("role", &self.role)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Which parts of Dalston a process runs. `serve` runs them all; the distributed mode runs
/// each as its own process, on as many machines as needed, sharing the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Gateway, orchestrator and engines in one process (`dalston serve`).
    All,
    /// The HTTP API (`dalston gateway`).
    Gateway,
    /// Job state, reclaim of dead workers' tasks, webhook deliveries (`dalston orchestrator`).
    Orchestrator,
    /// `concurrency` runners for one stage (`dalston engine --stage S`).
    Engine { stage: Stage, concurrency: usize },
}

impl Role {
    fn runs_gateway(self) -> bool {
        matches!(self, Role::All | Role::Gateway)
    }

    fn runs_orchestrator(self) -> bool {
        matches!(self, Role::All | Role::Orchestrator)
    }

    fn name(self) -> &'static str {
        match self {
            Role::All => "serve",
            Role::Gateway => "gateway",
            Role::Orchestrator => "orchestrator",
            Role::Engine { .. } => "engine",
        }
    }
}

/// The engines this build provides, one per stage (the model is loaded on first use).
fn provided_engines(config: &Config, catalog: &Arc<WhisperCatalog>) -> Vec<Arc<dyn Engine>> {
    let ffmpeg = if config.engine.ffmpeg_fallback {
        FfmpegPolicy::Auto
    } else {
        FfmpegPolicy::Never
    };
    let mut engines: Vec<Arc<dyn Engine>> = vec![
        PrepareEngine::new(
            config.limits.max_audio_duration_secs,
            ffmpeg,
            config.models_dir.join("silero-vad"),
        ),
        TranscribeEngine::new(Arc::clone(catalog), config.engine.beam_size),
        MergeEngine::new(),
    ];
    // Diarization is optional: without the speaker model, jobs asking for speakers get a
    // transcript and a warning.
    match DiarizeEngine::load(&config.models_dir) {
        Ok(diarize) => engines.push(diarize),
        Err(error) => tracing::warn!(
            error = %error,
            "speaker diarization is unavailable; run scripts/fetch-models to install the speaker model"
        ),
    }
    engines
}

/// Fails early on a missing model and loads the default one, so the first task is as fast as
/// the rest.
async fn warm_default_model(config: &Config, catalog: &Arc<WhisperCatalog>) -> anyhow::Result<()> {
    anyhow::ensure!(
        catalog.available().contains(&config.engine.default_model),
        "the default model {:?} is not in {} (found: {:?}); run scripts/fetch-models or set {}",
        config.engine.default_model,
        config.models_dir.display(),
        catalog.available(),
        crate::config::env::MODELS_DIR,
    );
    let warm = Arc::clone(catalog);
    let default_model = config.engine.default_model.clone();
    tokio::task::spawn_blocking(move || warm.get(&default_model))
        .await?
        .map_err(|error| anyhow::anyhow!("loading the default model: {error}"))?;
    Ok(())
}

impl Application {
    /// Validates the configuration, opens the stores, bootstraps the admin key, loads the
    /// default model, starts the orchestrator and engines, and binds the listener: everything
    /// `dalston serve` runs.
    ///
    /// # Errors
    /// Any start-up problem, with context naming what was being done.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_role(config, Role::All).await
    }

    /// Builds one role. The separate roles need backends that several processes can share
    /// (a `redis://` queue); `Role::All` runs on any.
    ///
    /// # Errors
    /// Any start-up problem, with context naming what was being done.
    pub async fn build_role(config: Config, role: Role) -> anyhow::Result<Self> {
        let backends = config.validate()?;
        anyhow::ensure!(
            role == Role::All || backends.is_shared(),
            "`dalston {}` shares work with other processes through Redis: set {} to redis://… \
             (the embedded queue is for `dalston serve`)",
            role.name(),
            crate::config::env::QUEUE_URL
        );
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
        let mut opened = Opened::open(&backends).await?;
        let auth_disabled = config.auth.mode == AuthMode::None;
        if role.runs_gateway() {
            if auth_disabled {
                tracing::warn!("authentication is disabled (--auth none); every caller is admin");
            } else {
                crate::auth::bootstrap_admin_key(
                    opened.store.as_ref(),
                    config.auth.admin_key.as_ref(),
                    &config.data_dir,
                )
                .await?;
            }
        }

        let catalog = Arc::new(WhisperCatalog::new(
            config.models_dir.clone(),
            config.engine.default_model.clone(),
            LoadOptions {
                threads: config.engine.threads,
                compute_type: config.engine.compute_type,
            },
        ));
        let provided = provided_engines(&config, &catalog);
        // (engine, runners) this process runs.
        let running: Vec<(Arc<dyn Engine>, usize)> = match role {
            Role::All if config.engine.run_engines => provided
                .iter()
                .map(|engine| (Arc::clone(engine), 1))
                .collect(),
            Role::Engine { stage, concurrency } => {
                let engine = provided
                    .iter()
                    .find(|engine| engine.capabilities().stage == stage)
                    .with_context(|| format!("this build has no engine for the {stage} stage"))?;
                vec![(Arc::clone(engine), concurrency.max(1))]
            }
            Role::All | Role::Gateway | Role::Orchestrator => Vec::new(),
        };
        if running
            .iter()
            .any(|(engine, _)| engine.capabilities().stage == Stage::Transcribe)
        {
            warm_default_model(&config, &catalog).await?;
        }
        for (engine, _) in &running {
            let engine = Arc::clone(engine);
            tokio::task::spawn_blocking(move || engine.warm())
                .await?
                .map_err(|error| anyhow::anyhow!("{error}"))?;
        }

        let orchestrator = Orchestrator::new(
            Arc::clone(&opened.store),
            Arc::clone(&opened.queue),
            opened.blobs.clone(),
        )
        .with_webhooks(Arc::clone(&opened.webhooks));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut workers = Vec::new();
        let events: Arc<dyn TaskEvents> = Arc::new(opened.events.clone());
        let instance = instance_id();
        let mut registrations = Vec::new();
        // This process's runners, for the console's dashboard (the registry covers all processes).
        let mut local_workers = Vec::new();
        for (engine, runners) in &running {
            let capabilities = engine.capabilities();
            let stage = capabilities.stage;
            let (counted, active) = CountingEngine::wrap(Arc::clone(engine));
            registrations.push(Registration::new(
                format!("{instance}-{stage}"),
                &capabilities,
                u32::try_from(*runners).unwrap_or(u32::MAX),
                active,
            ));
            for n in 0..*runners {
                let runner = Runner::new(
                    Arc::clone(&counted),
                    Arc::clone(&opened.store),
                    opened.blobs.clone(),
                    Arc::clone(&opened.queue),
                    Arc::clone(&events),
                    RunnerConfig {
                        worker_id: format!("{instance}-{stage}-{n}"),
                        lease: Duration::from_secs(config.engine.lease_secs),
                        retry: RetryPolicy {
                            max_attempts: config.engine.max_attempts,
                            ..RetryPolicy::default()
                        },
                        idle_wait: Duration::from_secs(2),
                        scratch_dir: config.data_dir.join("scratch"),
                    },
                );
                local_workers.push(crate::state::Worker {
                    engine: capabilities.clone(),
                    worker_id: format!("{instance}-{stage}-{n}"),
                    liveness: runner.liveness(),
                });
                workers.push(tokio::spawn(runner.run(shutdown_rx.clone())));
            }
        }
        if !registrations.is_empty() {
            // The first heartbeat is written before the process reports itself started, so
            // `/ready` and `/v1/engines` see the engines at once.
            for registration in &mut registrations {
                registration.beat(opened.registry.as_ref()).await?;
            }
            workers.push(tokio::spawn(crate::registry::heartbeat(
                Arc::clone(&opened.registry),
                registrations,
                shutdown_rx.clone(),
            )));
        }
        if role.runs_orchestrator() {
            let server_secret = crate::webhooks::signature::load_or_create_secret(
                config.webhooks.secret.as_ref(),
                &config.data_dir,
            )?;
            let deliverer = crate::webhooks::deliverer::Deliverer::new(
                Arc::clone(&opened.webhooks),
                Arc::clone(&opened.store),
                opened.blobs.clone(),
                server_secret,
                &config.webhooks,
            )?;
            workers.push(tokio::spawn(deliverer.run(shutdown_rx.clone())));
            let orchestrator_events = opened.orchestrator_events(&backends).await?;
            workers.push(tokio::spawn(orchestrator.clone().run(
                orchestrator_events,
                Duration::from_secs(5),
                shutdown_rx.clone(),
            )));
        }

        let http = if role.runs_gateway() {
            let state = Arc::new(AppState {
                store: opened.store,
                webhooks: opened.webhooks,
                registry: opened.registry,
                realtime_sessions: opened.realtime_sessions,
                realtime: Arc::new(crate::realtime::Realtime::new(
                    config.realtime.clone(),
                    Arc::clone(&catalog),
                    config.models_dir.clone(),
                )),
                blobs: opened.blobs,
                queue: opened.queue,
                orchestrator,
                job_events: opened.events,
                catalog,
                // A gateway plans with the engines this build provides; the registry says
                // which of them are running.
                engines: provided
                    .iter()
                    .map(|engine| engine.capabilities())
                    .collect(),
                workers: local_workers,
                // A busy runner beats every third of its lease, an idle one at every poll.
                worker_timeout: Duration::from_secs(config.engine.lease_secs),
                limits: config.limits.clone(),
                auth_disabled,
                allow_private_targets: config.webhooks.allow_private_targets,
                audio_urls: crate::audio_url::AudioUrlFetcher::new(
                    Duration::from_secs(config.limits.audio_url_timeout_secs),
                    config.webhooks.allow_private_targets,
                )?,
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
                .layer(
                    // Spans name the path only: a WebSocket URL may carry a credential
                    // (`?token=`, `?api_key=`) in its query.
                    tower_http::trace::TraceLayer::new_for_http().make_span_with(
                        |request: &axum::http::Request<axum::body::Body>| {
                            tracing::info_span!(
                                "request",
                                method = %request.method(),
                                path = %request.uri().path(),
                            )
                        },
                    ),
                )
                .with_state(state);
            let address = config.bind_address();
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("binding {address}"))?;
            Some((listener, router))
        } else {
            None
        };
        let port = match &http {
            Some((listener, _)) => listener.local_addr()?.port(),
            None => 0,
        };
        Ok(Self {
            http,
            shutdown,
            workers,
            port,
            role,
        })
    }

    /// The gateway's port; 0 for roles without HTTP.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The gateway's address.
    ///
    /// # Errors
    /// A role without HTTP.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.http {
            Some((listener, _)) => listener.local_addr(),
            None => Err(std::io::Error::other("this role serves no HTTP")),
        }
    }

    /// Serves until `stop` resolves, then stops the workers.
    ///
    /// # Errors
    /// When the listener fails.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        match self.http {
            Some((listener, router)) => {
                tracing::info!(role = self.role.name(), address = %listener.local_addr()?, "dalston is listening");
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await?;
            }
            None => {
                tracing::info!(role = self.role.name(), "dalston is running");
                stop.await;
            }
        }
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

/// Identifies this process in lease owners (worker ids) and the engine registry, so leases of
/// different runs and machines differ.
fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "local".to_owned()
    } else {
        host
    };
    format!(
        "{host}-{}-{}",
        std::process::id(),
        dalston_store::clock::now_ms()
    )
}
