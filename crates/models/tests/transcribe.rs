//! End-to-end transcription with the real Whisper models on real speech (see
//! `support/fixtures.rs` for where they come from; missing files fail the tests).
#![expect(clippy::unwrap_used, reason = "tests")]

mod support;

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use dalston_models::{
    ModelError, SampleSource, SourceError, Task, TranscribeOptions, Transcription, WhisperModel,
};
use dalston_testkit::references::reference_text;
use support::fixtures::{load_model, normalise, samples, test_data};

const JFK_TEXT: &str = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";
const MAX_WER: f64 = 0.10;

fn base() -> &'static WhisperModel {
    static MODEL: OnceLock<WhisperModel> = OnceLock::new();
    MODEL.get_or_init(|| load_model("whisper-base"))
}

fn tiny_en() -> &'static WhisperModel {
    static MODEL: OnceLock<WhisperModel> = OnceLock::new();
    MODEL.get_or_init(|| load_model("whisper-tiny.en"))
}

fn transcribe(model: &WhisperModel, samples: &[f32], options: &TranscribeOptions) -> Transcription {
    model.transcribe(samples, options, &mut |_| {}).unwrap()
}

fn text(result: &Transcription) -> String {
    result.segments.iter().map(|s| s.text.as_str()).collect()
}

/// Word edit distance between reference and hypothesis.
fn word_errors(reference: &[String], hypothesis: &[String]) -> usize {
    let mut previous: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut current = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            let substitution = previous[j] + usize::from(r != h);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[hypothesis.len()]
}

fn wer(reference: &str, hypothesis: &str) -> f64 {
    let reference = normalise(reference);
    word_errors(&reference, &normalise(hypothesis)) as f64 / reference.len().max(1) as f64
}

/// (file name, reference text) of the LibriVox clips.
fn librivox() -> Vec<(String, String)> {
    let mut clips: Vec<(String, String)> = std::fs::read_dir(test_data("librivox"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wav"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            let reference = reference_text(&path).unwrap();
            (format!("librivox/{name}"), reference)
        })
        .collect();
    clips.sort();
    clips
}

fn assert_clean_segments(result: &Transcription) {
    let mut previous_end = 0.0;
    for segment in &result.segments {
        assert!(
            segment.start_secs >= previous_end - 1e-6,
            "segments overlap: {:?}",
            result.segments
        );
        assert!(segment.end_secs > segment.start_secs);
        assert!(segment.end_secs <= result.duration_secs + 1e-9);
        assert!(!segment.text.trim().is_empty());
        previous_end = segment.end_secs;
    }
}

#[test]
fn normaliser_and_wer_behave() {
    assert_eq!(
        normalise("Mr. Dashwood's ill-disposed!"),
        vec!["mister", "dashwood's", "ill", "disposed"]
    );
    assert_eq!(wer("a b c d", "a x c"), 0.5);
}

#[test]
fn base_transcribes_jfk_and_detects_english() {
    let result = transcribe(base(), &samples("jfk.wav"), &TranscribeOptions::default());
    let hypothesis = text(&result);
    let error_rate = wer(JFK_TEXT, &hypothesis);
    assert!(error_rate <= MAX_WER, "WER {error_rate:.3}: {hypothesis}");
    assert_eq!(result.language, "en");
    assert!(result.language_probability.unwrap() > 0.5);
    assert!((result.duration_secs - 11.0).abs() < 0.01);
    assert_clean_segments(&result);
}

#[test]
fn tiny_en_transcribes_jfk() {
    let result = transcribe(
        tiny_en(),
        &samples("jfk.wav"),
        &TranscribeOptions::default(),
    );
    let hypothesis = text(&result);
    let error_rate = wer(JFK_TEXT, &hypothesis);
    assert!(error_rate <= MAX_WER, "WER {error_rate:.3}: {hypothesis}");
    assert_eq!(result.language, "en");
    assert_eq!(result.language_probability, None);
    assert_clean_segments(&result);
}

fn librivox_wer(model: &WhisperModel) -> f64 {
    let (mut errors, mut words) = (0, 0);
    for (file, reference) in librivox() {
        let options = TranscribeOptions {
            language: Some("en".to_string()),
            ..TranscribeOptions::default()
        };
        let result = transcribe(model, &samples(&file), &options);
        let reference = normalise(&reference);
        errors += word_errors(&reference, &normalise(&text(&result)));
        words += reference.len();
        assert_clean_segments(&result);
    }
    assert!(words > 50, "too few LibriVox words: {words}");
    errors as f64 / words as f64
}

#[test]
fn base_transcribes_librivox() {
    let error_rate = librivox_wer(base());
    assert!(error_rate <= MAX_WER, "WER {error_rate:.3}");
}

#[test]
fn tiny_en_transcribes_librivox() {
    let error_rate = librivox_wer(tiny_en());
    assert!(error_rate <= MAX_WER, "WER {error_rate:.3}");
}

#[test]
fn silence_gives_no_text() {
    let silence = vec![0.0f32; 5 * 16_000];
    for model in [base(), tiny_en()] {
        let result = transcribe(model, &silence, &TranscribeOptions::default());
        assert!(
            result.segments.is_empty(),
            "{}: {:?}",
            model.info().name,
            result.segments
        );
        assert!((result.duration_secs - 5.0).abs() < 1e-9);
    }
    let empty = transcribe(base(), &[], &TranscribeOptions::default());
    assert!(empty.segments.is_empty());
}

#[test]
fn long_audio_is_windowed_and_reports_progress() {
    // jfk three times with a second of silence between: 36 s, two windows at least.
    let jfk = samples("jfk.wav");
    let mut long = Vec::new();
    for _ in 0..3 {
        long.extend_from_slice(&jfk);
        long.extend(std::iter::repeat_n(0.0, 16_000));
    }
    let mut progress = Vec::new();
    let result = tiny_en()
        .transcribe(&long, &TranscribeOptions::default(), &mut |p| {
            progress.push(p)
        })
        .unwrap();
    assert!(progress.len() >= 2, "{progress:?}");
    assert!(
        progress
            .windows(2)
            .all(|w| w[0].processed_secs <= w[1].processed_secs)
    );
    let last = progress.last().unwrap();
    assert!((last.processed_secs - last.total_secs).abs() < 1e-6);
    let hypothesis = text(&result);
    let reference = [JFK_TEXT; 3].join(" ");
    let error_rate = wer(&reference, &hypothesis);
    assert!(error_rate <= MAX_WER, "WER {error_rate:.3}: {hypothesis}");
    assert!(result.segments.last().unwrap().start_secs > 24.0);
    assert_clean_segments(&result);

    // The same audio with each window prompted by the text before it.
    let conditioned = TranscribeOptions {
        condition_on_previous_text: true,
        ..TranscribeOptions::default()
    };
    let result = transcribe(tiny_en(), &long, &conditioned);
    let error_rate = wer(&reference, &text(&result));
    assert!(
        error_rate <= MAX_WER,
        "WER {error_rate:.3}: {}",
        text(&result)
    );
    assert_clean_segments(&result);
}

/// Samples in memory handed out only by range, remembering the longest range asked for, or
/// failing every read.
struct WindowedSource<'a> {
    samples: &'a [f32],
    longest_read: usize,
    reads: usize,
    broken: bool,
}

impl SampleSource for WindowedSource<'_> {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn read(&mut self, range: Range<usize>) -> Result<Vec<f32>, SourceError> {
        if self.broken {
            return Err("the disk went away".into());
        }
        self.reads += 1;
        self.longest_read = self.longest_read.max(range.len());
        Ok(self.samples[range].to_vec())
    }
}

#[test]
fn a_source_is_read_a_window_at_a_time() {
    // jfk, 40 s of silence, jfk: 62 s, a window of speech, one of nothing, and speech again.
    let jfk = samples("jfk.wav");
    let mut long = jfk.clone();
    long.extend(std::iter::repeat_n(0.0, 40 * 16_000));
    long.extend_from_slice(&jfk);
    let mut source = WindowedSource {
        samples: &long,
        longest_read: 0,
        reads: 0,
        broken: false,
    };
    let result = tiny_en()
        .transcribe_source(&mut source, &TranscribeOptions::default(), &mut |_| {})
        .unwrap();
    // One 30 s window and the 200 samples either side its frames' STFT reads.
    assert!(
        source.longest_read <= 30 * 16_000 + 400,
        "{}",
        source.longest_read
    );
    assert!(source.reads >= 4, "{} reads", source.reads);
    let error_rate = wer(&[JFK_TEXT; 2].join(" "), &text(&result));
    assert!(
        error_rate <= MAX_WER,
        "WER {error_rate:.3}: {}",
        text(&result)
    );
    let second = result.segments.last().unwrap();
    assert!(second.start_secs >= 50.0, "{second:?}");

    source.broken = true;
    assert!(matches!(
        tiny_en().transcribe_source(&mut source, &TranscribeOptions::default(), &mut |_| {}),
        Err(ModelError::Source(_))
    ));
}

#[test]
fn cancel_stops_transcription() {
    let jfk = samples("jfk.wav");
    let long: Vec<f32> = jfk.iter().copied().cycle().take(jfk.len() * 6).collect();
    let cancel = Arc::new(AtomicBool::new(false));
    let options = TranscribeOptions {
        cancel: Some(Arc::clone(&cancel)),
        ..TranscribeOptions::default()
    };
    let mut windows = 0;
    let result = tiny_en().transcribe(&long, &options, &mut |_| {
        windows += 1;
        cancel.store(true, Ordering::Relaxed);
    });
    assert!(matches!(result, Err(ModelError::Cancelled)), "{result:?}");
    assert_eq!(windows, 1);
}

#[test]
fn unsupported_requests_are_errors() {
    let audio = vec![0.0f32; 16_000];
    let translate = TranscribeOptions {
        task: Task::Translate,
        ..TranscribeOptions::default()
    };
    assert!(matches!(
        tiny_en().transcribe(&audio, &translate, &mut |_| {}),
        Err(ModelError::UnsupportedTask { .. })
    ));
    let french = TranscribeOptions {
        language: Some("fr".to_string()),
        ..TranscribeOptions::default()
    };
    assert!(matches!(
        tiny_en().transcribe(&audio, &french, &mut |_| {}),
        Err(ModelError::UnsupportedLanguage { .. })
    ));
    let klingon = TranscribeOptions {
        language: Some("tlh".to_string()),
        ..TranscribeOptions::default()
    };
    assert!(matches!(
        base().transcribe(&audio, &klingon, &mut |_| {}),
        Err(ModelError::UnsupportedLanguage { .. })
    ));
}

#[test]
fn model_info_describes_the_model() {
    let info = base().info();
    assert_eq!(info.name, "whisper-base");
    assert!(info.multilingual);
    assert_eq!(info.n_mels, 80);
    assert_eq!(info.languages.len(), 99);
    assert!(info.languages.iter().any(|l| l == "de"));
    let info = tiny_en().info();
    assert!(!info.multilingual);
    assert_eq!(info.languages, vec!["en".to_string()]);
}

#[test]
fn sampling_is_deterministic_and_prompts_are_accepted() {
    let audio = samples("jfk.wav");
    let options = TranscribeOptions {
        temperatures: vec![0.6],
        initial_prompt: Some("President Kennedy's inaugural address.".to_string()),
        ..TranscribeOptions::default()
    };
    let first = transcribe(tiny_en(), &audio, &options);
    let second = transcribe(tiny_en(), &audio, &options);
    assert_eq!(text(&first), text(&second));
    assert!(first.segments.iter().all(|s| s.temperature == 0.6));
    assert!(wer(JFK_TEXT, &text(&first)) <= 0.3, "{}", text(&first));
}

#[test]
fn a_short_window_transcribes_short_audio_as_well() {
    // Realtime partials encode only the audio so far: the first 4 s of jfk, then the whole.
    let audio = samples("jfk.wav");
    let short = TranscribeOptions {
        language: Some("en".into()),
        beam_size: 1,
        word_timestamps: false,
        short_window: true,
        ..TranscribeOptions::default()
    };
    let full = TranscribeOptions {
        short_window: false,
        ..short.clone()
    };
    for model in [tiny_en(), base()] {
        let whole = text(&transcribe(model, &audio, &short));
        let error_rate = wer(JFK_TEXT, &whole);
        assert!(error_rate <= MAX_WER, "WER {error_rate:.3}: {whole}");
        let start = &audio[..16_000 * 4];
        let short_text = normalise(&text(&transcribe(model, start, &short)));
        let full_text = normalise(&text(&transcribe(model, start, &full)));
        let differing = word_errors(&full_text, &short_text);
        assert!(
            differing <= 1,
            "short window {short_text:?} vs full window {full_text:?}"
        );
    }
}
