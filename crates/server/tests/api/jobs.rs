//! The batch slice end to end: upload → completed → the right words.
#![expect(
    clippy::print_stdout,
    reason = "the test bodies (plain functions, run by on_both_deployments!) print the WER they measured"
)]

use std::time::Duration;

use dalston_core::wer::word_error_rate;

use crate::deployment::{Deployment, on_both_deployments};
use crate::helpers::{ffmpeg_convert, spawn_app, test_data_dir, test_file};

const JFK_TEXT: &str = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";

/// `(file name, reference text)` of the LibriVox clips.
fn librivox_clips() -> Vec<(String, String)> {
    let listing = std::fs::read_to_string(test_data_dir().join("librivox/transcription"))
        .expect("transcription");
    listing
        .lines()
        .filter_map(|line| {
            let (text, id) = line.rsplit_once(" (")?;
            let text = text.replace("<s>", "").replace("</s>", "");
            Some((
                format!("{}.wav", id.trim_end_matches(')')),
                text.trim().to_owned(),
            ))
        })
        .collect()
}

async fn jfk_is_transcribed_with_segments_progress_and_stages(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let job = app.transcribe(&test_file("jfk.wav"), &[]).await;
    let text = job["text"].as_str().expect("text");
    let wer = word_error_rate(JFK_TEXT, text);
    println!("jfk.wav WER {:.1}%: {text}", wer * 100.0);
    assert!(wer <= 0.10, "WER {wer} too high: {text}");
    assert_eq!(job["progress"], 100);
    assert_eq!(job["language_code"], "en");
    assert_eq!(job["metadata"]["language_source"], "detected");
    let segments = job["segments"].as_array().expect("segments");
    assert!(!segments.is_empty());
    let last_end = segments.last().expect("segment")["end"]
        .as_f64()
        .expect("end");
    assert!(
        last_end > 8.0 && last_end <= 11.1,
        "segments end at {last_end}"
    );
    let stages: Vec<&str> = job["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["stage"].as_str().expect("stage"))
        .collect();
    assert_eq!(stages, ["prepare", "transcribe", "merge"]);
    assert!(
        job["stages"]
            .as_array()
            .expect("stages")
            .iter()
            .all(|s| s["status"] == "completed" && s["duration_ms"].is_number())
    );
    assert_eq!(job["audio"]["sample_rate"], 16000);
    assert!((job["audio"]["duration_seconds"].as_f64().expect("duration") - 11.0).abs() < 0.1);
    // Word timings by default: every word in order, inside its segment and the audio.
    assert_eq!(job["warnings"], serde_json::json!([]));
    assert_eq!(job["metadata"]["word_timestamps"], true);
    let words = job["words"].as_array().expect("words");
    let spoken: Vec<&str> = words
        .iter()
        .map(|w| w["text"].as_str().expect("word"))
        .collect();
    assert!(
        word_error_rate(JFK_TEXT, &spoken.join(" ")) <= 0.10,
        "{spoken:?}"
    );
    let mut previous_end = 0.0;
    for word in words {
        let (start, end) = (
            word["start"].as_f64().expect("start"),
            word["end"].as_f64().expect("end"),
        );
        assert!(
            start >= previous_end - 1e-6 && start <= end && end <= 11.01,
            "{word} after {previous_end}"
        );
        assert!(
            word["confidence"]
                .as_f64()
                .is_some_and(|c| (0.0..=1.0).contains(&c))
        );
        previous_end = end;
    }
    let last = words.last().expect("a word");
    assert!(
        last["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("country")),
        "{last}"
    );
    assert!(last["end"].as_f64().is_some_and(|end| end > 9.5), "{last}");
}

async fn librivox_clips_are_transcribed_within_ten_percent_wer(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let dir = test_data_dir().join("librivox");
    let ids = futures_ids(&app, &dir).await;
    let mut total_errors = 0.0;
    let mut total_words = 0usize;
    for ((file, reference), id) in librivox_clips().into_iter().zip(ids) {
        let job = app.wait_for_job(&id, Duration::from_secs(300)).await;
        assert_eq!(job["status"], "completed", "{file}: {job}");
        let text = job["text"].as_str().expect("text");
        let wer = word_error_rate(&reference, text);
        println!("{file} WER {:.1}%: {text}", wer * 100.0);
        assert!(wer <= 0.10, "{file}: WER {wer}: {text:?} vs {reference:?}");
        let words = reference.split_whitespace().count();
        total_errors += wer * words as f64;
        total_words += words;
    }
    println!(
        "librivox overall WER {:.1}%",
        total_errors / total_words as f64 * 100.0
    );
}

/// Submits every clip at once (the queue runs them in turn) and returns the job ids in order.
async fn futures_ids(app: &crate::helpers::TestApp, dir: &std::path::Path) -> Vec<String> {
    let mut ids = Vec::new();
    for (file, _) in librivox_clips() {
        ids.push(app.submit(&dir.join(file), &[("language", "en")]).await);
    }
    ids
}

async fn other_formats_rates_and_channels_give_the_same_words(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let scratch = tempfile::tempdir().expect("tempdir");
    let source = test_file("jfk.wav");
    let variants = [
        ("jfk-48k-stereo.wav", vec!["-ar", "48000", "-ac", "2"]),
        ("jfk.mp3", vec!["-codec:a", "libmp3lame", "-b:a", "64k"]),
        ("jfk.ogg", vec!["-codec:a", "libvorbis"]),
        ("jfk.m4a", vec!["-codec:a", "aac", "-b:a", "96k"]),
        ("jfk.flac", vec![]),
    ];
    let mut converted = Vec::new();
    for (name, args) in &variants {
        match ffmpeg_convert(&source, scratch.path(), name, args) {
            Some(path) => converted.push(path),
            None => return,
        }
    }
    let reference = app.transcribe(&source, &[("language", "en")]).await;
    let reference_text = reference["text"].as_str().expect("text").to_owned();
    for path in converted {
        let job = app.transcribe(&path, &[("language", "en")]).await;
        let text = job["text"].as_str().expect("text");
        let wer_vs_original = word_error_rate(&reference_text, text);
        println!(
            "{}: {text} ({:.1}% from the 16 kHz wav)",
            path.display(),
            wer_vs_original * 100.0
        );
        assert!(
            word_error_rate(JFK_TEXT, text) <= 0.10,
            "{}: {text}",
            path.display()
        );
        assert!(
            wer_vs_original <= 0.10,
            "{} differs from the original: {text:?} vs {reference_text:?}",
            path.display()
        );
    }
}

async fn exports_list_cancel_and_delete(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    let job = app
        .transcribe(
            &test_file("jfk.wav"),
            &[("timestamps_granularity", "segment")],
        )
        .await;
    let id = job["id"].as_str().expect("id");

    let srt = app
        .get(&format!("/v1/audio/transcriptions/{id}/export/srt"))
        .send()
        .await
        .expect("srt");
    assert_eq!(srt.status(), 200);
    let srt = srt.text().await.expect("body");
    assert!(srt.starts_with("1\n00:00:0"), "{srt}");
    assert!(srt.to_lowercase().contains("country"), "{srt}");
    let vtt = app
        .get(&format!("/v1/audio/transcriptions/{id}/export/vtt"))
        .send()
        .await
        .expect("vtt")
        .text()
        .await
        .expect("body");
    assert!(vtt.starts_with("WEBVTT"));
    let txt = app
        .get(&format!("/v1/audio/transcriptions/{id}/export/txt"))
        .send()
        .await
        .expect("txt")
        .text()
        .await
        .expect("body");
    assert!(word_error_rate(JFK_TEXT, &txt) <= 0.10, "{txt}");
    let json: serde_json::Value = app
        .get(&format!("/v1/audio/transcriptions/{id}/export/json"))
        .send()
        .await
        .expect("json")
        .json()
        .await
        .expect("json");
    assert_eq!(json["text"], job["text"]);
    let bad = app
        .get(&format!("/v1/audio/transcriptions/{id}/export/docx"))
        .send()
        .await
        .expect("docx");
    assert_eq!(bad.status(), 400);

    let tasks: serde_json::Value = app
        .get(&format!("/v1/audio/transcriptions/{id}/tasks"))
        .send()
        .await
        .expect("tasks")
        .json()
        .await
        .expect("json");
    assert_eq!(tasks["tasks"].as_array().expect("tasks").len(), 3);
    assert_eq!(
        tasks["tasks"][1]["dependencies"][0],
        tasks["tasks"][0]["task_id"]
    );

    let audio = app
        .get(&format!("/v1/audio/transcriptions/{id}/audio"))
        .send()
        .await
        .expect("audio");
    assert_eq!(
        audio.bytes().await.expect("bytes").len(),
        std::fs::read(test_file("jfk.wav")).expect("read").len()
    );

    let list: serde_json::Value = app
        .get("/v1/audio/transcriptions?limit=1&status=completed")
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["jobs"][0]["id"], id);
    assert_eq!(list["has_more"], false);
    let bad_cursor = app
        .get("/v1/audio/transcriptions?cursor=nope")
        .send()
        .await
        .expect("list");
    assert_eq!(bad_cursor.status(), 400);

    let cancel = app
        .client
        .post(app.url(&format!("/v1/audio/transcriptions/{id}/cancel")))
        .bearer_auth(crate::helpers::ADMIN_KEY)
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancel.status(), 409, "a completed job cannot be cancelled");

    let delete = app
        .client
        .delete(app.url(&format!("/v1/audio/transcriptions/{id}")))
        .bearer_auth(crate::helpers::ADMIN_KEY)
        .send()
        .await
        .expect("delete");
    assert_eq!(delete.status(), 204);
    let gone = app
        .get(&format!("/v1/audio/transcriptions/{id}"))
        .send()
        .await
        .expect("get");
    assert_eq!(gone.status(), 404);
    let blobs = app.job_blobs().await;
    assert!(blobs.is_empty(), "blobs left after delete: {blobs:?}");
}

async fn a_pending_job_can_be_cancelled(deployment: Deployment) {
    let app = spawn_app(deployment).await;
    // Occupy the transcriber so the second job is still waiting when it is cancelled.
    let first = app.submit(&test_file("jfk.wav"), &[]).await;
    let second = app.submit(&test_file("jfk.wav"), &[]).await;
    let cancel: serde_json::Value = app
        .client
        .post(app.url(&format!("/v1/audio/transcriptions/{second}/cancel")))
        .bearer_auth(crate::helpers::ADMIN_KEY)
        .send()
        .await
        .expect("cancel")
        .json()
        .await
        .expect("json");
    assert!(
        matches!(cancel["status"].as_str(), Some("cancelled" | "cancelling")),
        "{cancel}"
    );
    let second = app.wait_for_job(&second, Duration::from_secs(120)).await;
    assert_eq!(second["status"], "cancelled");
    assert!(second["text"].is_null());
    let first = app.wait_for_job(&first, Duration::from_secs(120)).await;
    assert_eq!(first["status"], "completed");
}

on_both_deployments!(
    jfk_is_transcribed_with_segments_progress_and_stages,
    librivox_clips_are_transcribed_within_ten_percent_wer,
    other_formats_rates_and_channels_give_the_same_words,
    exports_list_cancel_and_delete,
    a_pending_job_can_be_cancelled,
);
