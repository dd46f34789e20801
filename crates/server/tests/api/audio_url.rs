//! Audio given by URL instead of uploaded: the native `audio_url` and ElevenLabs'
//! `source_url` / `cloud_storage_url`, fetched from a real file server on loopback (which the
//! test config allows), and every way a fetch fails answered with a typed error and no job.

use dalston_core::wer::word_error_rate;
use dalston_server::config::{LimitsConfig, WebhookConfig};
use serde_json::Value;

use crate::deployment::{Deployment, on_both_deployments};
use crate::helpers::{
    ADMIN_KEY, AppOptions, TestApp, form, serve_audio_files, spawn_app, spawn_app_with, test_file,
};

const JFK_TEXT: &str = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";

/// `POST /v1/speech-to-text` with text fields only (no `file` part).
async fn convert(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text((*name).to_owned(), (*value).to_owned());
    }
    app.client
        .post(app.url("/v1/speech-to-text"))
        .header("xi-api-key", ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .expect("request")
}

/// `POST /v1/audio/transcriptions` with text fields only.
async fn submit(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text((*name).to_owned(), (*value).to_owned());
    }
    app.client
        .post(app.url("/v1/audio/transcriptions"))
        .bearer_auth(ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .expect("request")
}

/// Asserts the status, the error code and (when given) the reason of an error in the
/// `{"detail": {"status", "message", "reason"}}` shape, which ElevenLabs' routes share.
async fn assert_error(response: reqwest::Response, status: u16, code: &str, reason: Option<&str>) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["detail"]["status"], code, "{body}");
    assert!(
        body["detail"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    if let Some(reason) = reason {
        assert_eq!(body["detail"]["reason"], reason, "{body}");
    }
}

async fn audio_urls_are_fetched_and_transcribed(deployment: Deployment) {
    let files = serve_audio_files().await;
    let app = spawn_app(deployment).await;

    // ElevenLabs' source_url, through a redirect to a chunked body with no length.
    let response = convert(
        &app,
        &[
            ("model_id", "scribe_v1"),
            ("source_url", &format!("{files}/redirect/jfk.wav")),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let text = body["text"].as_str().expect("text");
    assert!(word_error_rate(JFK_TEXT, text) <= 0.10, "{body}");
    assert!(
        body["words"]
            .as_array()
            .is_some_and(|words| words.len() >= 40)
    );

    // The native audio_url: a job named after the file, with jfk's words.
    let response = submit(&app, &[("audio_url", &format!("{files}/jfk.wav"))]).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("json");
    assert_eq!(created["display_name"], "jfk.wav");
    let id = created["id"].as_str().expect("id");
    let job = app
        .wait_for_job(id, std::time::Duration::from_secs(300))
        .await;
    assert_eq!(job["status"], "completed", "{job}");
    let text = job["text"].as_str().expect("text");
    assert!(word_error_rate(JFK_TEXT, text) <= 0.10, "{job}");
}

#[tokio::test]
async fn failed_fetches_are_typed_errors_and_leave_no_job() {
    let files = serve_audio_files().await;
    let app = spawn_app_with(AppOptions {
        without_engines: true,
        limits: Some(LimitsConfig {
            // jfk.wav is 352 KB.
            max_upload_bytes: 100_000,
            audio_url_timeout_secs: 1,
            ..LimitsConfig::default()
        }),
        ..AppOptions::default()
    })
    .await;
    let app = &app;
    let el = move |url: String| async move {
        convert(
            app,
            &[("model_id", "scribe_v1"), ("cloud_storage_url", &url)],
        )
        .await
    };
    assert_error(
        el(format!("{files}/missing.wav")).await,
        400,
        "audio_url_failed",
        Some("http_status"),
    )
    .await;
    // Over the limit while streaming: the chunked body declares no length.
    assert_error(
        el(format!("{files}/stream/jfk.wav")).await,
        413,
        "payload_too_large",
        None,
    )
    .await;
    assert_error(
        el(format!("{files}/slow.wav")).await,
        400,
        "audio_url_failed",
        Some("timeout"),
    )
    .await;
    // Nothing listens on port 9 of loopback.
    assert_error(
        el("http://127.0.0.1:9/jfk.wav".into()).await,
        400,
        "audio_url_failed",
        Some("unreachable"),
    )
    .await;
    assert_error(
        el("ftp://example.com/jfk.wav".into()).await,
        400,
        "target_not_allowed",
        None,
    )
    .await;
    assert_error(
        submit(app, &[("audio_url", &format!("{files}/missing.wav"))]).await,
        400,
        "audio_url_failed",
        Some("http_status"),
    )
    .await;
    assert_eq!(app.job_count().await, 0);
    app.assert_healthy().await;
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let files = serve_audio_files().await;
    let app = spawn_app_with(AppOptions {
        without_engines: true,
        // The default: the SSRF guard refuses loopback.
        webhooks: Some(WebhookConfig::default()),
        ..AppOptions::default()
    })
    .await;
    let url = format!("{files}/jfk.wav");
    assert_error(
        convert(&app, &[("model_id", "scribe_v1"), ("source_url", &url)]).await,
        400,
        "target_not_allowed",
        None,
    )
    .await;
    assert_error(
        submit(&app, &[("audio_url", &url)]).await,
        400,
        "target_not_allowed",
        None,
    )
    .await;
    assert_eq!(app.job_count().await, 0);
}

#[tokio::test]
async fn exactly_one_audio_source_is_accepted() {
    let app = spawn_app_with(AppOptions {
        without_engines: true,
        ..AppOptions::default()
    })
    .await;
    let url = "http://127.0.0.1:9/jfk.wav";
    // ElevenLabs: file and a URL, or both URLs, get its validation list.
    for extra in [
        vec![("source_url", url)],
        vec![("cloud_storage_url", url), ("source_url", url)],
    ] {
        let mut fields = vec![("model_id", "scribe_v1")];
        fields.extend(extra.iter().copied());
        let with_file = extra.len() == 1;
        let response = if with_file {
            app.client
                .post(app.url("/v1/speech-to-text"))
                .header("xi-api-key", ADMIN_KEY)
                .multipart(form(&test_file("jfk.wav"), &fields))
                .send()
                .await
                .expect("request")
        } else {
            convert(&app, &fields).await
        };
        assert_eq!(response.status(), 422, "{fields:?}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["detail"][0]["loc"][1], "source_url", "{body}");
        assert!(
            body["detail"][0]["msg"]
                .as_str()
                .is_some_and(|m| m.contains("exactly one of file, cloud_storage_url, source_url")),
            "{body}"
        );
    }
    // Neither.
    assert_error(
        convert(&app, &[("model_id", "scribe_v1")]).await,
        400,
        "bad_request",
        None,
    )
    .await;
    // Native: file and audio_url.
    let response = app
        .post_transcription(&test_file("jfk.wav"), &[("audio_url", url)])
        .await;
    assert_error(response, 422, "validation_error", None).await;
    assert_eq!(app.job_count().await, 0);
}

on_both_deployments!(audio_urls_are_fetched_and_transcribed);
