//! `speaker_detection=per_channel`: each channel of a recording is transcribed alone and is one
//! speaker; the transcript interleaves the channels by time.

use serde_json::Value;

use crate::deployment::Deployment;
use crate::helpers::{
    AppOptions, SECOND_SIDE_STARTS_SECS, spawn_app, spawn_app_with, test_file, two_sided_call,
};

#[tokio::test]
async fn each_channel_is_its_own_speaker() {
    let app = spawn_app(Deployment::Embedded).await;
    let response = app
        .post_bytes(
            two_sided_call(),
            "call.wav",
            &[("speaker_detection", "per_channel"), ("language", "en")],
        )
        .await;
    let created: Value = response.json().await.expect("json");
    let id = created["id"].as_str().expect("id");
    let job = app
        .wait_for_job(id, std::time::Duration::from_secs(300))
        .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["warnings"], serde_json::json!([]), "{job}");
    let speakers: Vec<(&str, u64)> = job["speakers"]
        .as_array()
        .expect("speakers")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().expect("id"),
                s["channel"].as_u64().expect("channel"),
            )
        })
        .collect();
    assert_eq!(speakers, [("SPEAKER_00", 0), ("SPEAKER_01", 1)], "{job}");
    let words = job["words"].as_array().expect("words");
    let said_by = |speaker: &str| -> Vec<String> {
        words
            .iter()
            .filter(|w| w["speaker"] == speaker)
            .map(|w| w["text"].as_str().expect("text").to_lowercase())
            .collect()
    };
    let (first, second) = (said_by("SPEAKER_00"), said_by("SPEAKER_01"));
    println!("channel 0: {first:?}\nchannel 1: {second:?}");
    assert_eq!(first.len() + second.len(), words.len(), "unlabelled words");
    assert!(first.iter().any(|w| w.starts_with("countr")), "{first:?}");
    assert!(
        second.iter().any(|w| w.starts_with("dashwood")),
        "{second:?}"
    );
    assert!(
        !first.iter().any(|w| w.starts_with("dashwood")),
        "{first:?}"
    );
    assert!(
        !second.iter().any(|w| w.starts_with("countr")),
        "{second:?}"
    );
    // Interleaved by time: channel 1 only speaks after its silence, and segments are in order.
    for word in words.iter().filter(|w| w["speaker"] == "SPEAKER_01") {
        assert!(
            word["start"].as_f64().expect("start") >= SECOND_SIDE_STARTS_SECS - 0.5,
            "{word}"
        );
    }
    let starts: Vec<f64> = job["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .map(|s| s["start"].as_f64().expect("start"))
        .collect();
    assert!(
        starts.windows(2).all(|pair| pair[0] <= pair[1]),
        "{starts:?}"
    );
}

#[tokio::test]
async fn mono_audio_cannot_be_transcribed_per_channel() {
    let app = spawn_app_with(AppOptions {
        without_engines: true,
        ..AppOptions::default()
    })
    .await;
    let response = app
        .post_transcription(
            &test_file("jfk.wav"),
            &[("speaker_detection", "per_channel")],
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    let message = body["detail"]["message"].as_str().expect("detail");
    assert!(message.contains("per_channel"), "{body}");
}
