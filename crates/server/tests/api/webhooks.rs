//! Webhooks end to end: a real receiver on loopback gets signed deliveries for a finished job,
//! failed and timed-out attempts are retried under the same message id (across a restart too),
//! a tampered delivery fails verification, the SSRF guard refuses local targets, and the delivery
//! log shows what happened.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::deployment::{Deployment, on_both_deployments};
use crate::helpers::{ADMIN_KEY, AppOptions, TestApp, spawn_app_with, test_file};

/// What the receiver saw: path, headers, body.
type Received = Arc<Mutex<Vec<(String, HeaderMap, String)>>>;

/// A receiver on a free loopback port. `/fail-N` answers 503 the first N times, then 200;
/// `/slow` takes 3 s to answer the first time (longer than the tests' 1 s timeout), then answers
/// at once; anything else answers 200.
async fn start_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let log = Arc::clone(&received);
    let handler = move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
        let log = Arc::clone(&log);
        async move {
            let path = uri.path().to_owned();
            let seen_before = {
                let mut log = log.lock().expect("log");
                let seen_before = log.iter().filter(|(p, _, _)| *p == path).count();
                log.push((path.clone(), headers, body));
                seen_before
            };
            let failures: usize = path
                .strip_prefix("/fail-")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if path == "/slow" && seen_before == 0 {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            if seen_before < failures {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            }
        }
    };
    let router = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("receiver") });
    (address, received)
}

/// Verifies a Standard Webhooks signature the way a receiver would, independently of the server.
fn assert_signed(headers: &HeaderMap, body: &str, secret: &str) {
    assert!(signature_valid(headers, body, secret), "bad signature");
}

/// Whether `webhook-signature` is the HMAC-SHA256 of `id.timestamp.body` under `secret`.
fn signature_valid(headers: &HeaderMap, body: &str, secret: &str) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .expect(name)
            .to_owned()
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("key");
    mac.update(
        format!(
            "{}.{}.{body}",
            header("webhook-id"),
            header("webhook-timestamp")
        )
        .as_bytes(),
    );
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    header("webhook-signature") == expected
}

async fn wait_for(received: &Received, path: &str, count: usize) -> Vec<(HeaderMap, String)> {
    for _ in 0..300 {
        let matching: Vec<(HeaderMap, String)> = received
            .lock()
            .expect("log")
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, headers, body)| (headers.clone(), body.clone()))
            .collect();
        if matching.len() >= count {
            return matching;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} did not receive {count} deliveries");
}

async fn app_with_retries_after(deployment: Deployment, retry_base_delay_ms: u64) -> TestApp {
    let webhooks = dalston_server::config::WebhookConfig {
        retry_base_delay_ms,
        poll_interval_ms: 50,
        timeout_secs: 1,
        allow_private_targets: true,
        ..Default::default()
    };
    spawn_app_with(AppOptions {
        deployment,
        webhooks: Some(webhooks),
        ..Default::default()
    })
    .await
}

async fn app_with_fast_retries(deployment: Deployment) -> TestApp {
    app_with_retries_after(deployment, 100).await
}

/// `POST /v1/webhooks` for `url` (all events), whatever the answer.
async fn post_webhook(app: &TestApp, url: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/webhooks"))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({ "url": url }))
        .send()
        .await
        .expect("create")
}

/// Registers a webhook for `url` (all events) and returns its id and secret.
async fn register(app: &TestApp, url: &str) -> (String, String) {
    let response = post_webhook(app, url).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.expect("json");
    (
        created["id"].as_str().expect("id").to_owned(),
        created["secret"].as_str().expect("secret").to_owned(),
    )
}

/// Polls a webhook's delivery log until its first delivery satisfies `done`.
async fn wait_for_log(app: &TestApp, webhook_id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut log = Value::Null;
    for _ in 0..100 {
        log = app
            .get(&format!("/v1/webhooks/{webhook_id}/deliveries"))
            .send()
            .await
            .expect("log")
            .json()
            .await
            .expect("json");
        if done(&log["deliveries"][0]) {
            return log["deliveries"][0].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the delivery log never got there: {log}");
}

async fn finished_jobs_are_delivered_signed_and_retried(deployment: Deployment) {
    let app = app_with_fast_retries(deployment).await;
    let (receiver, received) = start_receiver().await;

    let created: Value = app
        .client
        .post(app.url("/v1/webhooks"))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({ "url": format!("{receiver}/fail-1"), "events": ["transcription.completed"] }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let webhook_id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    let listed: Value = app
        .get("/v1/webhooks")
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert!(
        listed["webhooks"][0]["secret"].is_null(),
        "secrets are not listed"
    );

    let job = app
        .transcribe(
            &test_file("jfk.wav"),
            &[
                ("webhook_url", &format!("{receiver}/job-hook")),
                ("webhook_metadata", r#"{"ticket": 42}"#),
            ],
        )
        .await;
    let job_id = job["id"].as_str().expect("id");

    // The job's own URL, signed with the server's secret.
    let (headers, body) = wait_for(&received, "/job-hook", 1).await.remove(0);
    assert_signed(&headers, &body, &app.webhook_secret());
    let payload: Value = serde_json::from_str(&body).expect("payload");
    assert_eq!(payload["type"], "transcription.completed");
    assert_eq!(payload["data"]["job_id"], job_id);
    assert_eq!(payload["data"]["webhook_metadata"]["ticket"], 42);

    // The registered webhook: 503 first, then delivered on the retry, same message id.
    let attempts = wait_for(&received, "/fail-1", 2).await;
    for (headers, body) in &attempts {
        assert_signed(headers, body, &secret);
    }
    assert_eq!(attempts[0].0["webhook-id"], attempts[1].0["webhook-id"]);
    let delivery = &wait_for_log(&app, &webhook_id, |d| d["status"] == "success").await;
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(delivery["last_status_code"], 200);

    // A manual retry sends it once more.
    let delivery_id = delivery["id"].as_str().expect("id");
    let retried = app
        .client
        .post(app.url(&format!(
            "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"
        )))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("retry");
    assert_eq!(retried.status(), 200);
    wait_for(&received, "/fail-1", 3).await;

    // Rotating the secret changes it; deleting removes the webhook.
    let rotated: Value = app
        .client
        .post(app.url(&format!("/v1/webhooks/{webhook_id}/rotate-secret")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("rotate")
        .json()
        .await
        .expect("json");
    assert_ne!(rotated["secret"], Value::from(secret));
    let deleted = app
        .client
        .delete(app.url(&format!("/v1/webhooks/{webhook_id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
}

async fn webhook_input_is_validated(deployment: Deployment) {
    let app = app_with_fast_retries(deployment).await;
    for body in [
        serde_json::json!({ "url": "ftp://example.com" }),
        serde_json::json!({ "url": "http://127.0.0.1:9/x", "events": ["transcription.exploded"] }),
        serde_json::json!({ "events": ["transcription.completed"] }),
    ] {
        let response = app
            .client
            .post(app.url("/v1/webhooks"))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(response.status(), 400, "{body}");
    }
    let bad_url = app
        .post_transcription(&test_file("jfk.wav"), &[("webhook_url", "not a url")])
        .await;
    assert_eq!(bad_url.status(), 400);
}

async fn elevenlabs_webhook_mode_answers_at_once_and_delivers_the_transcript(
    deployment: Deployment,
) {
    let app = app_with_fast_retries(deployment).await;
    let (receiver, received) = start_receiver().await;
    let created: Value = app
        .client
        .post(app.url("/v1/webhooks"))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({ "url": format!("{receiver}/elevenlabs") }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let secret = created["secret"].as_str().expect("secret").to_owned();

    let form = crate::helpers::form(
        &test_file("jfk.wav"),
        &[
            ("model_id", "scribe_v1"),
            ("webhook", "true"),
            ("webhook_metadata", r#"{"order": "A-7"}"#),
        ],
    );
    let accepted: Value = app
        .client
        .post(app.url("/v1/speech-to-text"))
        .header("xi-api-key", ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .expect("convert")
        .json()
        .await
        .expect("json");
    let transcription_id = accepted["transcription_id"]
        .as_str()
        .expect("transcription_id")
        .to_owned();
    assert!(
        accepted["message"].is_string() && accepted["request_id"].is_string(),
        "{accepted}"
    );

    let (headers, body) = wait_for(&received, "/elevenlabs", 1).await.remove(0);
    let signature = headers["elevenlabs-signature"]
        .to_str()
        .expect("signature")
        .to_owned();
    let (t, v0) = signature.split_once(",v0=").expect("t=…,v0=…");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{}.{body}", t.trim_start_matches("t=")).as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v0, expected);
    let payload: Value = serde_json::from_str(&body).expect("payload");
    assert_eq!(payload["type"], "speech_to_text_transcription");
    assert_eq!(
        payload["data"]["transcription_id"],
        transcription_id.as_str()
    );
    assert_eq!(payload["data"]["webhook_metadata"]["order"], "A-7");
    let text = payload["data"]["transcription"]["text"]
        .as_str()
        .expect("text");
    assert!(text.to_lowercase().contains("country"), "{payload}");
    assert_eq!(payload["data"]["transcription"]["language_code"], "eng");

    // The official SDK accepts the signature (when the SDK environment is prepared).
    if let Some(python) = std::env::var_os("DALSTON_SDK_PYTHON") {
        let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/sdk/elevenlabs_webhook.py");
        let mut child = std::process::Command::new(python)
            .arg(script)
            .arg(&secret)
            .arg(&signature)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(body.as_bytes())
            .expect("write body");
        let output = child.wait_with_output().expect("python output");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout).trim(),
            "speech_to_text_transcription"
        );
    }
}

async fn failing_and_timed_out_attempts_are_retried_with_the_same_id_and_tampering_is_detected(
    deployment: Deployment,
) {
    let app = app_with_fast_retries(deployment).await;
    let (receiver, received) = start_receiver().await;
    let (failing_id, failing_secret) = register(&app, &format!("{receiver}/fail-3")).await;
    let (slow_id, slow_secret) = register(&app, &format!("{receiver}/slow")).await;
    app.transcribe(&test_file("jfk.wav"), &[]).await;

    // Three 503s, then delivered: four attempts of one message, each signed, the body unchanged.
    let attempts = wait_for(&received, "/fail-3", 4).await;
    for (headers, body) in &attempts {
        assert_signed(headers, body, &failing_secret);
        assert_eq!(headers["webhook-id"], attempts[0].0["webhook-id"]);
        assert_eq!(body, &attempts[0].1);
    }
    let delivery = wait_for_log(&app, &failing_id, |d| d["status"] == "success").await;
    assert_eq!(delivery["attempts"], 4, "{delivery}");
    assert_eq!(
        delivery["id"],
        attempts[0].0["webhook-id"].to_str().expect("id")
    );

    // A receiver slower than the timeout: the attempt counts as failed and is sent again.
    let slow = wait_for(&received, "/slow", 2).await;
    assert_eq!(slow[0].0["webhook-id"], slow[1].0["webhook-id"]);
    let delivery = wait_for_log(&app, &slow_id, |d| d["status"] == "success").await;
    assert_eq!(delivery["attempts"], 2, "{delivery}");

    // Verification fails when the body, the id or the secret is not the one signed.
    let (headers, body) = &slow[1];
    assert!(signature_valid(headers, body, &slow_secret));
    let tampered = body.replacen("transcription.completed", "transcription.cancelled", 1);
    assert_ne!(&tampered, body);
    assert!(!signature_valid(headers, &tampered, &slow_secret));
    assert!(!signature_valid(headers, &format!("{body} "), &slow_secret));
    let mut other_id = headers.clone();
    other_id.insert("webhook-id", "msg_other".parse().expect("header"));
    assert!(!signature_valid(&other_id, body, &slow_secret));
    assert!(!signature_valid(headers, body, &failing_secret));
}

async fn a_pending_delivery_survives_a_restart(deployment: Deployment) {
    // Retries wait about 3 s, long enough to stop the server in between.
    let app = app_with_retries_after(deployment, 3_000).await;
    let (receiver, received) = start_receiver().await;
    let (webhook_id, secret) = register(&app, &format!("{receiver}/fail-1")).await;
    app.transcribe(&test_file("jfk.wav"), &[]).await;
    let first = wait_for(&received, "/fail-1", 1).await.remove(0);
    let pending = wait_for_log(&app, &webhook_id, |d| d["attempts"] == 1).await;
    assert_eq!(pending["status"], "pending", "{pending}");

    let app = app.restart(|_| {}).await;
    assert_eq!(
        wait_for(&received, "/fail-1", 1).await.len(),
        1,
        "the retry came before the restart; the test proves nothing"
    );
    let (headers, body) = wait_for(&received, "/fail-1", 2).await.remove(1);
    assert_signed(&headers, &body, &secret);
    assert_eq!(headers["webhook-id"], first.0["webhook-id"]);
    assert_eq!(body, first.1);
    let delivered = wait_for_log(&app, &webhook_id, |d| d["status"] == "success").await;
    assert_eq!(delivered["attempts"], 2, "{delivered}");
}

/// The SSRF guard with its default: local targets are refused with a typed 400 when registered
/// or named by a job, and again at delivery time.
async fn private_targets_are_refused_unless_allowed(deployment: Deployment) {
    let app = app_with_fast_retries(deployment).await;
    let (receiver, received) = start_receiver().await;
    // Registered while private targets were allowed…
    let (webhook_id, _) = register(&app, &format!("{receiver}/ok")).await;
    let app = app
        .restart(|config| config.webhooks.allow_private_targets = false)
        .await;

    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://[::ffff:192.168.0.1]/hook",
    ] {
        let response = post_webhook(&app, url).await;
        assert_eq!(response.status(), 400, "{url}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body["detail"]["status"], "target_not_allowed",
            "{url}: {body}"
        );
    }
    let patched = app
        .client
        .patch(app.url(&format!("/v1/webhooks/{webhook_id}")))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({ "url": "http://192.168.1.1/hook" }))
        .send()
        .await
        .expect("patch");
    assert_eq!(patched.status(), 400);
    let job = app
        .post_transcription(
            &test_file("jfk.wav"),
            &[("webhook_url", "http://127.0.0.1:9/x")],
        )
        .await;
    assert_eq!(job.status(), 400);
    let body: Value = job.json().await.expect("json");
    assert_eq!(body["detail"]["status"], "target_not_allowed", "{body}");
    // A public address is accepted (an IP literal, so nothing is resolved).
    let (public_id, _) = register(&app, "https://93.184.215.14/hook").await;
    let deleted = app
        .client
        .delete(app.url(&format!("/v1/webhooks/{public_id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);

    // …the earlier registration is checked again when delivering, and not called.
    app.transcribe(&test_file("jfk.wav"), &[]).await;
    let delivery = wait_for_log(&app, &webhook_id, |d| d["status"] == "failed").await;
    assert_eq!(delivery["attempts"], 1, "{delivery}");
    assert!(
        delivery["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("private")),
        "{delivery}"
    );
    assert!(received.lock().expect("log").is_empty());
}

on_both_deployments!(
    finished_jobs_are_delivered_signed_and_retried,
    webhook_input_is_validated,
    elevenlabs_webhook_mode_answers_at_once_and_delivers_the_transcript,
    failing_and_timed_out_attempts_are_retried_with_the_same_id_and_tampering_is_detected,
    a_pending_delivery_survives_a_restart,
    private_targets_are_refused_unless_allowed,
);
