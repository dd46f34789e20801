//! The real `dalston` binary as a user runs it: `serve` killed with SIGKILL mid-transcription
//! and started again (the job completes), `transcribe` printing the words, and a 30-minute
//! recording transcribed in the server's memory of a 1-minute one.
#![expect(clippy::expect_used, reason = "tests panic with a message on failure")]

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dalston_audio::{decode_wav_pcm16, encode_wav_pcm16};
use dalston_core::wer::word_error_rate;
use dalston_testkit::references::reference_text;
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
        // One glibc malloc arena, so the memory test measures what the stages hold: with the
        // default per-thread arenas every thread that ran a stage keeps freed blocks of its
        // own, and a 30-minute job's peak wandered 28–62 MiB above a 1-minute job's from run
        // to run (11 MiB with one arena).
        .env("MALLOC_ARENA_MAX", "1")
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

/// Posts a job's form to the native API; returns the job id.
async fn submit(
    client: &reqwest::Client,
    server: &Server,
    form: reqwest::multipart::Form,
) -> String {
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
    created["id"].as_str().expect("id").to_owned()
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
    let id = submit(&client, &server, form).await;

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

/// Silence after each utterance of [`meeting`].
const PAUSE_SECS: usize = 30;
/// The utterances of [`meeting`], in turn: jfk and the LibriVox clips (different sentences, so
/// no Whisper window holds a sentence twice, which its repetition checks would take for a loop).
const UTTERANCES: [&str; 6] = [
    "jfk.wav",
    "librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
    "librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
    "librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
    "librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
    "librivox/sense_and_sensibility_01_austen_64kb-0930.wav",
];

/// A long meeting in miniature: the [`UTTERANCES`] in turn, each followed by [`PAUSE_SECS`] of
/// silence, until `min_secs` are filled. Returns the WAV, what it says, and when each jfk
/// utterance starts.
fn meeting(min_secs: f64) -> (Vec<u8>, String, Vec<f64>) {
    let clips: Vec<(Vec<f32>, String)> = UTTERANCES
        .iter()
        .map(|name| {
            let path = test_data(name);
            let (samples, rate_hz) =
                decode_wav_pcm16(&std::fs::read(&path).expect("clip")).expect("wav");
            assert_eq!(rate_hz, 16_000, "{name}");
            (samples, reference_text(&path).expect("reference"))
        })
        .collect();
    let pause = vec![0.0; 16_000 * PAUSE_SECS];
    let (mut samples, mut text, mut jfk_starts) = (Vec::new(), Vec::new(), Vec::new());
    for (clip, (speech, said)) in clips.iter().enumerate().cycle() {
        if samples.len() as f64 / 16_000.0 >= min_secs {
            break;
        }
        if clip == 0 {
            jfk_starts.push(samples.len() as f64 / 16_000.0);
        }
        samples.extend_from_slice(speech);
        samples.extend_from_slice(&pause);
        text.push(said.as_str());
    }
    (
        encode_wav_pcm16(&samples, 16_000),
        text.join(" "),
        jfk_starts,
    )
}

/// The process's peak resident memory so far (`VmHWM`), in MiB.
fn peak_memory_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib / 1024.0
}

/// Uploads `wav` (tiny.en, word timings, and the form `fields` given) and waits for the job to
/// complete.
async fn transcribe_to_completion(
    client: &reqwest::Client,
    server: &Server,
    wav: Vec<u8>,
    fields: &[(&'static str, &'static str)],
) -> serde_json::Value {
    let form = fields
        .iter()
        .fold(reqwest::multipart::Form::new(), |form, &(name, value)| {
            form.text(name, value)
        })
        .text("model", "whisper-tiny.en")
        .part(
            "file",
            reqwest::multipart::Part::bytes(wav).file_name("meeting.wav"),
        );
    let id = submit(client, server, form).await;
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        let state = job(client, &server.base, &id).await;
        if is_finished(&state) {
            assert_eq!(state["status"], "completed", "{state}");
            return state;
        }
        assert!(Instant::now() < deadline, "job did not finish: {state}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Memory must not grow with the recording's length: the 30-minute recording (58 MB of WAV,
/// 115 MB as f32 samples, 58 MB more as a log-mel spectrogram) may raise the server's peak by
/// at most this much over a 1-minute one, i.e. no stage may hold the whole signal.
const MAX_GROWTH_MIB: f64 = 48.0;
/// An absolute ceiling too: tiny.en, Silero VAD and the server together stay well below it.
const MAX_PEAK_MIB: f64 = 1024.0;

#[tokio::test]
async fn a_thirty_minute_recording_takes_no_more_memory_than_a_one_minute_one() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let client = reqwest::Client::new();
    let server = start_server(data_dir.path(), free_port());
    let pid = server.child.id();

    // The short job loads the models and warms every stage, so the long one adds only what
    // depends on the length.
    let (short, _, _) = meeting(60.0);
    transcribe_to_completion(&client, &server, short, &[]).await;
    let after_short = peak_memory_mib(pid);

    let (long, said, jfk_starts) = meeting(1800.0);
    let started = Instant::now();
    let done = transcribe_to_completion(&client, &server, long.clone(), &[]).await;
    let elapsed = started.elapsed();
    let after_long = peak_memory_mib(pid);
    let duration = done["duration"].as_f64().expect("duration");
    eprintln!(
        "long audio: {duration:.0} s in {elapsed:?}, WER {:.1} %; server peak {after_short:.0} MiB \
         after 1 min, {after_long:.0} MiB after 30 min (+{:.1} MiB)",
        100.0 * word_error_rate(&said, done["text"].as_str().unwrap_or_default()),
        after_long - after_short
    );
    assert!(duration >= 1800.0, "{duration}");
    assert!(
        after_long - after_short <= MAX_GROWTH_MIB,
        "peak memory grew from {after_short:.0} to {after_long:.0} MiB"
    );
    assert!(after_long <= MAX_PEAK_MIB, "peak {after_long:.0} MiB");

    // Every utterance is transcribed, at its own time: "Americans" is said 1.6–2.6 s into jfk.
    let text = done["text"].as_str().expect("text");
    assert!(word_error_rate(&said, text) <= 0.10, "{text}");
    let words = done["words"].as_array().expect("words");
    let americans: Vec<f64> = words
        .iter()
        .filter(|w| {
            w["text"]
                .as_str()
                .is_some_and(|t| t.to_lowercase().contains("americans"))
        })
        .filter_map(|w| w["start"].as_f64())
        .collect();
    assert_eq!(americans.len(), jfk_starts.len(), "{americans:?}");
    for (start, utterance) in americans.iter().zip(&jfk_starts) {
        let offset = start - utterance;
        assert!(
            (1.0..=3.0).contains(&offset),
            "'Americans' at {start:.2} s, {offset:.2} s into the jfk utterance at {utterance:.0} s"
        );
    }

    // With VAD off Whisper reads the whole recording itself, a window at a time: the peak must
    // not grow either (holding the signal and its spectrogram would add 173 MB).
    let whole = transcribe_to_completion(&client, &server, long, &[("vad_filter", "false")]).await;
    let after_whole = peak_memory_mib(pid);
    let text = whole["text"].as_str().expect("text");
    eprintln!(
        "long audio without VAD: WER {:.1} %; server peak {after_whole:.0} MiB (+{:.1} MiB over 1 min)",
        100.0 * word_error_rate(&said, text),
        after_whole - after_short
    );
    assert!(
        after_whole - after_short <= MAX_GROWTH_MIB,
        "peak memory grew from {after_short:.0} to {after_whole:.0} MiB without VAD"
    );
    assert!(word_error_rate(&said, text) <= 0.10, "{text}");
}
