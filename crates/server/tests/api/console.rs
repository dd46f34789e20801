//! The web console in a real browser: `web/tests/console.mjs` drives Debian's headless Chromium
//! with playwright-core (from `web/node_modules`, which the server's build script installs)
//! against the real server with the real model. Screenshots of every page land in
//! `$CARGO_TARGET_TMPDIR/console-screenshots` (`target/tmp/console-screenshots`). Under CI a
//! missing browser fails the test instead of skipping it.
//!
//! These run on the embedded deployment only: the console is a client of the HTTP API, whose
//! answers on the distributed deployment the other tests check, so a second browser run (about
//! 45 s here) would test no backend behaviour they do not.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dalston_server::config::WebhookConfig;

use crate::helpers::{ADMIN_KEY, AppOptions, TestApp, models_dir, spawn_app_with, test_file};

fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

/// Chromium and the playwright-core package, or why they are missing.
fn browser() -> Option<PathBuf> {
    let chromium = std::env::var_os("DALSTON_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let playwright = web_dir().join("node_modules/playwright-core/package.json");
    let missing = if !chromium.is_file() {
        Some(format!("{} (apt-get install chromium)", chromium.display()))
    } else if !playwright.is_file() {
        Some(format!("{} (npm ci in web/)", playwright.display()))
    } else {
        None
    };
    match missing {
        None => Some(chromium),
        Some(missing) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the browser tests need {missing} under CI"
            );
            eprintln!("skipping the browser tests: {missing} is missing");
            None
        }
    }
}

/// The real models plus `whisper-broken`, a model directory whose weights are not a model: a job
/// asking for it fails in the transcribe stage, after its retries, with the loader's reason.
fn models_with_a_broken_one(dir: &Path) -> PathBuf {
    let models = dir.join("models");
    std::fs::create_dir_all(models.join("whisper-broken")).expect("models dir");
    std::fs::write(models.join("whisper-broken/model.bin"), b"not a model").expect("write");
    for entry in std::fs::read_dir(models_dir()).expect("models") {
        let entry = entry.expect("entry");
        std::os::unix::fs::symlink(entry.path(), models.join(entry.file_name())).expect("link");
    }
    models
}

/// Runs one scenario of `web/tests/console.mjs` against `app`, failing with the script's output.
async fn run_browser(app: &TestApp, chromium: &Path, scenario: &str, env: &[(&str, &str)]) {
    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshot dir");
    let output = tokio::process::Command::new("node")
        .arg(web_dir().join("tests/console.mjs"))
        .arg(scenario)
        .current_dir(web_dir())
        .env("DALSTON_URL", &app.address)
        .env("DALSTON_ADMIN_KEY", ADMIN_KEY)
        .env("DALSTON_CHROMIUM", chromium)
        .env("DALSTON_SCREENSHOTS", &screenshots)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    assert!(
        output.status.success(),
        "the browser checks ({scenario}) failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_console_signs_in_hides_what_a_key_cannot_do_and_manages_keys_and_webhooks() {
    let Some(chromium) = browser() else { return };
    let app = spawn_app_with(AppOptions {
        without_engines: true,
        ..Default::default()
    })
    .await;
    run_browser(&app, &chromium, "access", &[]).await;
}

#[tokio::test]
async fn the_console_runs_a_job_from_upload_to_a_played_transcript_and_shows_failures() {
    let Some(chromium) = browser() else { return };
    let scratch = tempfile::tempdir().expect("tempdir");
    let app = spawn_app_with(AppOptions {
        models_dir: Some(models_with_a_broken_one(scratch.path())),
        // One attempt, so a delivery to a closed port fails at once and can be retried by hand.
        webhooks: Some(WebhookConfig {
            max_attempts: 1,
            poll_interval_ms: 200,
            timeout_secs: 2,
            // The test's webhook targets are on loopback.
            allow_private_targets: true,
            ..WebhookConfig::default()
        }),
        ..Default::default()
    })
    .await;
    // A failed job, failed by the real pipeline: the broken model does not load.
    let failed = app
        .submit(&test_file("jfk.wav"), &[("model", "whisper-broken")])
        .await;
    let job = app.wait_for_job(&failed, Duration::from_secs(120)).await;
    assert_eq!(job["status"], "failed", "{job}");
    let audio = test_file("jfk.wav");
    let audio = audio.to_str().expect("utf-8 path");
    run_browser(
        &app,
        &chromium,
        "jobs",
        &[("DALSTON_AUDIO", audio), ("DALSTON_FAILED_JOB", &failed)],
    )
    .await;
}
