//! Live transcription in the gateway: capacity, the shared models, and the settings every
//! protocol's sessions are built from.
//!
//! Sessions run in the gateway process on the same loaded models as batch work (the
//! [`WhisperCatalog`] of this process and one Silero VAD). A deployment scales realtime by
//! running more gateways; each enforces its own `max_sessions`, so a full gateway refuses a
//! session at once instead of slowing the sessions it already runs.

mod capacity;
mod enhancement;
mod tokens;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dalston_engine::engines::WhisperCatalog;
use dalston_models::vad::SileroVad;
use dalston_realtime::{EndpointOptions, LagLimits, SessionConfig, SessionModels};

pub use self::capacity::{Capacity, CapacitySnapshot, Refusal, SessionPermit};
pub use self::enhancement::{EnhancementRequest, SessionRecording};
pub use self::tokens::{REALTIME_TOKEN_PURPOSE, TOKEN_LIFETIME, TOKEN_PREFIX, hash_token};
use crate::config::RealtimeConfig;

/// What realtime routes share.
pub struct Realtime {
    pub config: RealtimeConfig,
    pub capacity: Capacity,
    catalog: Arc<WhisperCatalog>,
    vad_dir: PathBuf,
    vad: OnceLock<Arc<SileroVad>>,
}

impl std::fmt::Debug for Realtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Realtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A session's models could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ModelRefusal {
    #[error("{0}")]
    UnknownModel(String),
    #[error("{0}")]
    Unavailable(String),
}

impl Realtime {
    pub fn new(config: RealtimeConfig, catalog: Arc<WhisperCatalog>, models_dir: PathBuf) -> Self {
        Self {
            capacity: Capacity::new(config.max_sessions, config.max_sessions_per_key),
            config,
            catalog,
            vad_dir: models_dir.join("silero-vad"),
            vad: OnceLock::new(),
        }
    }

    /// The model id a session asked for (`None`/`auto` → the default).
    pub fn resolve_model(&self, requested: Option<&str>) -> String {
        self.catalog.resolve(requested).to_owned()
    }

    /// Loads (once) and returns the session's models; blocking, so call it from a blocking
    /// thread.
    ///
    /// # Errors
    /// An unknown model id, or a model that does not load.
    pub fn models(&self, model_id: &str) -> Result<SessionModels, ModelRefusal> {
        let whisper = self.catalog.get(model_id).map_err(|error| match error {
            dalston_engine::EngineError::InvalidInput { message, .. } => {
                ModelRefusal::UnknownModel(message)
            }
            other => ModelRefusal::Unavailable(other.to_string()),
        })?;
        let vad = match self.vad.get() {
            Some(vad) => Arc::clone(vad),
            None => {
                let loaded = SileroVad::load(&self.vad_dir).map_err(|error| {
                    ModelRefusal::Unavailable(format!(
                        "the voice activity model is not installed ({error}); run scripts/fetch-models"
                    ))
                })?;
                Arc::clone(self.vad.get_or_init(|| Arc::new(loaded)))
            }
        };
        Ok(SessionModels { whisper, vad })
    }

    /// Session settings from this server's configuration and what the client chose.
    pub fn session_config(&self, choice: SessionChoice) -> SessionConfig {
        let config = &self.config;
        SessionConfig {
            language: choice.language,
            endpointing: choice.endpointing,
            interim_results: choice.interim_results,
            word_timestamps: choice.word_timestamps,
            partial_every: Duration::from_millis(config.partial_interval_ms),
            beam_size: config.beam_size,
            full_window_finals: config.full_window_finals,
            prompt: choice.prompt,
            lag: LagLimits {
                warn_secs: config.lag_warning_secs,
                close_secs: config.lag_limit_secs,
                grace: Duration::from_secs_f64(config.lag_grace_secs.max(0.0)),
            },
            ..SessionConfig::default()
        }
    }

    /// The server's endpointing defaults; each protocol overrides what its client set.
    pub fn endpointing(&self) -> EndpointOptions {
        EndpointOptions {
            min_silence_ms: self.config.min_silence_ms,
            ..EndpointOptions::default()
        }
    }
}

/// What a client chose for its session, protocol-independent.
#[derive(Debug, Clone)]
pub struct SessionChoice {
    pub language: Option<String>,
    pub endpointing: Option<EndpointOptions>,
    pub interim_results: bool,
    pub word_timestamps: bool,
    pub prompt: Option<String>,
}
