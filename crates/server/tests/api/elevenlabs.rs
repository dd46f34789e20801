//! The ElevenLabs-compatible surface, spoken as the official SDK sends it.

use base64::Engine as _;
use dalston_core::wer::word_error_rate;
use serde_json::Value;

use crate::deployment::{Deployment, on_both_deployments};
use crate::helpers::{
    ADMIN_KEY, TestApp, decode_samples, form, form_from_bytes, spawn_app, test_file, two_sided_call,
};

const JFK_TEXT: &str = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";

async fn convert(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/v1/speech-to-text"))
        .header("xi-api-key", ADMIN_KEY)
        .multipart(form(&test_file("jfk.wav"), fields))
        .send()
        .await
        .expect("request")
}

async fn convert_get_and_delete_in_elevenlabs_shapes(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let response = convert(
        &app,
        &[
            ("model_id", "scribe_v1"),
            ("timestamps_granularity", "none"),
            ("tag_audio_events", "false"),
            ("diarize", "false"),
            (
                "additional_formats",
                r#"[{"format": "srt"}, {"format": "segmented_json"}, {"format": "html"}, {"format": "docx"}, {"format": "pdf"}]"#,
            ),
            ("some_future_field", "ignored"),
            // What the SDK sends for fields the caller left out, and fields that only tune.
            ("webhook_metadata", "null"),
            ("entity_detection", "null"),
            ("entity_redaction", "null"),
            ("entity_redaction_mode", "redacted"),
            ("no_verbatim", "true"),
            ("use_speaker_library", "false"),
            ("detect_speaker_roles", "false"),
            ("seed", "7"),
            ("temperature", "0"),
            ("numbers_format", "digits"),
            ("secondary_language_codes", "fr"),
            ("file_format", "other"),
            ("multichannel_output_style", "separate"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["language_code"], "eng");
    assert!(
        body["language_probability"]
            .as_f64()
            .is_some_and(|p| p > 0.5),
        "{body}"
    );
    assert!(
        word_error_rate(JFK_TEXT, body["text"].as_str().expect("text")) <= 0.10,
        "{body}"
    );
    assert_eq!(body["words"], serde_json::json!([]));
    assert!((body["audio_duration_secs"].as_f64().expect("duration") - 11.0).abs() < 0.2);
    let formats = body["additional_formats"].as_array().expect("formats");
    assert_eq!(formats[0]["requested_format"], "srt");
    assert!(
        formats[0]["content"]
            .as_str()
            .expect("srt")
            .starts_with("1\n")
    );
    assert_eq!(formats[1]["file_extension"], "json");
    let decode = |item: &Value| {
        assert_eq!(item["is_base64_encoded"], true);
        base64::engine::general_purpose::STANDARD
            .decode(item["content"].as_str().expect("content"))
            .expect("base64")
    };
    assert!(
        decode(&formats[3]).starts_with(b"PK"),
        "docx is a zip package"
    );
    assert!(decode(&formats[4]).starts_with(b"%PDF-"));
    assert!(
        formats[2]["content"]
            .as_str()
            .expect("html")
            .contains("<p data-start=")
    );
    let id = body["transcription_id"].as_str().expect("id").to_owned();

    let path = format!("/v1/speech-to-text/transcripts/{id}");
    let fetched: Value = app
        .client
        .get(app.url(&path))
        .header("xi-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(fetched["text"], body["text"]);
    let deleted = app
        .client
        .delete(app.url(&path))
        .header("xi-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 200);
    let gone = app
        .client
        .get(app.url(&path))
        .header("xi-api-key", ADMIN_KEY)
        .send()
        .await
        .expect("get");
    assert_eq!(gone.status(), 404);
    let body: Value = gone.json().await.expect("json");
    assert_eq!(body["detail"]["status"], "not_found");
}

async fn invalid_fields_get_the_validation_list(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    for (fields, field) in [
        (
            vec![
                ("model_id", "scribe_v1"),
                ("timestamps_granularity", "syllable"),
            ],
            "timestamps_granularity",
        ),
        (vec![("timestamps_granularity", "word")], "model_id"),
        (
            vec![("model_id", "scribe_v1"), ("diarize", "maybe")],
            "diarize",
        ),
        (
            vec![
                ("model_id", "scribe_v1"),
                ("use_multi_channel", "true"),
                ("diarize", "true"),
            ],
            "use_multi_channel",
        ),
        (
            vec![
                ("model_id", "scribe_v1"),
                ("additional_formats", r#"[{"format": "pptx"}]"#),
            ],
            "additional_formats",
        ),
        (
            vec![
                ("model_id", "scribe_v1"),
                (
                    "additional_formats",
                    r#"[{"format": "srt", "max_segment_chars": -3}]"#,
                ),
            ],
            "additional_formats",
        ),
    ]
    .into_iter()
    .chain(
        [
            ("entity_detection", r#"["pii"]"#),
            ("entity_redaction", r#""all""#),
            ("transcript_edit", "fix the names"),
            ("detect_speaker_roles", "true"),
            ("file_format", "mp3"),
            ("multichannel_output_style", "combined"),
            ("temperature", "2.5"),
            ("seed", "-1"),
            ("diarization_threshold", "high"),
            ("numbers_format", "roman"),
            ("no_verbatim", "perhaps"),
        ]
        .map(|(field, value)| (vec![("model_id", "scribe_v1"), (field, value)], field)),
    ) {
        let response = convert(&app, &fields).await;
        assert_eq!(response.status(), 422, "{fields:?}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["detail"][0]["loc"][1], field, "{body}");
        assert!(body["detail"][0]["msg"].is_string());
    }
}

async fn words_alternate_with_spacing_and_rebuild_the_text(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let body: Value = convert(
        &app,
        &[
            ("model_id", "scribe_v2"),
            ("timestamps_granularity", "character"),
        ],
    )
    .await
    .json()
    .await
    .expect("json");
    let words = body["words"].as_array().expect("words");
    assert!(words.len() >= 40, "{body}");
    for (index, entry) in words.iter().enumerate() {
        let expected = if index % 2 == 0 { "word" } else { "spacing" };
        assert_eq!(entry["type"], expected, "{entry}");
        assert!(entry["logprob"].as_f64().is_some_and(|p| p <= 0.0));
        assert!(entry["start"].as_f64() <= entry["end"].as_f64(), "{entry}");
    }
    let rebuilt: String = words
        .iter()
        .map(|w| w["text"].as_str().expect("text"))
        .collect();
    assert!(
        word_error_rate(body["text"].as_str().expect("text"), &rebuilt) <= 0.05,
        "{rebuilt}"
    );
    let first = &words[0];
    let characters = first["characters"].as_array().expect("characters");
    assert_eq!(
        characters.len(),
        first["text"].as_str().expect("text").chars().count()
    );
}

#[tokio::test]
async fn format_options_shape_segmented_json_and_subtitles() {
    let app = spawn_app(Deployment::Embedded).await;
    let body: Value = convert(
        &app,
        &[
            ("model_id", "scribe_v1"),
            (
                "additional_formats",
                r#"[{"format": "segmented_json", "max_segment_chars": 30}, {"format": "srt", "max_characters_per_line": 20, "max_segment_duration_s": 3}]"#,
            ),
        ],
    )
    .await
    .json()
    .await
    .expect("json");
    let formats = body["additional_formats"].as_array().expect("formats");
    let segmented: Value =
        serde_json::from_str(formats[0]["content"].as_str().expect("content")).expect("JSON");
    assert_eq!(segmented["language_code"], "eng");
    let segments = segmented["segments"].as_array().expect("segments");
    assert!(segments.len() >= 4, "{segmented}");
    let mut all_words = Vec::new();
    for segment in segments {
        let text = segment["text"].as_str().expect("text");
        assert!(text.chars().count() <= 30, "{text:?} is over 30 characters");
        let words = segment["words"].as_array().expect("words");
        let rebuilt: String = words
            .iter()
            .map(|w| w["text"].as_str().expect("text"))
            .collect();
        assert_eq!(rebuilt, text, "a segment's words spell its text");
        assert!(segment["start"].as_f64() <= segment["end"].as_f64());
        all_words.push(rebuilt);
    }
    assert!(
        word_error_rate(JFK_TEXT, &all_words.join(" ")) <= 0.10,
        "{all_words:?}"
    );
    let srt = formats[1]["content"].as_str().expect("srt");
    let cues: Vec<&str> = srt.split("\n\n").filter(|cue| !cue.is_empty()).collect();
    assert!(cues.len() >= 4, "3 s segments of 11 s of speech: {srt}");
    for line in srt.lines().filter(|line| !line.contains("-->")) {
        assert!(line.chars().count() <= 20, "{line:?} is over 20 characters");
    }
}

/// `file_format=pcm_s16le_16`: headerless 16 kHz mono PCM, as low-latency clients send it.
#[tokio::test]
async fn raw_pcm_is_transcribed() {
    let app = spawn_app(Deployment::Embedded).await;
    let pcm: Vec<u8> = decode_samples(&test_file("jfk.wav"))
        .iter()
        .flat_map(|sample| {
            #[expect(clippy::cast_possible_truncation, reason = "scaled into i16")]
            let value = (sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16;
            value.to_le_bytes()
        })
        .collect();
    let send = |bytes: Vec<u8>| {
        app.client
            .post(app.url("/v1/speech-to-text"))
            .header("xi-api-key", ADMIN_KEY)
            .multipart(form_from_bytes(
                bytes,
                "audio.raw",
                &[("model_id", "scribe_v1"), ("file_format", "pcm_s16le_16")],
            ))
            .send()
    };
    let mut odd = pcm.clone();
    odd.push(0);
    let response = send(pcm).await.expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let text = body["text"].as_str().expect("text");
    assert!(word_error_rate(JFK_TEXT, text) <= 0.10, "{body}");
    assert!((body["audio_duration_secs"].as_f64().expect("duration") - 11.0).abs() < 0.2);
    // Half a sample is not 16-bit PCM.
    let response = send(odd).await.expect("request");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["detail"]["status"], "invalid_audio", "{body}");
}

#[tokio::test]
async fn multi_channel_gives_one_transcript_per_channel() {
    let app = spawn_app(Deployment::Embedded).await;
    let fields = [
        ("model_id", "scribe_v1"),
        ("use_multi_channel", "true"),
        ("language_code", "en"),
    ];
    let response = app
        .client
        .post(app.url("/v1/speech-to-text"))
        .header("xi-api-key", ADMIN_KEY)
        .multipart(form_from_bytes(two_sided_call(), "call.wav", &fields))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let transcripts = body["transcripts"].as_array().expect("transcripts");
    assert_eq!(transcripts.len(), 2, "{body}");
    for (channel, transcript) in transcripts.iter().enumerate() {
        assert_eq!(transcript["channel_index"], channel, "{transcript}");
        assert_eq!(transcript["language_code"], "eng");
        let words = transcript["words"].as_array().expect("words");
        assert!(!words.is_empty(), "{transcript}");
        for word in words {
            assert_eq!(word["channel_index"], channel, "{word}");
            assert_eq!(word["speaker_id"], format!("speaker_{channel}"), "{word}");
        }
    }
    let text = |channel: usize| {
        transcripts[channel]["text"]
            .as_str()
            .expect("text")
            .to_owned()
    };
    assert!(
        text(0).contains("country") && !text(0).contains("Dashwood"),
        "{body}"
    );
    assert!(
        text(1).contains("Dashwood") && !text(1).contains("country"),
        "{body}"
    );
    let id = body["transcription_id"].as_str().expect("id");
    let fetched: Value = app
        .get(&format!("/v1/speech-to-text/transcripts/{id}"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(fetched["transcripts"], body["transcripts"], "{fetched}");
}

on_both_deployments!(
    convert_get_and_delete_in_elevenlabs_shapes,
    invalid_fields_get_the_validation_list,
    words_alternate_with_spacing_and_rebuild_the_text,
);
