//! Speaker diarization end to end, over HTTP with the real models: conversations composed from
//! recordings of different people (jfk, the LibriVox reader, an espeak-ng voice) cut into
//! 2–5 s utterances and taken in turn, whose reference turns are exact. Each person's words
//! must carry one speaker id of their own, and the number of speakers must come out right.
#![expect(
    clippy::print_stdout,
    reason = "the tests print the speaker counts and consistency they observed"
)]

use std::collections::BTreeMap;

use dalston_core::diarization::SpeakerTurn;
use dalston_core::diarization::compose::{Composed, interleave};
use serde_json::Value;

use crate::deployment::Deployment;
use crate::helpers::{decode_samples, espeak, spawn_app, test_data_dir, test_file};

/// Share of a person's words that must carry that person's most frequent speaker id.
const MIN_CONSISTENCY: f64 = 0.9;

/// What the synthetic third voice reads.
const SYNTHETIC_TEXT: &str = "The harbour was quiet when the fishing boats came back that \
    evening. My brother carried the nets up the hill while I counted the crates of herring. \
    Nobody expected the storm that arrived after midnight and kept the village awake.";

/// The LibriVox reader: every clip of the one chapter, end to end.
fn reader() -> Vec<f32> {
    ["0870", "0880", "0890", "0920", "0930"]
        .iter()
        .flat_map(|clip| {
            decode_samples(&test_data_dir().join(format!(
                "librivox/sense_and_sensibility_01_austen_64kb-{clip}.wav"
            )))
        })
        .collect()
}

/// Pauses between utterances, in seconds.
const PAUSES_SECS: (f64, f64) = (0.3, 1.0);
/// The layout of the three-person conversation (the same in both tests that use it).
const THREE_PEOPLE_SEED: u64 = 23;

/// jfk, the reader and an espeak-ng male voice reading [`SYNTHETIC_TEXT`]; `None` without
/// espeak-ng (outside CI).
fn three_people() -> Option<[Vec<f32>; 3]> {
    let scratch = tempfile::tempdir().expect("tempdir");
    let path = scratch.path().join("voice.wav");
    espeak(&["-v", "en-us"], SYNTHETIC_TEXT, &path).then(|| {
        [
            decode_samples(&test_file("jfk.wav")),
            reader(),
            decode_samples(&path),
        ]
    })
}

/// `(speaker id, midpoint)` of every word of a job.
fn labelled_words(job: &Value) -> Vec<(String, f64)> {
    job["words"]
        .as_array()
        .expect("words")
        .iter()
        .map(|word| {
            let speaker = word["speaker"].as_str().expect("every word has a speaker");
            let middle =
                (word["start"].as_f64().expect("start") + word["end"].as_f64().expect("end")) / 2.0;
            (speaker.to_owned(), middle)
        })
        .collect()
}

/// How each person's words were labelled: per person (reference speaker), the speaker id most
/// of their words carry and the share of their words that carry it. Words are the person's
/// when their midpoint lies inside one of the person's reference turns.
fn consistency(job: &Value, reference: &[SpeakerTurn], people: usize) -> Vec<(String, f64, usize)> {
    let mut counts: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(); people];
    for (speaker, middle) in labelled_words(job) {
        if let Some(turn) = reference
            .iter()
            .find(|turn| turn.span.start_secs <= middle && middle < turn.span.end_secs)
        {
            *counts[turn.speaker].entry(speaker).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|ids| {
            let total: usize = ids.values().sum();
            let (id, most) = ids
                .iter()
                .max_by_key(|(_, count)| **count)
                .map_or((String::new(), 0), |(id, count)| (id.clone(), *count));
            (id, most as f64 / total.max(1) as f64, total)
        })
        .collect()
}

/// The ids in the transcript's `speakers[]`.
fn speaker_ids(job: &Value) -> Vec<String> {
    job["speakers"]
        .as_array()
        .expect("speakers")
        .iter()
        .map(|speaker| speaker["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Diarizes the conversation of `people` and checks the speaker count and that every person's
/// words carry one id of their own.
async fn assert_each_person_is_one_speaker(name: &str, people: &[&[f32]], seed: u64) {
    let Composed { samples, turns } = interleave(people, PAUSES_SECS, seed, 16_000);
    let app = spawn_app(Deployment::Embedded).await;
    let job = app
        .transcribe_samples(
            &samples,
            &format!("{name}.wav"),
            &[("speaker_detection", "diarize"), ("language", "en")],
        )
        .await;
    let found = speaker_ids(&job);
    let observed = consistency(&job, &turns, people.len());
    println!(
        "{name}: {:.1} s, {} utterances, {} speakers found of {}; per person (id, share, words): {observed:?}",
        samples.len() as f64 / 16_000.0,
        turns.len(),
        found.len(),
        people.len()
    );
    assert_eq!(found.len(), people.len(), "speakers {found:?}: {job}");
    for (person, (id, share, words)) in observed.iter().enumerate() {
        assert!(*words >= 10, "person {person} has only {words} words");
        assert!(
            *share >= MIN_CONSISTENCY,
            "person {person}: only {:.0}% of {words} words carry {id}: {observed:?}",
            share * 100.0
        );
    }
    let mut ids: Vec<&String> = observed.iter().map(|(id, _, _)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), people.len(), "people share an id: {observed:?}");
}

#[tokio::test]
async fn two_people_are_two_consistent_speakers() {
    let jfk = decode_samples(&test_file("jfk.wav"));
    let reader = reader();
    assert_each_person_is_one_speaker("two-people", &[&jfk, &reader], 11).await;
}

#[tokio::test]
async fn three_people_are_three_consistent_speakers() {
    let Some(people) = three_people() else {
        return;
    };
    let people: Vec<&[f32]> = people.iter().map(Vec::as_slice).collect();
    assert_each_person_is_one_speaker("three-people", &people, THREE_PEOPLE_SEED).await;
}

#[tokio::test]
async fn a_requested_speaker_count_is_honoured() {
    let Some(people) = three_people() else {
        return;
    };
    let people: Vec<&[f32]> = people.iter().map(Vec::as_slice).collect();
    let Composed { samples, .. } = interleave(&people, PAUSES_SECS, THREE_PEOPLE_SEED, 16_000);
    let app = spawn_app(Deployment::Embedded).await;
    let job = app
        .transcribe_samples(
            &samples,
            "three-people.wav",
            &[
                ("speaker_detection", "diarize"),
                ("num_speakers", "2"),
                ("language", "en"),
            ],
        )
        .await;
    let found = speaker_ids(&job);
    println!("three people, num_speakers=2: speakers {found:?}");
    assert_eq!(found, ["SPEAKER_00", "SPEAKER_01"], "{job}");
    let used: std::collections::BTreeSet<String> =
        labelled_words(&job).into_iter().map(|(id, _)| id).collect();
    assert_eq!(used.len(), 2, "words carry {used:?}");
}

#[tokio::test]
async fn one_person_is_one_speaker() {
    let app = spawn_app(Deployment::Embedded).await;
    let job = app
        .transcribe(&test_file("jfk.wav"), &[("speaker_detection", "diarize")])
        .await;
    let found = speaker_ids(&job);
    println!("jfk: speakers {found:?}");
    assert_eq!(found, ["SPEAKER_00"], "{job}");
    assert!(
        labelled_words(&job)
            .iter()
            .all(|(id, _)| id == "SPEAKER_00"),
        "{job}"
    );
}
