//! Unusable uploads get a typed 4xx and leave the server healthy; nothing is created for them.

use dalston_server::config::LimitsConfig;
use serde_json::Value;

use crate::deployment::{Deployment, on_both_deployments};
use crate::helpers::{AppOptions, TestApp, ffmpeg_convert, spawn_app_with, test_file};

async fn assert_rejected(
    app: &TestApp,
    bytes: Vec<u8>,
    name: &str,
    status: u16,
    code: &str,
) -> Value {
    let response = app.post_bytes(bytes, name, &[]).await;
    assert_eq!(response.status(), status, "{name}");
    let body: Value = response.json().await.expect("json error body");
    assert_eq!(body["detail"]["status"], code, "{name}: {body}");
    assert!(
        body["detail"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    app.assert_healthy().await;
    body
}

async fn unusable_uploads_are_refused_with_typed_errors(deployment: Deployment) {
    let app = spawn_app_with(AppOptions {
        deployment,
        without_engines: true,
        ..Default::default()
    })
    .await;

    let body = assert_rejected(
        &app,
        b"this is a text file, not audio\n".repeat(50),
        "notes.txt",
        400,
        "invalid_audio",
    )
    .await;
    assert_eq!(body["detail"]["reason"], "unsupported_audio");
    let body = assert_rejected(&app, Vec::new(), "empty.wav", 400, "invalid_audio").await;
    assert_eq!(body["detail"]["reason"], "empty_audio");

    // An m4a cut before its index cannot be decoded at all.
    let scratch = tempfile::tempdir().expect("tempdir");
    if let Some(m4a) = ffmpeg_convert(
        &test_file("jfk.wav"),
        scratch.path(),
        "jfk.m4a",
        &["-codec:a", "aac"],
    ) {
        let bytes = std::fs::read(m4a).expect("read");
        let truncated = bytes[..bytes.len() / 3].to_vec();
        let body = assert_rejected(&app, truncated, "cut.m4a", 400, "invalid_audio").await;
        assert!(
            matches!(
                body["detail"]["reason"].as_str(),
                Some("corrupt_audio" | "unsupported_audio")
            ),
            "{body}"
        );
    }

    // Form problems.
    let missing_file = app
        .client
        .post(app.url("/v1/audio/transcriptions"))
        .bearer_auth(crate::helpers::ADMIN_KEY)
        .multipart(reqwest::multipart::Form::new().text("language", "en"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing_file.status(), 400);
    let not_multipart = app
        .client
        .post(app.url("/v1/audio/transcriptions"))
        .bearer_auth(crate::helpers::ADMIN_KEY)
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(not_multipart.status(), 400);
    let jfk = std::fs::read(test_file("jfk.wav")).expect("jfk");
    for (field, value) in [
        ("model", "whisper-huge"),
        ("num_speakers", "99"),
        ("timestamps_granularity", "char"),
        ("language", "english"),
    ] {
        let response = app
            .post_bytes(jfk.clone(), "jfk.wav", &[(field, value)])
            .await;
        assert_eq!(response.status(), 400, "{field}={value}");
    }
    assert_eq!(
        app.job_count().await,
        0,
        "no job may exist for a refused upload"
    );
}

async fn uploads_over_the_limits_are_refused(deployment: Deployment) {
    let limits = LimitsConfig {
        max_upload_bytes: 100_000,
        max_audio_duration_secs: 5.0,
        ..LimitsConfig::default()
    };
    let app = spawn_app_with(AppOptions {
        deployment,
        without_engines: true,
        limits: Some(limits),
        ..Default::default()
    })
    .await;
    let jfk = std::fs::read(test_file("jfk.wav")).expect("jfk");
    assert!(jfk.len() > 100_000);
    assert_rejected(&app, jfk, "jfk.wav", 413, "payload_too_large").await;
    let mp3 = std::fs::read(test_file("jfk.mp3")).expect("jfk.mp3");
    assert!(mp3.len() < 100_000);
    let body = assert_rejected(&app, mp3, "jfk.mp3", 400, "invalid_audio").await;
    assert_eq!(body["detail"]["reason"], "audio_too_long");
    assert_eq!(app.job_count().await, 0);
}

async fn a_key_with_too_many_unfinished_jobs_is_told_to_wait(deployment: Deployment) {
    let limits = LimitsConfig {
        max_active_jobs_per_key: 1,
        ..LimitsConfig::default()
    };
    // Without engines the first job stays pending.
    let app = spawn_app_with(AppOptions {
        deployment,
        without_engines: true,
        limits: Some(limits),
        ..Default::default()
    })
    .await;
    app.submit(&test_file("jfk.wav"), &[]).await;
    let jfk = std::fs::read(test_file("jfk.wav")).expect("jfk");
    assert_rejected(&app, jfk, "jfk.wav", 429, "rate_limited").await;
    assert_eq!(app.job_count().await, 1);
}

on_both_deployments!(
    unusable_uploads_are_refused_with_typed_errors,
    uploads_over_the_limits_are_refused,
    a_key_with_too_many_unfinished_jobs_is_told_to_wait,
);
