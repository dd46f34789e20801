//! The one typed configuration, loaded once at start-up.
//!
//! Layers, later ones winning: built-in defaults → `dalston.toml` in the working directory (or
//! the file given with `--config`) → `DALSTON_*` environment variables (`__` nests:
//! `DALSTON_LIMITS__MAX_UPLOAD_BYTES`) → command-line flags. [`Config::validate`] refuses to
//! start with a message that names the bad value. Nothing else in Dalston reads the environment.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use dalston_models::ComputeType;
use dalston_store::S3Settings;
use dalston_store::postgres::redact_password;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Names of the environment variables users and deployment scripts rely on.
pub mod env {
    pub const DATA_DIR: &str = "DALSTON_DATA_DIR";
    pub const MODELS_DIR: &str = "DALSTON_MODELS_DIR";
    pub const ADMIN_KEY: &str = "DALSTON_ADMIN_KEY";
    pub const WEBHOOK_SECRET: &str = "DALSTON_WEBHOOK_SECRET";
    pub const DATABASE_URL: &str = "DALSTON_DATABASE_URL";
    pub const QUEUE_URL: &str = "DALSTON_QUEUE_URL";
    pub const STORAGE_URL: &str = "DALSTON_STORAGE_URL";
    /// Prefix of every other setting (`DALSTON_SERVER__PORT`, `DALSTON_LIMITS__MAX_UPLOAD_BYTES`).
    pub const PREFIX: &str = "DALSTON_";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub server: ServerConfig,
    /// Where the embedded database, blobs and the generated admin key live.
    pub data_dir: PathBuf,
    /// Where model directories (`whisper-base/`, `whisper-tiny.en/`) are found.
    pub models_dir: PathBuf,
    /// `sqlite://…` (embedded) or `postgres://…` (distributed). Default:
    /// `sqlite://<data dir>/dalston.db`.
    pub database_url: Option<String>,
    /// `embedded` or `redis://…` (distributed). Default: `embedded`.
    pub queue_url: Option<String>,
    /// `file://…` or `s3://bucket[/prefix]` (settings in `s3`). Default: `file://<data dir>/blobs`.
    pub storage_url: Option<String>,
    /// How to reach the bucket of an `s3://` storage URL.
    pub s3: S3Config,
    pub limits: LimitsConfig,
    pub auth: AuthConfig,
    pub engine: EngineConfig,
    pub webhooks: WebhookConfig,
    pub realtime: RealtimeConfig,
}

/// Live transcription over WebSocket (`DALSTON_REALTIME__MAX_SESSIONS`, …).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RealtimeConfig {
    /// Sessions this gateway runs at once; the next one is refused with `no_capacity`.
    pub max_sessions: u32,
    /// Sessions one API key may hold at once.
    pub max_sessions_per_key: u32,
    /// Largest WebSocket message accepted (bytes).
    pub max_message_bytes: usize,
    /// Beam width of the final decode of each utterance (partials are greedy).
    pub beam_size: usize,
    /// Decode finals on a full 30 s window (default); `false` encodes only the utterance,
    /// several times faster but prone to repetition loops on short utterances.
    pub full_window_finals: bool,
    /// Silence that ends an utterance when the client lets the server decide (ms).
    pub min_silence_ms: u32,
    /// New audio before the growing utterance is decoded again for a partial (ms).
    pub partial_interval_ms: u64,
    /// Processing lag that earns the client a warning (s).
    pub lag_warning_secs: f64,
    /// Processing lag that, lasting `lag_grace_secs`, closes the session (s).
    pub lag_limit_secs: f64,
    pub lag_grace_secs: f64,
    /// Longest session (s); longer ones are ended with `session_time_limit_exceeded`.
    pub max_session_secs: u64,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            max_sessions: 4,
            max_sessions_per_key: 4,
            max_message_bytes: 1024 * 1024,
            beam_size: 1,
            full_window_finals: true,
            min_silence_ms: 400,
            partial_interval_ms: 500,
            lag_warning_secs: 3.0,
            lag_limit_secs: 5.0,
            lag_grace_secs: 2.0,
            max_session_secs: 4 * 3600,
        }
    }
}

/// Settings of an `s3://` storage URL (`DALSTON_S3__ENDPOINT`, …).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct S3Config {
    /// An S3-compatible server (`http://minio:9000`); AWS when absent.
    pub endpoint: Option<String>,
    /// Default `us-east-1`.
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    #[serde(skip_serializing)]
    pub secret_access_key: Option<SecretString>,
    /// `bucket.endpoint` requests (AWS style) instead of path-style `endpoint/bucket`, which
    /// MinIO-like servers expect (the default).
    pub virtual_hosted_style: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    pub host: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Largest upload accepted on the native API, in bytes (413 above).
    pub max_upload_bytes: u64,
    /// Longest audio accepted, in seconds (400 above).
    pub max_audio_duration_secs: f64,
    /// Largest non-file multipart field, in bytes.
    pub max_form_field_bytes: usize,
    /// Largest upload accepted on the OpenAI-compatible endpoints, in bytes (OpenAI's own 25 MiB).
    pub max_openai_upload_bytes: u64,
    /// How long a synchronous (OpenAI-compatible) request waits for its job, in seconds.
    pub sync_wait_secs: u64,
    /// Jobs a key may have pending or running at once (429 above).
    pub max_active_jobs_per_key: u32,
    /// How long fetching a job's audio from its URL (`audio_url`, ElevenLabs'
    /// `cloud_storage_url`/`source_url`) may take, redirects and body included, in seconds.
    /// The size cap is `max_upload_bytes`.
    pub audio_url_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// API keys are required (the default).
    Required,
    /// No authentication: local development only, refused on a non-loopback address.
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// The admin key to create on first start (`DALSTON_ADMIN_KEY`); generated when absent.
    #[serde(skip_serializing)]
    pub admin_key: Option<SecretString>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookConfig {
    /// Signs deliveries to a job's own `webhook_url` (`DALSTON_WEBHOOK_SECRET`, `whsec_…`);
    /// generated into `<data dir>/webhook.secret` when absent. Registered webhooks have their own.
    #[serde(skip_serializing)]
    pub secret: Option<SecretString>,
    /// Attempts per delivery before it fails.
    pub max_attempts: u32,
    /// First retry delay; each further one doubles (capped at an hour).
    pub retry_base_delay_ms: u64,
    /// Per-request timeout, in seconds.
    pub timeout_secs: u64,
    /// Consecutive failed deliveries after which a registered webhook is disabled.
    pub disable_after_failures: u32,
    /// How often the deliverer looks for due deliveries.
    pub poll_interval_ms: u64,
    /// Allow webhook targets on private, loopback or link-local addresses (the SSRF guard
    /// refuses them by default).
    pub allow_private_targets: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            secret: None,
            max_attempts: 8,
            retry_base_delay_ms: 5_000,
            timeout_secs: 10,
            disable_after_failures: 20,
            poll_interval_ms: 1_000,
            allow_private_targets: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// Model used when a request says `auto` or nothing.
    pub default_model: String,
    /// Inference threads; 0 lets the engine decide.
    pub threads: usize,
    /// Number format of Whisper's linear layers: `auto` (int8 where the CPU has AVX-512
    /// VNNI, else float32), `int8` or `float32`.
    pub compute_type: ComputeType,
    /// Whisper beam width at temperature 0 (1 = greedy; faster-whisper's default is 5).
    pub beam_size: usize,
    /// Seconds a task lease lasts without a heartbeat.
    pub lease_secs: u64,
    /// Attempts per task before it fails.
    pub max_attempts: u32,
    /// Whether prepare may call an `ffmpeg` binary for formats the built-in decoders lack.
    pub ffmpeg_fallback: bool,
    /// Whether `serve` runs the engines in-process (false for a gateway-only process).
    pub run_engines: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8000,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
            max_audio_duration_secs: 10.0 * 3600.0,
            max_form_field_bytes: 64 * 1024,
            max_openai_upload_bytes: 25 * 1024 * 1024,
            sync_wait_secs: 600,
            max_active_jobs_per_key: 100,
            audio_url_timeout_secs: 300,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Required,
            admin_key: None,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            default_model: "whisper-base".into(),
            threads: 0,
            compute_type: ComputeType::Auto,
            beam_size: 5,
            lease_secs: 30,
            max_attempts: 3,
            ffmpeg_fallback: true,
            run_engines: true,
        }
    }
}

fn home_cache(sub: &str) -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".dalston").join(sub),
        |home| PathBuf::from(home).join(".cache").join("dalston").join(sub),
    )
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            data_dir: home_cache("data"),
            models_dir: home_cache("models"),
            database_url: None,
            queue_url: None,
            storage_url: None,
            s3: S3Config::default(),
            limits: LimitsConfig::default(),
            auth: AuthConfig::default(),
            engine: EngineConfig::default(),
            webhooks: WebhookConfig::default(),
            realtime: RealtimeConfig::default(),
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerOverrides>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthOverrides>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthOverrides {
    pub mode: AuthMode,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Where metadata lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseBackend {
    Sqlite(String),
    Postgres(String),
}

/// How tasks reach engines and events reach the orchestrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueBackend {
    /// Rows in the SQLite database, notifications in-process: one process only.
    Embedded,
    /// Redis Streams and pub/sub, shared by any number of processes.
    Redis(String),
}

/// Where audio and artifacts live.
#[derive(Debug, Clone)]
pub enum StorageBackend {
    File(String),
    S3(S3Settings),
}

/// The backends, resolved from the URLs. Each comes from its own URL: nothing falls back to
/// another.
#[derive(Debug, Clone)]
pub struct Backends {
    pub database: DatabaseBackend,
    pub queue: QueueBackend,
    pub storage: StorageBackend,
}

impl Backends {
    /// Whether tasks and events cross process boundaries (what the separate roles need).
    pub fn is_shared(&self) -> bool {
        matches!(self.queue, QueueBackend::Redis(_))
    }
}

impl Config {
    /// Loads the layers described in the module docs.
    ///
    /// # Errors
    /// A value of the wrong type in a file or variable (the message names its source).
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let file = config_file.map_or_else(|| PathBuf::from("dalston.toml"), Path::to_path_buf);
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            // DALSTON_DATA_DIR → data_dir, DALSTON_LIMITS__MAX_UPLOAD_BYTES → limits.max_upload_bytes.
            .merge(Env::prefixed(env::PREFIX).split("__"))
            .merge(
                Env::raw()
                    .only(&[env::ADMIN_KEY])
                    .map(|_| "auth.admin_key".into()),
            )
            .merge(Serialized::defaults(overrides));
        let config: Config = figment.extract().map_err(Box::new)?;
        Ok(config)
    }

    /// Checks what types cannot, and resolves the backend URLs.
    ///
    /// # Errors
    /// The first problem found, in words a user can act on.
    pub fn validate(&self) -> Result<Backends, ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if self.auth.mode == AuthMode::None && !self.server.host.is_loopback() {
            return invalid(format!(
                "auth mode `none` is for local development only and refuses to listen on {}; use 127.0.0.1 or enable API keys",
                self.server.host
            ));
        }
        if self.limits.max_upload_bytes == 0
            || self.limits.max_audio_duration_secs <= 0.0
            || self.limits.audio_url_timeout_secs == 0
        {
            return invalid(
                "limits.max_upload_bytes, limits.max_audio_duration_secs and \
                 limits.audio_url_timeout_secs must be positive"
                    .into(),
            );
        }
        if self.engine.lease_secs < 2 {
            return invalid("engine.lease_secs must be at least 2 seconds".into());
        }
        if self.webhooks.max_attempts == 0 || self.webhooks.timeout_secs == 0 {
            return invalid(
                "webhooks.max_attempts and webhooks.timeout_secs must be at least 1".into(),
            );
        }
        if !(1..=dalston_models::MAX_BEAM_SIZE).contains(&self.engine.beam_size) {
            return invalid(format!(
                "engine.beam_size must be between 1 and {}",
                dalston_models::MAX_BEAM_SIZE
            ));
        }
        if self.engine.max_attempts == 0 {
            return invalid("engine.max_attempts must be at least 1".into());
        }
        let database_url = self
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("dalston.db").display()));
        let database = if database_url.starts_with("sqlite:") {
            DatabaseBackend::Sqlite(database_url)
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            DatabaseBackend::Postgres(database_url)
        } else {
            return invalid(format!(
                "{} must be sqlite://… or postgres://… (got {:?})",
                env::DATABASE_URL,
                redact_password(&database_url)
            ));
        };
        let queue = match self.queue_url.as_deref() {
            None | Some("embedded") => QueueBackend::Embedded,
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                QueueBackend::Redis(url.to_owned())
            }
            Some(other) => {
                return invalid(format!(
                    "{} must be `embedded` or redis://… (got {:?})",
                    env::QUEUE_URL,
                    redact_password(other)
                ));
            }
        };
        if queue == QueueBackend::Embedded && matches!(database, DatabaseBackend::Postgres(_)) {
            return invalid(format!(
                "{}=embedded keeps tasks in the SQLite database; with a postgres:// {} set {} to redis://…",
                env::QUEUE_URL,
                env::DATABASE_URL,
                env::QUEUE_URL
            ));
        }
        let storage_url = self
            .storage_url
            .clone()
            .unwrap_or_else(|| format!("file://{}", self.data_dir.join("blobs").display()));
        let storage = if storage_url.starts_with("file://") {
            StorageBackend::File(storage_url)
        } else if storage_url.starts_with("s3://") {
            let settings = S3Settings {
                url: storage_url,
                endpoint: self.s3.endpoint.clone(),
                region: self.s3.region.clone(),
                access_key_id: self.s3.access_key_id.clone(),
                secret_access_key: self
                    .s3
                    .secret_access_key
                    .as_ref()
                    .map(|secret| secret.expose_secret().to_owned()),
                virtual_hosted_style: self.s3.virtual_hosted_style,
            };
            if let Err(error) = settings.bucket_and_prefix() {
                return invalid(format!("{}: {error}", env::STORAGE_URL));
            }
            StorageBackend::S3(settings)
        } else {
            return invalid(format!(
                "{} must be file:///absolute/path or s3://bucket[/prefix] (got {storage_url:?})",
                env::STORAGE_URL
            ));
        };
        Ok(Backends {
            database,
            queue,
            storage,
        })
    }

    pub fn bind_address(&self) -> SocketAddr {
        SocketAddr::new(self.server.host, self.server.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_point_into_the_data_dir() {
        let config = Config {
            data_dir: PathBuf::from("/srv/dalston"),
            ..Config::default()
        };
        let backends = config.validate().expect("valid");
        assert_eq!(
            backends.database,
            DatabaseBackend::Sqlite("sqlite:///srv/dalston/dalston.db".into())
        );
        assert_eq!(backends.queue, QueueBackend::Embedded);
        assert!(
            matches!(&backends.storage, StorageBackend::File(url) if url == "file:///srv/dalston/blobs")
        );
        assert!(!backends.is_shared());
        assert_eq!(config.bind_address().to_string(), "127.0.0.1:8000");
    }

    #[test]
    fn no_auth_is_refused_off_loopback() {
        let mut config = Config::default();
        config.auth.mode = AuthMode::None;
        assert!(config.validate().is_ok());
        config.server.host = IpAddr::from([0, 0, 0, 0]);
        let error = config.validate().expect_err("refused").to_string();
        assert!(error.contains("local development only"), "{error}");
    }

    #[test]
    fn unsupported_backends_are_named() {
        for (config, variable) in [
            (
                Config {
                    queue_url: Some("amqp://localhost".into()),
                    ..Config::default()
                },
                "DALSTON_QUEUE_URL",
            ),
            (
                Config {
                    database_url: Some("mysql://root:hunter2@db/dalston".into()),
                    ..Config::default()
                },
                "DALSTON_DATABASE_URL",
            ),
            (
                Config {
                    storage_url: Some("gs://bucket".into()),
                    ..Config::default()
                },
                "DALSTON_STORAGE_URL",
            ),
            (
                Config {
                    storage_url: Some("s3://".into()),
                    ..Config::default()
                },
                "DALSTON_STORAGE_URL",
            ),
        ] {
            let error = config.validate().expect_err("refused").to_string();
            assert!(error.contains(variable), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn distributed_urls_resolve_to_their_backends() {
        let mut config = Config {
            database_url: Some("postgres://dalston:pw@db:5432/dalston".into()),
            queue_url: Some("redis://redis:6379/0".into()),
            storage_url: Some("s3://audio/dalston".into()),
            ..Config::default()
        };
        config.s3.endpoint = Some("http://minio:9000".into());
        config.s3.secret_access_key = Some(SecretString::from("s3-secret"));
        let backends = config.validate().expect("valid");
        assert!(matches!(backends.database, DatabaseBackend::Postgres(_)));
        assert_eq!(
            backends.queue,
            QueueBackend::Redis("redis://redis:6379/0".into())
        );
        let StorageBackend::S3(s3) = &backends.storage else {
            panic!("not S3: {:?}", backends.storage);
        };
        assert_eq!(s3.endpoint.as_deref(), Some("http://minio:9000"));
        assert_eq!(s3.secret_access_key.as_deref(), Some("s3-secret"));
        assert!(!s3.virtual_hosted_style, "path style by default");
        assert!(backends.is_shared());
    }

    #[test]
    fn the_embedded_queue_needs_the_sqlite_database() {
        let config = Config {
            database_url: Some("postgres://db/dalston".into()),
            ..Config::default()
        };
        let error = config.validate().expect_err("refused").to_string();
        assert!(error.contains("redis://"), "{error}");
    }

    #[test]
    fn overrides_win_over_defaults() {
        let overrides = Overrides {
            server: Some(ServerOverrides {
                host: None,
                port: Some(9999),
            }),
            data_dir: Some(PathBuf::from("/tmp/x")),
            ..Overrides::default()
        };
        let config =
            Config::load(Some(Path::new("/nonexistent/dalston.toml")), &overrides).expect("loads");
        assert_eq!(config.server.port, 9999);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
    }
}
