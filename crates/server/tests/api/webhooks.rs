//! Webhooks end to end: a real receiver on loopback gets signed deliveries for a finished job,
//! failed attempts are retried, and the delivery log shows what happened.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::helpers::{ADMIN_KEY, AppOptions, TestApp, spawn_app_with, test_file};

/// What the receiver saw: path, headers, body.
type Received = Arc<Mutex<Vec<(String, HeaderMap, String)>>>;

/// A receiver on a free loopback port. `/flaky` answers 503 the first time, then 200.
async fn start_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let log = Arc::clone(&received);
    let handler = move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
        let log = Arc::clone(&log);
        async move {
            let path = uri.path().to_owned();
            let mut log = log.lock().expect("log");
            let seen_before = log.iter().filter(|(p, _, _)| *p == path).count();
            log.push((path.clone(), headers, body));
            if path == "/flaky" && seen_before == 0 {
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
    assert_eq!(header("webhook-signature"), expected);
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

async fn app_with_fast_retries() -> TestApp {
    let webhooks = dalston_server::config::WebhookConfig {
        retry_base_delay_ms: 100,
        poll_interval_ms: 50,
        ..Default::default()
    };
    spawn_app_with(AppOptions {
        webhooks: Some(webhooks),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn finished_jobs_are_delivered_signed_and_retried() {
    let app = app_with_fast_retries().await;
    let (receiver, received) = start_receiver().await;

    let created: Value = app
        .client
        .post(app.url("/v1/webhooks"))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({ "url": format!("{receiver}/flaky"), "events": ["transcription.completed"] }))
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
    let server_secret =
        std::fs::read_to_string(app.data_dir.path().join("webhook.secret")).expect("secret file");
    assert_signed(&headers, &body, server_secret.trim());
    let payload: Value = serde_json::from_str(&body).expect("payload");
    assert_eq!(payload["type"], "transcription.completed");
    assert_eq!(payload["data"]["job_id"], job_id);
    assert_eq!(payload["data"]["webhook_metadata"]["ticket"], 42);

    // The registered webhook: 503 first, then delivered on the retry, same message id.
    let attempts = wait_for(&received, "/flaky", 2).await;
    for (headers, body) in &attempts {
        assert_signed(headers, body, &secret);
    }
    assert_eq!(attempts[0].0["webhook-id"], attempts[1].0["webhook-id"]);
    let mut log: Value = Value::Null;
    for _ in 0..50 {
        log = app
            .get(&format!("/v1/webhooks/{webhook_id}/deliveries"))
            .send()
            .await
            .expect("log")
            .json()
            .await
            .expect("json");
        if log["deliveries"][0]["status"] == "success" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivery = &log["deliveries"][0];
    assert_eq!(delivery["status"], "success", "{log}");
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
    wait_for(&received, "/flaky", 3).await;

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

#[tokio::test]
async fn webhook_input_is_validated() {
    let app = app_with_fast_retries().await;
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

#[tokio::test]
async fn elevenlabs_webhook_mode_answers_at_once_and_delivers_the_transcript() {
    let app = app_with_fast_retries().await;
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
