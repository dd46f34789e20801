//! Live sessions on the real models and real speech: jfk.wav fed in 100 ms frames.
#![expect(clippy::expect_used, reason = "tests panic with a message on failure")]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dalston_core::wer::word_error_rate;
use dalston_models::vad::SileroVad;
use dalston_models::{LoadOptions, WhisperModel};
use dalston_realtime::{EndReason, Event, LagLimits, Session, SessionConfig, SessionModels};
use dalston_testkit::fixtures::{JFK_TEXT, model_dir, test_data};

/// 100 ms at 16 kHz.
const FRAME: usize = 1_600;

fn models() -> SessionModels {
    static MODELS: OnceLock<SessionModels> = OnceLock::new();
    MODELS
        .get_or_init(|| SessionModels {
            whisper: Arc::new(
                WhisperModel::load(&model_dir("whisper-tiny.en"), &LoadOptions::default())
                    .expect("load whisper-tiny.en"),
            ),
            vad: Arc::new(SileroVad::load(&model_dir("silero-vad")).expect("load silero vad")),
        })
        .clone()
}

fn jfk() -> Vec<f32> {
    dalston_audio::decode_file(
        &test_data("jfk.wav"),
        &dalston_audio::DecodeOptions::default(),
    )
    .expect("decode jfk.wav")
    .samples
}

/// Tests feed audio faster than real time: only a real stall may end them.
fn config() -> SessionConfig {
    SessionConfig {
        language: Some("en".into()),
        lag: LagLimits {
            warn_secs: 600.0,
            close_secs: 600.0,
            grace: Duration::from_secs(600),
        },
        ..SessionConfig::default()
    }
}

/// How a test feeds its audio.
#[derive(Clone, Copy)]
struct Feed {
    /// Real-time pace (a 100 ms frame every 100 ms), as a live client sends; else at once.
    real_time: bool,
    /// Commit after every this many frames.
    commit_every: Option<usize>,
}

/// Feeds `audio` in frames, then `end`s, and collects every event up to `Ended`.
async fn stream(config: SessionConfig, audio: &[f32], feed: Feed) -> Vec<Event> {
    let (session, mut events) = Session::start(models(), config);
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    for (index, frame) in audio.chunks(FRAME).enumerate() {
        if feed.real_time {
            ticks.tick().await;
        }
        session.audio(frame.to_vec()).await.expect("session open");
        let commit_every = feed.commit_every;
        if commit_every.is_some_and(|every| (index + 1) % every == 0) {
            session.commit().await.expect("session open");
        }
    }
    session.end().await.expect("session open");
    let mut received = Vec::new();
    while let Some(event) = events.recv().await {
        let last = matches!(event, Event::Ended(_));
        received.push(event);
        if last {
            break;
        }
    }
    received
}

fn finals(events: &[Event]) -> Vec<&dalston_realtime::Utterance> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Final(utterance) => Some(utterance),
            _ => None,
        })
        .collect()
}

fn with_silence(before_secs: f64, speech: &[f32], after_secs: f64) -> Vec<f32> {
    let mut audio = vec![0.0; (before_secs * 16_000.0) as usize];
    audio.extend_from_slice(speech);
    audio.extend(std::iter::repeat_n(0.0, (after_secs * 16_000.0) as usize));
    audio
}

#[tokio::test]
async fn speech_gives_vad_events_partials_then_a_timed_final() {
    let speech = jfk();
    let audio = with_silence(1.0, &speech, 1.5);
    let events = stream(
        config(),
        &audio,
        Feed {
            real_time: true,
            commit_every: None,
        },
    )
    .await;

    let started = events
        .iter()
        .position(|event| matches!(event, Event::SpeechStarted { .. }))
        .expect("speech started");
    let partials: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            Event::Partial { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    // How many depends on the machine's speed: partials are skipped while audio is queued.
    assert!(!partials.is_empty(), "no partials");
    // Stable text only grows within an utterance.
    for pair in partials.windows(2) {
        if !pair[1].stable_text.is_empty() {
            assert!(
                pair[1].stable_text.starts_with(&pair[0].stable_text),
                "{:?} then {:?}",
                pair[0].stable_text,
                pair[1].stable_text
            );
        }
    }
    let first_partial = events
        .iter()
        .position(|event| matches!(event, Event::Partial { .. }))
        .expect("a partial");
    assert!(started < first_partial);

    let finals = finals(&events);
    let text: Vec<&str> = finals
        .iter()
        .map(|utterance| utterance.text.as_str())
        .collect();
    let wer = word_error_rate(JFK_TEXT, &text.join(" "));
    assert!(wer <= 0.1, "WER {wer:.3}: {text:?}");
    // Words are on the session's timeline: jfk's speech starts about 0.3 s into the file,
    // so after the 1 s of silence added before it.
    let words: Vec<_> = finals
        .iter()
        .flat_map(|utterance| &utterance.words)
        .collect();
    assert!(words.len() >= 20, "{} words", words.len());
    assert!(
        words[0].start_secs >= 1.0,
        "first word at {}",
        words[0].start_secs
    );
    assert!(
        words
            .windows(2)
            .all(|pair| pair[0].start_secs <= pair[1].start_secs)
    );
    let last_end = words.last().expect("words").end_secs;
    assert!(
        last_end <= 1.0 + speech.len() as f64 / 16_000.0 + 0.2,
        "{last_end}"
    );

    let Some(Event::Ended(summary)) = events.last() else {
        panic!("no Ended event: {events:?}");
    };
    assert_eq!(summary.reason, EndReason::Completed);
    assert!((summary.audio_secs - audio.len() as f64 / 16_000.0).abs() < 0.01);
    assert_eq!(summary.utterances.len(), finals.len());
    // The pauses between jfk's phrases are not speech.
    assert!(
        summary.speech_secs > 5.0 && summary.speech_secs < summary.audio_secs - 2.0,
        "{} s of speech",
        summary.speech_secs
    );
}

#[tokio::test]
async fn silence_produces_no_transcript() {
    let feed = Feed {
        real_time: false,
        commit_every: None,
    };
    let events = stream(config(), &vec![0.0; 16_000 * 5], feed).await;
    assert!(
        events.iter().all(|event| matches!(event, Event::Ended(_))),
        "{events:?}"
    );
}

#[tokio::test]
async fn manual_commits_finalise_the_audio_since_the_last_commit() {
    let speech = jfk();
    let audio = with_silence(0.5, &speech, 0.5);
    let config = SessionConfig {
        endpointing: None,
        interim_results: false,
        ..config()
    };
    // One commit after 6 s, then the end.
    let feed = Feed {
        real_time: false,
        commit_every: Some(60),
    };
    let events = stream(config, &audio, feed).await;
    let finals = finals(&events);
    assert_eq!(finals.len(), 2, "{finals:?}");
    assert!((finals[0].end_secs - 6.0).abs() < 1e-6);
    assert!((finals[1].start_secs - 6.0).abs() < 1e-6);
    let text = format!("{} {}", finals[0].text, finals[1].text);
    // Cut mid-sentence at 6 s, so a word at the cut may be lost or doubled.
    let wer = word_error_rate(JFK_TEXT, &text);
    assert!(wer <= 0.2, "WER {wer:.3}: {text:?}");
}

#[tokio::test]
async fn a_dropped_handle_ends_the_session_as_disconnected() {
    let (session, mut events) = Session::start(models(), config());
    session
        .audio(jfk()[..16_000 * 3].to_vec())
        .await
        .expect("open");
    drop(session);
    let mut last = None;
    while let Some(event) = events.recv().await {
        last = Some(event);
    }
    let Some(Event::Ended(summary)) = last else {
        panic!("no Ended event");
    };
    assert_eq!(summary.reason, EndReason::Disconnected);
}

#[tokio::test]
async fn a_session_behind_its_audio_is_warned_then_closed() {
    let config = SessionConfig {
        lag: LagLimits {
            warn_secs: 0.5,
            close_secs: 1.0,
            grace: Duration::ZERO,
        },
        ..config()
    };
    let (session, mut events) = Session::start(models(), config);
    // 11 s of speech at once: the first partial decode leaves the rest queued.
    for frame in with_silence(0.0, &jfk(), 0.0).chunks(FRAME) {
        if session.audio(frame.to_vec()).await.is_err() {
            break;
        }
    }
    let mut warned = false;
    let mut reason = None;
    while let Some(event) = events.recv().await {
        match event {
            Event::LagWarning { lag_secs } => {
                assert!(lag_secs >= 0.5);
                warned = true;
            }
            Event::Ended(summary) => reason = Some(summary.reason),
            _ => {}
        }
    }
    assert!(warned);
    assert_eq!(reason, Some(EndReason::LagExceeded));
}
