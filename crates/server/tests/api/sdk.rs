//! The official client SDKs, unchanged, against the real server. They run from a Python virtual
//! environment that `scripts/test` prepares (`DALSTON_SDK_PYTHON` names its interpreter);
//! under CI a missing environment fails the test instead of skipping it.

use std::path::PathBuf;

use crate::deployment::{Deployment, on_both_deployments};
use crate::helpers::{ADMIN_KEY, AppOptions, spawn_app_with, test_file};

fn sdk_python() -> Option<PathBuf> {
    let python = std::env::var_os("DALSTON_SDK_PYTHON").map(PathBuf::from);
    if python.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "DALSTON_SDK_PYTHON must be set under CI (scripts/test does it)"
        );
        eprintln!("skipping the SDK checks: DALSTON_SDK_PYTHON is not set (run scripts/test)");
    }
    python
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sdk")
        .join(name)
}

/// Runs one SDK script against a fresh server and fails with its output.
async fn run_sdk_script(options: AppOptions, name: &str) {
    let Some(python) = sdk_python() else { return };
    let app = spawn_app_with(options).await;
    let output = tokio::process::Command::new(python)
        .arg(script(name))
        .arg(&app.address)
        .arg(ADMIN_KEY)
        .arg(test_file("jfk.wav"))
        .output()
        .await
        .expect("run python");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn on(deployment: Deployment) -> AppOptions {
    AppOptions {
        deployment,
        ..AppOptions::default()
    }
}

async fn the_official_openai_sdk_works_unchanged(deployment: Deployment) {
    run_sdk_script(on(deployment), "openai_sdk.py").await;
}

async fn the_official_elevenlabs_sdk_works_unchanged(deployment: Deployment) {
    run_sdk_script(on(deployment), "elevenlabs_sdk.py").await;
}

/// Realtime sessions run in the gateway, whichever deployment it belongs to.
async fn the_official_elevenlabs_sdk_realtime_client_works_unchanged(deployment: Deployment) {
    let options = AppOptions {
        realtime: Some(crate::realtime::realtime_config()),
        ..on(deployment)
    };
    run_sdk_script(options, "elevenlabs_realtime.py").await;
}

on_both_deployments!(
    the_official_openai_sdk_works_unchanged,
    the_official_elevenlabs_sdk_works_unchanged,
    the_official_elevenlabs_sdk_realtime_client_works_unchanged,
);
