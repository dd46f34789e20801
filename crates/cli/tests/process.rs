//! The real `dalston` binary as a user runs it: `serve` killed with SIGKILL mid-transcription
//! and started again (the job completes), and `transcribe` printing the words.
#![expect(clippy::expect_used, reason = "tests panic with a message on failure")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dalston_core::wer::word_error_rate;

const ADMIN_KEY: &str = "dk_process_test_admin_key_0123456789abcdefghij";
const JFK_TEXT: &str = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";

fn home_cache(sub: &str, variable: &str) -> PathBuf {
    std::env::var_os(variable).map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/dalston")
                .join(sub)
        },
        PathBuf::from,
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data_dir: &Path, port: u16) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dalston"))
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .env("DALSTON_ADMIN_KEY", ADMIN_KEY)
        .env(
            "DALSTON_MODELS_DIR",
            home_cache("models", "DALSTON_MODELS_DIR"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dalston serve");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Server { child, base };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("dalston serve did not start listening on {port}");
}

async fn job(client: &reqwest::Client, server: &Server, id: &str) -> serde_json::Value {
    client
        .get(format!("{}/v1/audio/transcriptions/{id}", server.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("get job")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn a_job_survives_a_killed_server_and_the_cli_prints_the_words() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let jfk = home_cache("test-data", "DALSTON_TEST_DATA_DIR").join("jfk.wav");
    let client = reqwest::Client::new();

    let mut server = start_server(data_dir.path(), port);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(std::fs::read(&jfk).expect("jfk")).file_name("jfk.wav"),
    );
    let created: serde_json::Value = client
        .post(format!("{}/v1/audio/transcriptions", server.base))
        .bearer_auth(ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id").to_owned();

    // Kill the process while the transcribe stage runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = job(&client, &server, &id).await;
        if state["current_stage"] == "transcribe" && state["status"] == "running" {
            break;
        }
        assert_ne!(
            state["status"], "completed",
            "the job finished before the server could be killed"
        );
        assert!(
            Instant::now() < deadline,
            "transcription never started: {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");

    let server = start_server(data_dir.path(), port);
    // Pooled connections point at the killed process.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let finished = loop {
        let state = job(&client, &server, &id).await;
        if matches!(
            state["status"].as_str(),
            Some("completed" | "failed" | "cancelled")
        ) {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "job did not finish after the restart: {state}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(finished["status"], "completed", "{finished}");
    let transcribe = finished["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .find(|s| s["stage"] == "transcribe")
        .cloned();
    assert!(
        transcribe.expect("transcribe stage")["attempts"].as_u64() >= Some(2),
        "the task ran again after the kill"
    );
    let text = finished["text"].as_str().expect("text");
    assert!(word_error_rate(JFK_TEXT, text) <= 0.10, "{text}");

    // The key came from the environment, so there is no admin.key file: pass it explicitly.
    let output = Command::new(env!("CARGO_BIN_EXE_dalston"))
        .args([
            "transcribe",
            "--server",
            &server.base,
            "--api-key",
            ADMIN_KEY,
        ])
        .arg(&jfk)
        .output()
        .expect("run dalston transcribe");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).expect("utf-8");
    assert!(word_error_rate(JFK_TEXT, &printed) <= 0.10, "{printed}");
}
