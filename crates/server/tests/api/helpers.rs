//! `spawn_app()` and typed helpers over the API, on either [`Deployment`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use dalston_server::config::{Config, LimitsConfig};
use dalston_server::{Application, telemetry};
use secrecy::SecretString;
use serde_json::Value;

use crate::deployment::Deployment;

/// The admin key every test server is created with.
pub const ADMIN_KEY: &str = "dk_test_admin_key_0123456789abcdefghijklmnopqrstuv";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// What the server was built from, to start it again on the same data and backends.
    config: Config,
    running: Vec<Running>,
    data_dir: tempfile::TempDir,
    deployment: Deployment,
}

/// One application serving in the background, and how to stop it.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Where `scripts/fetch-models` put the models.
pub fn models_dir() -> PathBuf {
    std::env::var_os("DALSTON_MODELS_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/dalston/models"),
        PathBuf::from,
    )
}

/// Where `scripts/fetch-models` put the test speech.
pub fn test_data_dir() -> PathBuf {
    let dir = std::env::var_os("DALSTON_TEST_DATA_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/dalston/test-data"),
        PathBuf::from,
    );
    assert!(
        dir.join("jfk.wav").is_file(),
        "test speech missing in {}: run scripts/fetch-models",
        dir.display()
    );
    dir
}

pub fn test_file(name: &str) -> PathBuf {
    test_data_dir().join(name)
}

/// Options for a test server.
#[derive(Default)]
pub struct AppOptions {
    pub deployment: Deployment,
    /// Skip loading models and running engines (auth and validation tests).
    pub without_engines: bool,
    pub limits: Option<LimitsConfig>,
    pub webhooks: Option<dalston_server::config::WebhookConfig>,
    /// Models from this directory instead of [`models_dir`].
    pub models_dir: Option<PathBuf>,
    pub realtime: Option<dalston_server::config::RealtimeConfig>,
}

pub async fn spawn_app(deployment: Deployment) -> TestApp {
    spawn_app_with(AppOptions {
        deployment,
        ..AppOptions::default()
    })
    .await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init();
    }
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: data_dir.path().to_path_buf(),
        models_dir: options.models_dir.clone().unwrap_or_else(models_dir),
        ..Config::default()
    };
    config.server.port = 0;
    config.auth.admin_key = Some(SecretString::from(ADMIN_KEY));
    config.engine.run_engines = !options.without_engines;
    if let Some(limits) = options.limits {
        config.limits = limits;
    }
    // Test receivers listen on loopback, which the SSRF guard refuses by default.
    config.webhooks.allow_private_targets = true;
    if let Some(webhooks) = options.webhooks {
        config.webhooks = webhooks;
    }
    if let Some(realtime) = options.realtime {
        config.realtime = realtime;
    }
    options.deployment.configure(&mut config);
    start(config, data_dir, options.deployment).await
}

async fn start(config: Config, data_dir: tempfile::TempDir, deployment: Deployment) -> TestApp {
    let apps = deployment.build(&config).await;
    let port = apps
        .iter()
        .map(Application::port)
        .find(|port| *port != 0)
        .expect("a gateway");
    let running = apps
        .into_iter()
        .map(|app| {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(app.run_until(async {
                let _ = stopped.await;
            }));
            Running { stop, task }
        })
        .collect();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        config,
        running,
        data_dir,
        deployment,
    }
}

/// A multipart form as the SDKs send it: the `file` part (read from `file`) and text fields.
pub fn form(file: &Path, fields: &[(&str, &str)]) -> reqwest::multipart::Form {
    let bytes = std::fs::read(file).expect("read test file");
    let name = file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    form_from_bytes(bytes, &name, fields)
}

pub fn form_from_bytes(
    bytes: Vec<u8>,
    file_name: &str,
    fields: &[(&str, &str)],
) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
    );
    for (name, value) in fields {
        form = form.text((*name).to_owned(), (*value).to_owned());
    }
    form
}

impl TestApp {
    /// Stops the server (every role, workers too) and starts it again on the same data dir and
    /// backends, with the same config as changed by `change`.
    pub async fn restart(self, change: impl FnOnce(&mut Config)) -> TestApp {
        // All at once, as a deployment is stopped: no role goes on working while others stop.
        let mut tasks = Vec::new();
        for running in self.running {
            let _ = running.stop.send(());
            tasks.push(running.task);
        }
        for stopped in futures::future::join_all(tasks).await {
            stopped.expect("server task").expect("server stops cleanly");
        }
        let mut config = self.config;
        change(&mut config);
        start(config, self.data_dir, self.deployment).await
    }

    /// The secret that signs deliveries to a job's own `webhook_url`, which the server generated.
    pub fn webhook_secret(&self) -> String {
        let dir = self.deployment.orchestrator_data_dir(self.data_dir.path());
        let secret = std::fs::read_to_string(dir.join("webhook.secret")).expect("secret file");
        secret.trim().to_owned()
    }

    /// Whether `needle` is stored anywhere in the metadata database.
    pub async fn database_contains(&self, needle: &str) -> bool {
        self.deployment
            .database_contains(&self.config, needle)
            .await
    }

    /// The keys of every blob stored for jobs.
    pub async fn job_blobs(&self) -> Vec<String> {
        self.deployment.job_blobs(&self.config).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(ADMIN_KEY)
    }

    /// Uploads a file as a new job with extra form fields.
    pub async fn post_transcription(
        &self,
        file: &Path,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let bytes = std::fs::read(file).expect("read test file");
        self.post_bytes(
            bytes,
            &file.file_name().expect("name").to_string_lossy(),
            fields,
        )
        .await
    }

    pub async fn post_bytes(
        &self,
        bytes: Vec<u8>,
        file_name: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(self.url("/v1/audio/transcriptions"))
            .bearer_auth(ADMIN_KEY)
            .multipart(form_from_bytes(bytes, file_name, fields))
            .send()
            .await
            .expect("request")
    }

    /// Uploads and returns the new job id, asserting 201.
    pub async fn submit(&self, file: &Path, fields: &[(&str, &str)]) -> String {
        let response = self.post_transcription(file, fields).await;
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "upload of {} refused: {body}", file.display());
        body["id"].as_str().expect("id").to_owned()
    }

    /// How many jobs the native API lists (what a refused request must not have added to).
    pub async fn job_count(&self) -> usize {
        let list: Value = self
            .get("/v1/audio/transcriptions")
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        list["jobs"].as_array().expect("jobs").len()
    }

    pub async fn job(&self, id: &str) -> Value {
        self.get(&format!("/v1/audio/transcriptions/{id}"))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    /// Polls until the job is terminal (at most `timeout`), returning its last state.
    pub async fn wait_for_job(&self, id: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let job = self.job(id).await;
            if matches!(
                job["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} did not finish in {timeout:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Uploads `samples` (16 kHz mono) as a WAV file named `name` and waits for the job,
    /// asserting it completed.
    pub async fn transcribe_samples(
        &self,
        samples: &[f32],
        name: &str,
        fields: &[(&str, &str)],
    ) -> Value {
        let wav = dalston_audio::encode_wav_pcm16(samples, dalston_audio::TARGET_SAMPLE_RATE_HZ);
        let response = self.post_bytes(wav, name, fields).await;
        let status = response.status();
        let created: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "upload of {name} refused: {created}");
        let id = created["id"].as_str().expect("id");
        let job = self.wait_for_job(id, Duration::from_secs(300)).await;
        assert_eq!(job["status"], "completed", "{job}");
        job
    }

    /// Submits, waits for completion and returns the job, asserting it completed.
    pub async fn transcribe(&self, file: &Path, fields: &[(&str, &str)]) -> Value {
        let id = self.submit(file, fields).await;
        let job = self.wait_for_job(&id, Duration::from_secs(300)).await;
        assert_eq!(job["status"], "completed", "job failed: {job}");
        job
    }

    pub async fn assert_healthy(&self) {
        let response = self
            .client
            .get(self.url("/health"))
            .send()
            .await
            .expect("health");
        assert_eq!(response.status(), 200);
    }
}

/// Converts a test file with ffmpeg into `dir` (tests that need format variants).
///
/// Panics when ffmpeg is missing under CI; elsewhere returns `None` so the caller can say so.
pub fn ffmpeg_convert(input: &Path, dir: &Path, name: &str, args: &[&str]) -> Option<PathBuf> {
    let output = dir.join(name);
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(input)
        .args(args)
        .arg(&output)
        .status();
    match status {
        Ok(status) if status.success() => Some(output),
        Ok(status) => panic!("ffmpeg failed converting to {name}: {status}"),
        Err(error) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "ffmpeg is required under CI: {error}"
            );
            eprintln!("skipping {name}: ffmpeg is not installed ({error})");
            None
        }
    }
}

/// A recording decoded to 16 kHz mono samples, as prepare decodes it.
pub fn decode_samples(path: &Path) -> Vec<f32> {
    let options = dalston_audio::DecodeOptions {
        ffmpeg: dalston_audio::FfmpegPolicy::Never,
        ..dalston_audio::DecodeOptions::default()
    };
    dalston_audio::decode_file(path, &options)
        .unwrap_or_else(|error| panic!("decoding {}: {error}", path.display()))
        .samples
}

/// Speaks `text` with espeak-ng (`args` choose the voice) into the WAV file `output`.
///
/// Panics when espeak-ng is missing under CI; elsewhere returns `false` so the caller can skip.
pub fn espeak(args: &[&str], text: &str, output: &Path) -> bool {
    let spoken = std::process::Command::new("espeak-ng")
        .args(args)
        .arg("-w")
        .arg(output)
        .arg(text)
        .status();
    match spoken {
        Ok(status) => {
            assert!(status.success(), "espeak-ng failed: {status}");
            true
        }
        Err(error) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "espeak-ng is required under CI: {error}"
            );
            eprintln!("skipping: espeak-ng is not installed ({error})");
            false
        }
    }
}

/// A 16-bit PCM WAV file of two channels at 16 kHz, `left` and `right` padded with silence to
/// the same length.
pub fn stereo_wav(left: &[f32], right: &[f32]) -> Vec<u8> {
    let frames = left.len().max(right.len());
    let data_len = u32::try_from(frames * 4).expect("a test recording");
    let mut wav = Vec::with_capacity(44 + frames * 4);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    // PCM, 2 channels, 16 kHz, 64000 bytes/s, 4-byte frames, 16 bits.
    for field in [16u32.to_le_bytes().to_vec(), vec![1, 0, 2, 0]] {
        wav.extend_from_slice(&field);
    }
    wav.extend_from_slice(&16_000u32.to_le_bytes());
    wav.extend_from_slice(&64_000u32.to_le_bytes());
    wav.extend_from_slice(&[4, 0, 16, 0]);
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    let pcm = |channel: &[f32], frame: usize| -> [u8; 2] {
        let sample = channel.get(frame).copied().unwrap_or(0.0).clamp(-1.0, 1.0);
        #[expect(clippy::cast_possible_truncation, reason = "scaled into i16")]
        let value = (sample * f32::from(i16::MAX)) as i16;
        value.to_le_bytes()
    };
    for frame in 0..frames {
        wav.extend_from_slice(&pcm(left, frame));
        wav.extend_from_slice(&pcm(right, frame));
    }
    wav
}

/// Seconds of silence before the second speaker's channel starts in [`two_sided_call`].
pub const SECOND_SIDE_STARTS_SECS: f64 = 12.0;

/// A call recorded one side per channel: jfk on channel 0 from the start, the LibriVox reader
/// (about Mr. John Dashwood) on channel 1 from [`SECOND_SIDE_STARTS_SECS`], so they never talk
/// at once.
pub fn two_sided_call() -> Vec<u8> {
    let jfk = decode_samples(&test_file("jfk.wav"));
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "seconds"
    )]
    let mut reader = vec![0.0; (SECOND_SIDE_STARTS_SECS * 16_000.0) as usize];
    reader.extend(decode_samples(
        &test_data_dir().join("librivox/sense_and_sensibility_01_austen_64kb-0870.wav"),
    ));
    stereo_wav(&jfk, &reader)
}

/// A file server on a free loopback port for URL ingestion, returning its base address:
/// `/jfk.wav` (with a `Content-Length`), `/stream/jfk.wav` (chunked, no length),
/// `/redirect/jfk.wav` (302 to the streamed one), `/slow.wav` (answers after 5 s); anything else
/// is 404.
pub async fn serve_audio_files() -> String {
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::get;
    let jfk = bytes::Bytes::from(std::fs::read(test_file("jfk.wav")).expect("read jfk.wav"));
    let whole = jfk.clone();
    let router = axum::Router::new()
        .route("/jfk.wav", get(move || async move { whole.clone() }))
        .route(
            "/stream/jfk.wav",
            get(move || async move {
                let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = jfk
                    .chunks(16 * 1024)
                    .map(|chunk| Ok(jfk.slice_ref(chunk)))
                    .collect();
                axum::body::Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        .route(
            "/redirect/jfk.wav",
            get(|| async { Redirect::to("/stream/jfk.wav") }),
        )
        .route(
            "/slow.wav",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late".into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("file server") });
    address
}
