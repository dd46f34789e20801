//! Live transcription over real WebSockets with real speech: the native protocol and the
//! ElevenLabs one, capacity, disconnects, single-use tokens and the session records.
//!
//! jfk.wav is streamed at real-time pace in 100 ms frames (as a live client sends) on
//! whisper-tiny.en, the fast model, so several sessions fit on two cores.

use std::time::Duration;

use base64::Engine as _;
use dalston_core::wer::word_error_rate;
use dalston_server::config::RealtimeConfig;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::helpers::{ADMIN_KEY, AppOptions, TestApp, spawn_app_with, test_file};

const JFK_TEXT: &str = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";
const MODEL: &str = "whisper-tiny.en";
/// 100 ms of 16 kHz s16le.
const FRAME_BYTES: usize = 3_200;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sessions in tests may fall behind on a loaded CI machine; only the lag test tests lag.
pub fn realtime_config() -> RealtimeConfig {
    RealtimeConfig {
        lag_warning_secs: 60.0,
        lag_limit_secs: 120.0,
        ..RealtimeConfig::default()
    }
}

async fn app_with(realtime: RealtimeConfig) -> TestApp {
    spawn_app_with(AppOptions {
        realtime: Some(realtime),
        ..AppOptions::default()
    })
    .await
}

/// jfk.wav as 16 kHz s16le bytes, with `silence_secs` of silence after it.
fn jfk_pcm(silence_secs: f64) -> Vec<u8> {
    let audio = dalston_audio::decode_file(
        &test_file("jfk.wav"),
        &dalston_audio::DecodeOptions::default(),
    )
    .expect("decode jfk.wav");
    let mut samples = audio.samples;
    samples.extend(std::iter::repeat_n(0.0, (silence_secs * 16_000.0) as usize));
    samples
        .iter()
        .flat_map(|sample| ((sample * 32_767.0) as i16).to_le_bytes())
        .collect()
}

fn ws_url(app: &TestApp, path_and_query: &str) -> String {
    format!("{}{path_and_query}", app.address.replacen("http", "ws", 1))
}

async fn connect(url: &str, key: Option<(&'static str, &str)>) -> Result<Socket, WsError> {
    let mut request = url.into_client_request()?;
    if let Some((header, value)) = key {
        request
            .headers_mut()
            .insert(header, value.parse().expect("header value"));
    }
    let (socket, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(socket)
}

async fn connect_native(app: &TestApp, query: &str) -> Socket {
    let url = ws_url(
        app,
        &format!("/v1/audio/transcriptions/stream?model={MODEL}&{query}"),
    );
    connect(
        &url,
        Some(("authorization", &format!("Bearer {ADMIN_KEY}"))),
    )
    .await
    .expect("the native session opens")
}

/// The next JSON message, skipping pings; `None` once the server closed.
async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("the server answers within 2 minutes")?;
        match message.expect("a WebSocket message") {
            Message::Text(text) => return Some(serde_json::from_str(&text).expect("JSON")),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// Every message up to the close, and the close frame's code.
async fn drain(socket: &mut Socket) -> (Vec<Value>, Option<CloseCode>) {
    let mut messages = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("the server answers within 2 minutes");
        match message {
            Some(Ok(Message::Text(text))) => {
                messages.push(serde_json::from_str(&text).expect("JSON"));
            }
            Some(Ok(Message::Close(frame))) => return (messages, frame.map(|frame| frame.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (messages, None),
        }
    }
}

/// Streams `pcm` at real-time pace in 100 ms frames, each made by `frame`.
async fn stream_pcm(socket: &mut Socket, pcm: &[u8], frame: impl Fn(&[u8]) -> Message) {
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    for chunk in pcm.chunks(FRAME_BYTES) {
        ticks.tick().await;
        socket.send(frame(chunk)).await.expect("send audio");
    }
}

fn of_type<'a>(messages: &'a [Value], field: &str, kind: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|message| message[field] == kind)
        .collect()
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    app.client
        .get(format!("{}{path}", app.address))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON")
}

/// A whole native session: `session.begin`, jfk.wav at real-time pace, `end`, and a normal
/// close; returns the session id and every message after `session.begin`.
async fn native_jfk_session(socket: &mut Socket) -> (String, Vec<Value>) {
    let begin = next_json(socket).await.expect("session.begin");
    assert_eq!(begin["type"], "session.begin");
    let session_id = begin["session_id"].as_str().expect("session id").to_owned();
    stream_pcm(socket, &jfk_pcm(1.0), |chunk| {
        Message::Binary(chunk.to_vec().into())
    })
    .await;
    socket
        .send(Message::Text(json!({"type": "end"}).to_string().into()))
        .await
        .expect("send end");
    let (messages, close) = drain(socket).await;
    assert_eq!(close, Some(CloseCode::Normal), "{messages:?}");
    (session_id, messages)
}

#[tokio::test]
async fn native_clients_get_partials_then_timed_finals_and_a_session_record() {
    let app = app_with(realtime_config()).await;
    let mut socket = connect_native(&app, "language=en").await;
    let (session_id, messages) = native_jfk_session(&mut socket).await;

    assert!(!of_type(&messages, "type", "vad.speech_start").is_empty());
    let partials = of_type(&messages, "type", "transcript.partial");
    assert!(!partials.is_empty(), "no partials in {messages:?}");
    let finals = of_type(&messages, "type", "transcript.final");
    let text: Vec<&str> = finals
        .iter()
        .map(|message| message["text"].as_str().expect("text"))
        .collect();
    let wer = word_error_rate(JFK_TEXT, &text.join(" "));
    assert!(wer <= 0.15, "WER {wer:.3}: {text:?}");
    let words: Vec<&Value> = finals
        .iter()
        .flat_map(|message| message["words"].as_array().expect("words"))
        .collect();
    assert!(words.len() >= 20, "{} words", words.len());
    let last_end = words
        .last()
        .and_then(|word| word["end"].as_f64())
        .expect("end");
    assert!(
        last_end > 9.0 && last_end < 11.5,
        "last word ends at {last_end}"
    );
    // Every partial comes before the final of its utterance.
    let first_final = messages
        .iter()
        .position(|message| message["type"] == "transcript.final")
        .expect("a final");
    let first_partial = messages
        .iter()
        .position(|message| message["type"] == "transcript.partial")
        .expect("a partial");
    assert!(first_partial < first_final);

    let end = of_type(&messages, "type", "session.end");
    assert_eq!(end.len(), 1);
    assert_eq!(end[0]["session_id"], session_id.as_str());
    assert_eq!(end[0]["end_reason"], "completed");
    let audio_secs = end[0]["total_audio_seconds"].as_f64().expect("seconds");
    assert!((audio_secs - 12.0).abs() < 0.2, "{audio_secs}");

    let record = get_json(&app, &format!("/v1/realtime/sessions/{session_id}")).await;
    assert_eq!(record["status"], "completed");
    assert_eq!(record["protocol"], "native");
    assert_eq!(record["model"], MODEL);
    assert!(record["words"].as_u64().expect("words") >= 20);
    let listed = get_json(&app, "/v1/realtime/sessions").await;
    assert_eq!(listed["sessions"][0]["id"], session_id.as_str());
}

#[tokio::test]
async fn a_session_beyond_capacity_is_refused_at_once_with_a_typed_error() {
    let app = app_with(RealtimeConfig {
        max_sessions: 1,
        ..realtime_config()
    })
    .await;
    let mut first = connect_native(&app, "").await;
    assert_eq!(
        next_json(&mut first).await.expect("begin")["type"],
        "session.begin"
    );
    let status = get_json(&app, "/v1/realtime/status").await;
    assert_eq!(status["active_sessions"], 1);
    assert_eq!(status["status"], "at_capacity");

    let mut second = connect_native(&app, "").await;
    let (messages, close) = drain(&mut second).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["type"], "error");
    assert_eq!(messages[0]["code"], "no_capacity");
    assert_eq!(close, Some(CloseCode::from(4503)));

    // The same refusal in ElevenLabs' words.
    let url = ws_url(
        &app,
        "/v1/speech-to-text/realtime?model_id=scribe_v2_realtime",
    );
    let mut eleven = connect(&url, Some(("xi-api-key", ADMIN_KEY)))
        .await
        .expect("open");
    let (messages, _) = drain(&mut eleven).await;
    assert_eq!(messages[0]["message_type"], "resource_exhausted");
    assert!(messages[0]["error"].as_str().is_some());
}

#[tokio::test]
async fn a_client_that_disconnects_mid_utterance_leaves_no_session_behind() {
    let app = app_with(realtime_config()).await;
    let mut socket = connect_native(&app, "").await;
    let begin = next_json(&mut socket).await.expect("begin");
    let session_id = begin["session_id"].as_str().expect("id").to_owned();
    // Three seconds of speech, then the connection drops without `end`.
    let pcm = jfk_pcm(0.0);
    stream_pcm(&mut socket, &pcm[..FRAME_BYTES * 30], |chunk| {
        Message::Binary(chunk.to_vec().into())
    })
    .await;
    drop(socket);

    let mut record = Value::Null;
    for _ in 0..100 {
        record = get_json(&app, &format!("/v1/realtime/sessions/{session_id}")).await;
        if record["status"] != "active" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(record["status"], "interrupted", "{record}");
    assert_eq!(record["end_reason"], "disconnected");
    let status = get_json(&app, "/v1/realtime/status").await;
    assert_eq!(status["active_sessions"], 0, "{status}");
}

#[tokio::test]
async fn bad_parameters_and_missing_keys_are_refused() {
    let app = app_with(realtime_config()).await;
    let mut socket = connect_native(&app, "encoding=opus").await;
    let (messages, close) = drain(&mut socket).await;
    assert_eq!(messages[0]["code"], "invalid_parameters", "{messages:?}");
    assert!(
        messages[0]["message"]
            .as_str()
            .expect("message")
            .contains("opus")
    );
    assert_eq!(close, Some(CloseCode::from(4400)));

    let url = ws_url(&app, "/v1/audio/transcriptions/stream");
    match connect(&url, None).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn enhance_on_end_makes_a_batch_job_with_speakers_from_the_session_audio() {
    let app = app_with(realtime_config()).await;
    let mut socket = connect_native(&app, "language=en&enhance_on_end=true").await;
    let (session_id, messages) = native_jfk_session(&mut socket).await;
    let end = of_type(&messages, "type", "session.end");
    let job_id = end[0]["enhancement_job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no enhancement_job_id in {end:?}"))
        .to_owned();

    let job = app.wait_for_job(&job_id, Duration::from_secs(300)).await;
    assert_eq!(job["status"], "completed", "{job}");
    let duration = job["duration"].as_f64().expect("duration");
    assert!((duration - 12.0).abs() < 0.2, "recorded {duration} s");
    let text = job["text"].as_str().expect("text");
    let wer = word_error_rate(JFK_TEXT, text);
    assert!(wer <= 0.15, "WER {wer:.3}: {text}");
    let speakers = job["speakers"].as_array().expect("speakers");
    assert_eq!(speakers.len(), 1, "one person speaks: {speakers:?}");
    let words = job["words"].as_array().expect("words");
    assert!(words.len() >= 20, "{} words", words.len());
    assert!(
        words
            .iter()
            .all(|word| word["speaker"] == speakers[0]["id"]),
        "every word carries the speaker: {words:?}"
    );

    let record = get_json(&app, &format!("/v1/realtime/sessions/{session_id}")).await;
    assert_eq!(record["enhancement_job_id"], job_id.as_str());
}

#[tokio::test]
async fn native_clients_clear_audio_and_change_settings_mid_session() {
    let app = app_with(realtime_config()).await;
    let mut socket = connect_native(&app, "language=en").await;
    next_json(&mut socket).await.expect("session.begin");
    let control = |message: Value| Message::Text(message.to_string().into());
    let pcm = jfk_pcm(1.0);
    // "And so, my fellow Americans," is the first 4 s; the pause after it is short of the
    // 2 s of silence now asked for, so the utterance is still open when it is cleared.
    let (first, rest) = pcm.split_at(4 * 16_000 * 2);
    socket
        .send(control(
            json!({"type": "config", "min_silence_duration_ms": 2000}),
        ))
        .await
        .expect("send config");
    stream_pcm(&mut socket, first, |chunk| {
        Message::Binary(chunk.to_vec().into())
    })
    .await;
    socket
        .send(control(json!({"type": "clear"})))
        .await
        .expect("send clear");
    for refused in [
        json!({"type": "config", "vad_threshold": 2.0}),
        json!({"type": "config", "language": "de"}),
    ] {
        socket.send(control(refused)).await.expect("send config");
    }
    stream_pcm(&mut socket, rest, |chunk| {
        Message::Binary(chunk.to_vec().into())
    })
    .await;
    socket
        .send(control(json!({"type": "end"})))
        .await
        .expect("send end");
    let (messages, close) = drain(&mut socket).await;
    assert_eq!(close, Some(CloseCode::Normal), "{messages:?}");

    let errors = of_type(&messages, "type", "error");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|error| error["code"] == "invalid_message" && error["recoverable"] == true)
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .expect("message")
            .contains("vad_threshold")
    );
    assert!(
        errors[1]["message"]
            .as_str()
            .expect("message")
            .contains("\"de\"")
    );
    let finals: Vec<&str> = of_type(&messages, "type", "transcript.final")
        .iter()
        .map(|message| message["text"].as_str().expect("text"))
        .collect();
    let text = finals.join(" ").to_lowercase();
    assert!(
        !text.contains("americans"),
        "cleared audio was transcribed: {text}"
    );
    assert!(text.contains("your country"), "{text}");
}

/// An ElevenLabs `input_audio_chunk` frame.
fn eleven_chunk(pcm: &[u8], commit: bool) -> Message {
    let message = json!({
        "message_type": "input_audio_chunk",
        "audio_base_64": base64::engine::general_purpose::STANDARD.encode(pcm),
        "commit": commit,
        "sample_rate": 16000,
    });
    Message::Text(message.to_string().into())
}

#[tokio::test]
async fn elevenlabs_clients_commit_manually_and_get_timestamps() {
    let app = app_with(realtime_config()).await;
    let url = ws_url(
        &app,
        &format!(
            "/v1/speech-to-text/realtime?model_id={MODEL}&audio_format=pcm_16000&commit_strategy=manual&include_timestamps=true&language_code=eng"
        ),
    );
    let mut socket = connect(&url, Some(("xi-api-key", ADMIN_KEY)))
        .await
        .expect("open");
    let started = next_json(&mut socket).await.expect("session_started");
    assert_eq!(started["message_type"], "session_started");
    assert_eq!(started["config"]["commit_strategy"], "manual");
    stream_pcm(&mut socket, &jfk_pcm(0.5), |chunk| {
        eleven_chunk(chunk, false)
    })
    .await;
    socket.send(eleven_chunk(&[], true)).await.expect("commit");

    let mut committed = None;
    let mut timestamps = None;
    let mut partials = 0;
    while committed.is_none() || timestamps.is_none() {
        let message = next_json(&mut socket).await.expect("a transcript");
        match message["message_type"].as_str() {
            Some("partial_transcript") => partials += 1,
            Some("committed_transcript") => committed = Some(message),
            Some("committed_transcript_with_timestamps") => timestamps = Some(message),
            _ => {}
        }
    }
    assert!(partials >= 1);
    let text = committed.expect("committed")["text"]
        .as_str()
        .expect("text")
        .to_owned();
    let wer = word_error_rate(JFK_TEXT, &text);
    assert!(wer <= 0.15, "WER {wer:.3}: {text:?}");
    let timestamps = timestamps.expect("timestamps");
    assert_eq!(timestamps["language_code"], "eng");
    let words = timestamps["words"].as_array().expect("words");
    assert!(words.iter().any(|word| word["type"] == "spacing"));
    let spoken: Vec<&Value> = words.iter().filter(|word| word["type"] == "word").collect();
    assert!(spoken.len() >= 20);
    assert!(
        spoken
            .iter()
            .all(|word| word["start"].as_f64() <= word["end"].as_f64())
    );
    socket.close(None).await.expect("close");
}

#[tokio::test]
async fn a_single_use_token_opens_one_session_without_a_key() {
    let app = app_with(realtime_config()).await;
    let response: Value = app
        .client
        .post(format!(
            "{}/v1/single-use-token/realtime_scribe",
            app.address
        ))
        .header("xi-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let token = response["token"].as_str().expect("token");
    assert!(token.starts_with("tk_"));
    let url = ws_url(
        &app,
        &format!("/v1/speech-to-text/realtime?model_id=scribe_v2_realtime&token={token}"),
    );
    let mut socket = connect(&url, None)
        .await
        .expect("the token opens a session");
    assert_eq!(
        next_json(&mut socket).await.expect("started")["message_type"],
        "session_started"
    );
    socket.close(None).await.expect("close");
    match connect(&url, None).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("a used token must be refused, got {:?}", other.map(|_| ())),
    }
}
