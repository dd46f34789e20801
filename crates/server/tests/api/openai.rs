//! The OpenAI-compatible surface, spoken as the official SDK sends it (multipart, `x[]` lists).

use dalston_core::wer::word_error_rate;
use serde_json::Value;

use crate::helpers::{ADMIN_KEY, TestApp, spawn_app, test_file};

const JFK_TEXT: &str = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let bytes = std::fs::read(test_file("jfk.wav")).expect("jfk");
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name("jfk.wav"),
    );
    for (name, value) in fields {
        form = form.text((*name).to_owned(), (*value).to_owned());
    }
    app.client
        .post(app.url(path))
        .bearer_auth(ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn openai_transcriptions_answer_synchronously_in_openai_shapes() {
    let app = spawn_app().await;
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

#[tokio::test]
async fn openai_errors_use_the_openai_shape() {
    let app = spawn_app().await;
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

#[tokio::test]
async fn verbose_json_with_word_timestamps() {
    let app = spawn_app().await;
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

#[tokio::test]
async fn translations_and_models_list() {
    let app = spawn_app().await;
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
}
