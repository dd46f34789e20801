//! `dalston transcribe FILE`: upload, follow progress, print the transcript.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::client::{Client, DEFAULT_SERVER, resolve_key};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Srt,
    Vtt,
}

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Audio or video file.
    file: PathBuf,
    /// Server URL (default: a local server on the default port).
    #[arg(long, env = "DALSTON_SERVER_URL", default_value = DEFAULT_SERVER)]
    server: String,
    /// API key (default: the admin key of a local server's data dir).
    #[arg(long, env = "DALSTON_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Data dir of the local server, to find its admin key.
    #[arg(long, env = "DALSTON_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: OutputFormat,
    /// Language code (e.g. `en`); detected when omitted.
    #[arg(long)]
    language: Option<String>,
    /// Model id (`whisper-base`, `whisper-tiny.en`); the server's default when omitted.
    #[arg(long)]
    model: Option<String>,
}

pub async fn run(args: TranscribeArgs) -> anyhow::Result<()> {
    let client = Client::new(
        &args.server,
        resolve_key(args.api_key.clone(), args.data_dir.as_deref()),
    );
    let bytes = tokio::fs::read(&args.file)
        .await
        .with_context(|| format!("reading {}", args.file.display()))?;
    let file_name = args.file.file_name().map_or_else(
        || "audio".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(file_name),
    );
    if let Some(language) = &args.language {
        form = form.text("language", language.clone());
    }
    if let Some(model) = &args.model {
        form = form.text("model", model.clone());
    }
    let created: serde_json::Value = client
        .send(client.post("/v1/audio/transcriptions").multipart(form))
        .await?
        .json()
        .await?;
    let job_id = created["id"]
        .as_str()
        .context("the server did not return a job id")?
        .to_owned();

    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:12} [{bar:40}] {pos:>3}%")?
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let job = loop {
        let job: serde_json::Value = client
            .send(client.get(&format!("/v1/audio/transcriptions/{job_id}")))
            .await?
            .json()
            .await?;
        bar.set_position(job["progress"].as_u64().unwrap_or(0));
        bar.set_message(job["current_stage"].as_str().unwrap_or("").to_owned());
        match job["status"].as_str() {
            Some("completed") => break job,
            Some("failed") => {
                bar.abandon();
                bail!(
                    "job {job_id} failed: {}",
                    job["error"].as_str().unwrap_or("unknown reason")
                );
            }
            Some("cancelled") => {
                bar.abandon();
                bail!("job {job_id} was cancelled");
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    bar.finish_and_clear();

    let output = match args.format {
        OutputFormat::Text => format!("{}\n", job["text"].as_str().unwrap_or_default()),
        OutputFormat::Json => format!("{}\n", serde_json::to_string_pretty(&job)?),
        OutputFormat::Srt | OutputFormat::Vtt => {
            let format = if matches!(args.format, OutputFormat::Srt) {
                "srt"
            } else {
                "vtt"
            };
            client
                .send(client.get(&format!(
                    "/v1/audio/transcriptions/{job_id}/export/{format}"
                )))
                .await?
                .text()
                .await?
        }
    };
    use std::io::Write as _;
    std::io::stdout().write_all(output.as_bytes())?;
    Ok(())
}
