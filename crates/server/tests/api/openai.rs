//! The OpenAI-compatible surface, spoken as the official SDK sends it (multipart, `x[]` lists).

use dalston_core::wer::word_error_rate;
use dalston_server::config::LimitsConfig;
use serde_json::Value;

use crate::deployment::{Deployment, on_both_deployments};
use crate::helpers::{ADMIN_KEY, AppOptions, TestApp, form, spawn_app, spawn_app_with, test_file};

const JFK_TEXT: &str = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(ADMIN_KEY)
        .multipart(form(&test_file("jfk.wav"), fields))
        .send()
        .await
        .expect("request")
}

async fn openai_transcriptions_answer_synchronously_in_openai_shapes(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let json: Value = post(&app, "/v1/audio/transcriptions", &[("model", "whisper-1")])
        .await
        .json()
        .await
        .expect("json");
    let text = json["text"].as_str().expect("text");
    assert!(word_error_rate(JFK_TEXT, text) <= 0.10, "{json}");
    assert_eq!(json["usage"]["type"], "duration");

    let verbose: Value = post(
        &app,
        "/v1/audio/transcriptions",
        &[
            ("model", "gpt-4o-mini-transcribe"),
            ("response_format", "verbose_json"),
            ("timestamp_granularities[]", "segment"),
        ],
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(verbose["task"], "transcribe");
    assert_eq!(verbose["language"], "english");
    assert!((verbose["duration"].as_f64().expect("duration") - 11.0).abs() < 0.2);
    let segment = &verbose["segments"][0];
    for field in [
        "id",
        "seek",
        "start",
        "end",
        "text",
        "tokens",
        "temperature",
        "avg_logprob",
        "compression_ratio",
        "no_speech_prob",
    ] {
        assert!(
            !segment[field].is_null(),
            "segment lacks {field}: {segment}"
        );
    }

    let srt = post(
        &app,
        "/v1/audio/transcriptions",
        &[("model", "whisper-1"), ("response_format", "srt")],
    )
    .await;
    assert_eq!(srt.status(), 200);
    assert!(
        srt.text()
            .await
            .expect("body")
            .starts_with("1\n00:00:00,000 --> ")
    );
    let text = post(
        &app,
        "/v1/audio/transcriptions",
        &[("model", "whisper-1"), ("response_format", "text")],
    )
    .await;
    assert!(word_error_rate(JFK_TEXT, &text.text().await.expect("body")) <= 0.10);
}

async fn openai_errors_use_the_openai_shape(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let bad = post(
        &app,
        "/v1/audio/transcriptions",
        &[("model", "whisper-1"), ("response_format", "xml")],
    )
    .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("response_format"))
    );

    let not_audio = app
        .client
        .post(app.url("/v1/audio/translations"))
        .bearer_auth(ADMIN_KEY)
        .multipart(
            reqwest::multipart::Form::new()
                .text("model", "whisper-1")
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(b"hello".repeat(100)).file_name("a.txt"),
                ),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(not_audio.status(), 400);
    let body: Value = not_audio.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_audio");
}

async fn verbose_json_with_word_timestamps(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let only_words: Value = post(
        &app,
        "/v1/audio/transcriptions",
        &[
            ("model", "whisper-1"),
            ("response_format", "verbose_json"),
            ("timestamp_granularities[]", "word"),
        ],
    )
    .await
    .json()
    .await
    .expect("json");
    let words = only_words["words"].as_array().expect("words");
    assert!(words.len() >= 20, "{only_words}");
    assert!(
        words
            .iter()
            .all(|w| w["word"].is_string() && w["start"].as_f64() <= w["end"].as_f64())
    );
    assert!(
        only_words.get("segments").is_none(),
        "only words were asked for"
    );
    let both: Value = post(
        &app,
        "/v1/audio/transcriptions",
        &[
            ("model", "whisper-1"),
            ("response_format", "verbose_json"),
            ("timestamp_granularities[]", "word"),
            ("timestamp_granularities[]", "segment"),
        ],
    )
    .await
    .json()
    .await
    .expect("json");
    assert!(
        both["segments"].is_array() && both["words"].is_array(),
        "{both}"
    );
}

async fn translations_and_models_list(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let json: Value = post(&app, "/v1/audio/translations", &[("model", "whisper-1")])
        .await
        .json()
        .await
        .expect("json");
    let text = json["text"].as_str().expect("text");
    // English speech translated to English is the same words.
    assert!(word_error_rate(JFK_TEXT, text) <= 0.15, "{json}");
    let models: Value = app
        .get("/v1/models")
        .send()
        .await
        .expect("models")
        .json()
        .await
        .expect("json");
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"whisper-1") && ids.contains(&"whisper-base"),
        "{ids:?}"
    );
    assert!(
        models["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|m| m["object"] == "model" && m["owned_by"].is_string())
    );
    let model = |id: &str| {
        models["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} listed: {models}"))
    };
    let base = model("whisper-base");
    let languages = base["languages"].as_array().expect("languages");
    assert!(languages.len() >= 99, "{base}");
    assert!(languages.iter().any(|l| l == "fr"), "{base}");
    assert_eq!(base["capabilities"]["translate"], true);
    assert_eq!(base["capabilities"]["word_timestamps"], true);
    let tiny = model("whisper-tiny.en");
    assert_eq!(tiny["languages"], serde_json::json!(["en"]));
    assert_eq!(tiny["capabilities"]["translate"], false);
}

/// Speech longer than one 30 s window, built from the test recordings.
fn two_window_speech() -> Vec<u8> {
    let dir = crate::helpers::test_data_dir();
    let mut samples = Vec::new();
    for name in [
        "jfk.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
        "jfk.wav",
        "jfk.wav",
    ] {
        let bytes = std::fs::read(dir.join(name)).expect("wav");
        let (mut clip, rate) = dalston_audio::decode_wav_pcm16(&bytes).expect("decode");
        assert_eq!(rate, 16_000);
        samples.append(&mut clip);
    }
    dalston_audio::encode_wav_pcm16(&samples, 16_000)
}

async fn stream_true_sends_deltas_while_decoding_then_done(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(two_window_speech()).file_name("long.wav"),
        )
        .text("model", "gpt-4o-transcribe")
        .text("stream", "true");
    let mut response = app
        .client
        .post(app.url("/v1/audio/transcriptions"))
        .bearer_auth(ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );
    let mut buffer = String::new();
    let mut events: Vec<Value> = Vec::new();
    let mut job_running_at_first_delta = None;
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let Some(data) = frame.lines().find_map(|line| line.strip_prefix("data: ")) else {
                continue;
            };
            let event: Value = serde_json::from_str(data).expect("event json");
            if event["type"] == "transcript.text.delta" && job_running_at_first_delta.is_none() {
                let list: Value = app
                    .get("/v1/audio/transcriptions?limit=1")
                    .send()
                    .await
                    .expect("list")
                    .json()
                    .await
                    .expect("json");
                job_running_at_first_delta = Some(list["jobs"][0]["status"] == "running");
            }
            events.push(event);
        }
    }
    let done = events.last().expect("events");
    assert_eq!(done["type"], "transcript.text.done", "{events:?}");
    let deltas: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "transcript.text.delta")
        .map(|e| e["delta"].as_str().expect("delta"))
        .collect();
    assert!(deltas.len() >= 3, "{deltas:?}");
    assert!(word_error_rate(done["text"].as_str().expect("text"), &deltas.concat()) <= 0.05);
    assert_eq!(
        job_running_at_first_delta,
        Some(true),
        "the first text came before the job finished"
    );
}

/// `include[]=logprobs` on a json answer: one entry per word, whose tokens spell the text and
/// whose probabilities are high for clear speech.
async fn json_includes_logprobs_when_asked(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let response = post(
        &app,
        "/v1/audio/transcriptions",
        &[("model", "gpt-4o-transcribe"), ("include[]", "logprobs")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let text = body["text"].as_str().expect("text");
    assert!(word_error_rate(JFK_TEXT, text) <= 0.10, "{body}");
    let logprobs = body["logprobs"].as_array().expect("logprobs");
    assert!(logprobs.len() >= 20, "{body}");
    let mut spelled = String::new();
    let mut total = 0.0;
    for entry in logprobs {
        let token = entry["token"].as_str().expect("token");
        let bytes: Vec<u8> = entry["bytes"]
            .as_array()
            .expect("bytes")
            .iter()
            .map(|b| u8::try_from(b.as_u64().expect("byte")).expect("a byte"))
            .collect();
        assert_eq!(bytes, token.as_bytes(), "{entry}");
        let logprob = entry["logprob"].as_f64().expect("logprob");
        assert!(logprob <= 0.0 && logprob.is_finite(), "{entry}");
        total += logprob;
        spelled.push_str(token);
    }
    assert!(word_error_rate(text, &spelled) <= 0.05, "{spelled}");
    #[expect(clippy::cast_precision_loss, reason = "a few dozen words")]
    let mean_probability = (total / logprobs.len() as f64).exp();
    assert!(mean_probability > 0.5, "clear speech: {mean_probability}");

    let plain: Value = post(&app, "/v1/audio/transcriptions", &[("model", "whisper-1")])
        .await
        .json()
        .await
        .expect("json");
    assert!(plain.get("logprobs").is_none(), "not asked for: {plain}");
}

/// A stream that fails ends with an `error` event in OpenAI's error shape, `param` included:
/// here the job outlasts the (1 s) wait.
#[tokio::test]
async fn a_failed_stream_ends_with_an_openai_error_event() {
    let app = spawn_app_with(AppOptions {
        limits: Some(LimitsConfig {
            sync_wait_secs: 1,
            ..LimitsConfig::default()
        }),
        ..AppOptions::default()
    })
    .await;
    let body = post(
        &app,
        "/v1/audio/transcriptions",
        &[("model", "gpt-4o-transcribe"), ("stream", "true")],
    )
    .await
    .text()
    .await
    .expect("body");
    let events: Vec<Value> = body
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).expect("event json"))
        .collect();
    let last = events.last().expect("events");
    assert_eq!(last["type"], "error", "{events:?}");
    let error = &last["error"];
    assert_eq!(error["type"], "server_error", "{error}");
    assert_eq!(error["code"], "unavailable", "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("job")));
    assert!(
        error.as_object().is_some_and(|e| e.contains_key("param")),
        "{error}"
    );
}

/// The newest job, as the native API shows it: how the OpenAI request was run.
async fn latest_job(app: &TestApp) -> Value {
    let list: Value = app
        .get("/v1/audio/transcriptions?limit=1")
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let id = list["jobs"][0]["id"].as_str().expect("job id");
    app.get(&format!("/v1/audio/transcriptions/{id}"))
        .send()
        .await
        .expect("job")
        .json()
        .await
        .expect("json")
}

async fn diarized_json_labels_segments_with_openai_speakers(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let response = post(
        &app,
        "/v1/audio/transcriptions",
        &[
            ("model", "gpt-4o-transcribe-diarize"),
            ("response_format", "diarized_json"),
            ("chunking_strategy[type]", "server_vad"),
            ("chunking_strategy[silence_duration_ms]", "700"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["task"], "transcribe", "{body}");
    assert!((body["duration"].as_f64().expect("duration") - 11.0).abs() < 0.2);
    assert_eq!(body["usage"]["type"], "duration");
    assert!(word_error_rate(JFK_TEXT, body["text"].as_str().expect("text")) <= 0.10);
    let segments = body["segments"].as_array().expect("segments");
    assert!(!segments.is_empty(), "{body}");
    let mut previous_end = 0.0;
    for segment in segments {
        assert_eq!(segment["type"], "transcript.text.segment", "{segment}");
        assert!(segment["id"].is_string(), "{segment}");
        let (start, end) = (
            segment["start"].as_f64().expect("start"),
            segment["end"].as_f64().expect("end"),
        );
        assert!(previous_end - 0.01 <= start && start <= end, "{body}");
        previous_end = end;
        // One voice in the recording: OpenAI's first label.
        assert_eq!(segment["speaker"], "A", "{segment}");
    }
    let spoken: Vec<&str> = segments
        .iter()
        .map(|s| s["text"].as_str().expect("text"))
        .collect();
    assert!(
        word_error_rate(JFK_TEXT, &spoken.join(" ")) <= 0.10,
        "{spoken:?}"
    );

    // The labels come from a diarize stage that found one speaker, and the VAD setting arrived.
    let job = latest_job(&app).await;
    assert_eq!(job["parameters"]["speaker_detection"], "diarize", "{job}");
    assert_eq!(job["parameters"]["vad"]["min_silence_duration_ms"], 700);
    let speakers = job["speakers"].as_array().expect("speakers");
    assert_eq!(speakers.len(), 1, "{job}");
    assert!(
        job["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .any(|stage| stage["stage"] == "diarize" && stage["status"] == "completed"),
        "{job}"
    );
}

async fn diarized_stream_sends_speaker_segments_then_done(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let response = post(
        &app,
        "/v1/audio/transcriptions",
        &[
            ("model", "gpt-4o-transcribe-diarize"),
            ("response_format", "diarized_json"),
            ("stream", "true"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.expect("body");
    let events: Vec<Value> = body
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).expect("event json"))
        .collect();
    let done = events.last().expect("events");
    assert_eq!(done["type"], "transcript.text.done", "{events:?}");
    let segments: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "transcript.text.segment")
        .collect();
    assert!(!segments.is_empty(), "{events:?}");
    assert!(segments.iter().all(|s| s["speaker"] == "A"), "{segments:?}");
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "transcript.text.delta")
        .collect();
    assert_eq!(deltas.len(), segments.len(), "{events:?}");
    assert!(
        deltas
            .iter()
            .zip(&segments)
            .all(|(delta, segment)| delta["segment_id"] == segment["id"])
    );
    let spoken: Vec<&str> = segments
        .iter()
        .map(|s| s["text"].as_str().expect("text"))
        .collect();
    assert!(
        word_error_rate(JFK_TEXT, &spoken.join(" ")) <= 0.10,
        "{spoken:?}"
    );
    assert!(word_error_rate(JFK_TEXT, done["text"].as_str().expect("text")) <= 0.10);
}

/// Posts a request OpenAI would refuse and returns the `param` its 400 names.
async fn refused_param(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Value {
    let response = post(app, path, fields).await;
    assert_eq!(response.status(), 400, "{fields:?}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["param"].clone()
}

async fn openai_refuses_what_it_cannot_honour_naming_the_field(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let diarize = [
        ("model", "gpt-4o-transcribe-diarize"),
        ("response_format", "diarized_json"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut fields = diarize.to_vec();
        fields.extend_from_slice(extra);
        fields
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("model", "whisper-1"), ("response_format", "diarized_json")],
            "response_format",
        ),
        (
            with(&[("known_speaker_names[]", "agent")]),
            "known_speaker_names",
        ),
        (
            with(&[("known_speaker_references[]", "data:audio/wav;base64,AAAA")]),
            "known_speaker_references",
        ),
        (
            with(&[("chunking_strategy", "manual")]),
            "chunking_strategy",
        ),
        (
            with(&[
                ("chunking_strategy[type]", "server_vad"),
                ("chunking_strategy[threshold]", "1.5"),
            ]),
            "chunking_strategy",
        ),
        (
            vec![("model", "whisper-1"), ("temperature", "1.5")],
            "temperature",
        ),
        (
            vec![("model", "whisper-1"), ("temperature", "warm")],
            "temperature",
        ),
        (
            vec![
                ("model", "whisper-1"),
                ("timestamp_granularities[]", "word"),
            ],
            "timestamp_granularities",
        ),
        (
            vec![
                ("model", "whisper-1"),
                ("response_format", "srt"),
                ("timestamp_granularities[]", "segment"),
            ],
            "timestamp_granularities",
        ),
        (
            vec![
                ("model", "gpt-4o-transcribe"),
                ("response_format", "verbose_json"),
                ("include[]", "logprobs"),
            ],
            "include",
        ),
        (
            vec![
                ("model", "gpt-4o-transcribe"),
                ("stream", "true"),
                ("include[]", "logprobs"),
            ],
            "include",
        ),
        (
            vec![("model", "gpt-4o-transcribe"), ("include[]", "tokens")],
            "include",
        ),
    ];
    for (fields, param) in cases {
        let refused = refused_param(&app, "/v1/audio/transcriptions", &fields).await;
        assert_eq!(refused, param, "{fields:?}");
    }
    let translation = [("model", "whisper-1"), ("response_format", "diarized_json")];
    let refused = refused_param(&app, "/v1/audio/translations", &translation).await;
    assert_eq!(refused, "response_format");
    // A temperature in range is where decoding starts: no segment is decoded below it.
    let warm = post(
        &app,
        "/v1/audio/transcriptions",
        &[
            ("model", "whisper-1"),
            ("temperature", "0.4"),
            ("response_format", "verbose_json"),
        ],
    )
    .await;
    assert_eq!(warm.status(), 200);
    let body: Value = warm.json().await.expect("json");
    let segments = body["segments"].as_array().expect("segments");
    assert!(!segments.is_empty(), "{body}");
    for segment in segments {
        let temperature = segment["temperature"].as_f64().expect("temperature");
        assert!(temperature >= 0.399, "decoded at {temperature}: {segment}");
    }
    let text = body["text"].as_str().expect("text");
    assert!(word_error_rate(JFK_TEXT, text) <= 0.15, "{text}");
}

on_both_deployments!(
    openai_transcriptions_answer_synchronously_in_openai_shapes,
    openai_errors_use_the_openai_shape,
    verbose_json_with_word_timestamps,
    translations_and_models_list,
    stream_true_sends_deltas_while_decoding_then_done,
    diarized_json_labels_segments_with_openai_speakers,
    diarized_stream_sends_speaker_segments_then_done,
    openai_refuses_what_it_cannot_honour_naming_the_field,
    json_includes_logprobs_when_asked,
);
