//! The real `dalston` binary as a user runs it: `serve` killed with SIGKILL mid-transcription
//! and started again (the job completes), and `transcribe` printing the words.
#![expect(clippy::expect_used, reason = "tests panic with a message on failure")]

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dalston_audio::{decode_wav_pcm16, encode_wav_pcm16};
use dalston_core::wer::word_error_rate;
use support::{
    ADMIN_KEY, JFK_TEXT, free_port, home_cache, is_finished, job, test_data, wait_for_port,
};

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
    if wait_for_port(port, Duration::from_secs(60)) {
        return Server { child, base };
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("dalston serve did not start listening on {port}");
}

/// How many times [`long_speech`] repeats jfk.wav.
const REPEATS: usize = 5;

/// jfk.wav [`REPEATS`] times with a second of silence after each (~60 s): long enough that the
/// transcribe task is still running when the test kills the server, whatever the machine.
fn long_speech(jfk: &Path) -> Vec<u8> {
    let (speech, rate_hz) = decode_wav_pcm16(&std::fs::read(jfk).expect("jfk")).expect("wav");
    let pause = vec![0.0; rate_hz as usize];
    let samples: Vec<f32> = std::iter::repeat_n([speech.as_slice(), &pause].concat(), REPEATS)
        .flatten()
        .collect();
    encode_wav_pcm16(&samples, rate_hz)
}

#[tokio::test]
async fn a_job_survives_a_killed_server_and_the_cli_prints_the_words() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let jfk = test_data("jfk.wav");
    let client = reqwest::Client::new();

    let mut server = start_server(data_dir.path(), port);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(long_speech(&jfk)).file_name("jfk-5x.wav"),
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

    // Kill the process while an engine holds the transcribe task (claimed: one attempt made).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = job(&client, &server.base, &id).await;
        if transcribe_stage(&state).is_some_and(|stage| {
            stage["status"] == "running" && stage["attempts"].as_u64() >= Some(1)
        }) {
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
        let state = job(&client, &server.base, &id).await;
        if is_finished(&state) {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "job did not finish after the restart: {state}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(finished["status"], "completed", "{finished}");
    let transcribe = transcribe_stage(&finished).expect("transcribe stage");
    assert!(
        transcribe["attempts"].as_u64() >= Some(2),
        "the task ran again after the kill: {transcribe}"
    );
    let text = finished["text"].as_str().expect("text");
    let expected = [JFK_TEXT; REPEATS].join(" ");
    assert!(word_error_rate(&expected, text) <= 0.10, "{text}");

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

fn transcribe_stage(job: &serde_json::Value) -> Option<&serde_json::Value> {
    job["stages"]
        .as_array()?
        .iter()
        .find(|stage| stage["stage"] == "transcribe")
}
