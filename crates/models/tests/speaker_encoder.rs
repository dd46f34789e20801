//! The GE2E speaker encoder against embeddings the original Resemblyzer package computed on the
//! same recordings (`fixtures/resemblyzer_reference.py` says how), and its behaviour on real
//! voices.
#![expect(clippy::unwrap_used, reason = "tests")]

#[expect(dead_code, reason = "the Whisper helpers are not used here")]
mod support;

use std::sync::OnceLock;

use dalston_models::SpeakerEncoder;
use dalston_models::speaker::{N_MELS, cosine_similarity, normalize_volume};
use support::fixtures::{models_dir, samples};

const REFERENCE: &str = include_str!("fixtures/resemblyzer_reference.json");

fn encoder() -> &'static SpeakerEncoder {
    static ENCODER: OnceLock<SpeakerEncoder> = OnceLock::new();
    ENCODER.get_or_init(|| {
        SpeakerEncoder::load(&models_dir().join("resemblyzer")).unwrap_or_else(|err| {
            panic!("the speaker encoder does not load (run scripts/fetch-models): {err}")
        })
    })
}

fn reference() -> serde_json::Value {
    serde_json::from_str(REFERENCE).unwrap()
}

fn floats(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn slice(recording: &str, start_secs: f64, end_secs: Option<f64>) -> Vec<f32> {
    let all = samples(recording);
    let start = (start_secs * 16_000.0) as usize;
    let end = end_secs.map_or(all.len(), |end| (end * 16_000.0) as usize);
    let mut clip = all[start..end].to_vec();
    normalize_volume(&mut clip);
    clip
}

#[test]
fn mel_front_end_matches_librosa() {
    let reference = reference();
    let expected: Vec<Vec<f32>> = reference["mel_jfk_first_half_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    let jfk = samples("jfk.wav");
    let mel = encoder().mel_spectrogram(&jfk[..8000]);
    assert_eq!(mel.len(), expected.len() * N_MELS);
    let mut worst = 0.0f32;
    for (frame, row) in expected.iter().enumerate() {
        for (band, &want) in row.iter().enumerate() {
            let got = mel[frame * N_MELS + band];
            // Relative to the frame's loudest band: float32 FFTs differ in the last bits.
            let scale = row.iter().copied().fold(1e-8f32, f32::max);
            worst = worst.max((got - want).abs() / scale);
        }
    }
    eprintln!("largest relative mel difference {worst}");
    assert!(worst < 1e-4, "largest relative mel difference {worst}");
}

#[test]
fn embeddings_match_the_original_package() {
    let reference = reference();
    let cases = reference["embeddings"].as_object().unwrap();
    assert_eq!(cases.len(), 4);
    for (name, case) in cases {
        let clip = slice(
            case["recording"].as_str().unwrap(),
            case["start_secs"].as_f64().unwrap(),
            case["end_secs"].as_f64(),
        );
        let expected = floats(&case["embedding"]);
        let got = encoder().embed_utterances(&[&clip]).unwrap().remove(0);
        let similarity = cosine_similarity(&got, &expected);
        let max_diff = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        eprintln!("{name}: cosine {similarity}, largest difference {max_diff}");
        assert!(
            similarity > 0.99999 && max_diff < 1e-5,
            "{name}: cosine {similarity}, largest difference {max_diff}"
        );
    }
}

#[test]
fn the_same_voice_is_closer_than_another_voice() {
    let librivox = |clip: &str| {
        slice(
            &format!("librivox/sense_and_sensibility_01_austen_64kb-{clip}.wav"),
            0.0,
            None,
        )
    };
    let (a, b, jfk) = (
        librivox("0870"),
        librivox("0920"),
        slice("jfk.wav", 0.0, None),
    );
    let embeddings = encoder().embed_utterances(&[&a, &b, &jfk]).unwrap();
    let same = cosine_similarity(&embeddings[0], &embeddings[1]);
    let other = cosine_similarity(&embeddings[0], &embeddings[2]);
    assert!(same > 0.8, "same reader, two clips: {same}");
    assert!(
        other < same - 0.15,
        "reader vs jfk {other}, same reader {same}"
    );
}
