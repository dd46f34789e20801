//! What a client asked for when it created a job, validated and typed.

use serde::{Deserialize, Serialize};

/// Smallest and largest speaker counts a request may name.
pub const SPEAKER_COUNT_RANGE: std::ops::RangeInclusive<u32> = 1..=32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampsGranularity {
    None,
    Segment,
    #[default]
    Word,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeakerDetection {
    #[default]
    None,
    Diarize,
    PerChannel,
}

/// Whisper's two tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptionTask {
    #[default]
    Transcribe,
    Translate,
}

/// The validated parameters of a job; stored with it and handed to every engine.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JobParameters {
    /// Model id (`whisper-base`, `whisper-tiny.en`) or `None` for the server default.
    pub model: Option<String>,
    /// ISO-639-1 language code; `None` detects it.
    pub language: Option<String>,
    pub task: TranscriptionTask,
    pub timestamps_granularity: TimestampsGranularity,
    pub speaker_detection: SpeakerDetection,
    pub num_speakers: Option<u32>,
    pub min_speakers: Option<u32>,
    pub max_speakers: Option<u32>,
    /// Terms to bias recognition towards (fed to Whisper as the initial prompt).
    pub vocabulary: Vec<String>,
    /// Free text prompt (OpenAI `prompt`).
    pub prompt: Option<String>,
    /// The first decoding temperature (OpenAI `temperature`, 0–1); `None` starts at 0.
    pub temperature: Option<f32>,
    /// Days to keep the audio and transcript: 0 = delete when done, -1 = keep, `None` = server default.
    pub retention_days: Option<i32>,
    /// Name shown in lists, from the upload's file name when not given.
    pub display_name: Option<String>,
    /// Where to POST the job's outcome (in addition to registered webhooks).
    pub webhook_url: Option<String>,
    /// Echoed back in the webhook payload.
    pub webhook_metadata: Option<serde_json::Value>,
    pub webhook_style: crate::webhook::WebhookStyle,
    /// Deliver only to this registered webhook (ElevenLabs' `webhook_id`).
    pub webhook_id: Option<String>,
    /// Voice activity detection settings; unset ones take the server's defaults.
    pub vad: VadParameters,
}

/// How prepare finds speech (Silero VAD); `None` leaves a setting at the engine's default.
/// Only speech reaches the transcriber, so these decide what counts as something to transcribe.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VadParameters {
    /// `Some(false)` transcribes the whole audio, silence included, instead of only the speech
    /// regions (for audio VAD misjudges, such as speech under loud music); `None` is on.
    pub filter: Option<bool>,
    /// Speech probability (0–1, exclusive) at or above which a 32 ms chunk is speech.
    pub threshold: Option<f32>,
    /// Shorter bursts of speech are ignored.
    pub min_speech_duration_ms: Option<u32>,
    /// Silence that ends a speech region; shorter pauses stay inside it.
    pub min_silence_duration_ms: Option<u32>,
    /// Audio kept on each side of a region.
    pub speech_pad_ms: Option<u32>,
}

/// Longest duration any VAD setting may name.
pub const MAX_VAD_DURATION_MS: u32 = 10_000;

/// A parameter combination that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParameterError {
    #[error("{field} must be between 1 and 32")]
    SpeakerCountOutOfRange { field: &'static str },
    #[error("min_speakers must not be greater than max_speakers")]
    SpeakerBoundsInverted,
    #[error("retention must be -1 (keep), 0 (transient) or 1 to 3650 days")]
    RetentionOutOfRange,
    #[error("vocabulary accepts at most 100 terms of at most 100 characters each")]
    VocabularyTooLarge,
    #[error("webhook_url must be an http:// or https:// URL")]
    InvalidWebhookUrl,
    #[error("language {0:?} is not a language code Whisper knows, such as \"en\"")]
    InvalidLanguage(String),
    #[error("vad_threshold must be between 0 and 1 (exclusive)")]
    VadThresholdOutOfRange,
    #[error("{field} must be at most 10000 milliseconds")]
    VadDurationOutOfRange { field: &'static str },
}

impl JobParameters {
    /// Checks ranges and cross-field rules once, at the edge.
    ///
    /// # Errors
    /// The first [`ParameterError`] found.
    pub fn validate(&self) -> Result<(), ParameterError> {
        for (field, value) in [
            ("num_speakers", self.num_speakers),
            ("min_speakers", self.min_speakers),
            ("max_speakers", self.max_speakers),
        ] {
            if value.is_some_and(|n| !SPEAKER_COUNT_RANGE.contains(&n)) {
                return Err(ParameterError::SpeakerCountOutOfRange { field });
            }
        }
        if let (Some(min), Some(max)) = (self.min_speakers, self.max_speakers)
            && min > max
        {
            return Err(ParameterError::SpeakerBoundsInverted);
        }
        if let Some(days) = self.retention_days
            && !(days == -1 || (0..=3650).contains(&days))
        {
            return Err(ParameterError::RetentionOutOfRange);
        }
        if self.vocabulary.len() > 100
            || self
                .vocabulary
                .iter()
                .any(|term| term.chars().count() > 100)
        {
            return Err(ParameterError::VocabularyTooLarge);
        }
        if let Some(url) = &self.webhook_url
            && !crate::webhook::is_http_url(url)
        {
            return Err(ParameterError::InvalidWebhookUrl);
        }
        if let Some(language) = &self.language
            && crate::language::english_name(language).is_none()
        {
            return Err(ParameterError::InvalidLanguage(language.clone()));
        }
        self.vad.validate()
    }

    /// When a job that finished at `finished_at_ms` is to be deleted: never for `-1` or when no
    /// retention was given (the server keeps jobs by default), at once for `0` (transient).
    pub fn purge_after_ms(&self, finished_at_ms: i64) -> Option<i64> {
        const DAY_MS: i64 = 24 * 3600 * 1000;
        match self.retention_days {
            Some(days) if days >= 0 => {
                Some(finished_at_ms.saturating_add(i64::from(days) * DAY_MS))
            }
            _ => None,
        }
    }

    /// The temperatures Whisper decodes a window at, in order, until one passes the quality
    /// checks: Whisper's schedule (0, 0.2, … 1.0) from the requested temperature on, as OpenAI's
    /// `temperature` starts it. `None` for the engine's default schedule.
    pub fn temperature_schedule(&self) -> Option<Vec<f32>> {
        let first = self.temperature.filter(|t| *t > 0.0)?.min(1.0);
        // Whisper's steps are fifths: the next step strictly above `first`, up to 5/5.
        let next_step = (first * 5.0 + 1e-4).floor() as u8 + 1;
        let schedule = std::iter::once(first)
            .chain((next_step..=5).map(|step| f32::from(step) / 5.0))
            .collect();
        Some(schedule)
    }

    /// The text Whisper is conditioned on: the prompt, then the vocabulary terms.
    pub fn initial_prompt(&self) -> Option<String> {
        let mut parts: Vec<&str> = Vec::new();
        if let Some(prompt) = self.prompt.as_deref().filter(|p| !p.trim().is_empty()) {
            parts.push(prompt.trim());
        }
        let vocabulary = self.vocabulary.join(", ");
        if !vocabulary.is_empty() {
            parts.push(&vocabulary);
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

impl VadParameters {
    /// # Errors
    /// A threshold outside (0, 1) or a duration above [`MAX_VAD_DURATION_MS`].
    pub fn validate(&self) -> Result<(), ParameterError> {
        if self
            .threshold
            .is_some_and(|threshold| !(threshold > 0.0 && threshold < 1.0))
        {
            return Err(ParameterError::VadThresholdOutOfRange);
        }
        for (field, value) in [
            ("min_speech_duration_ms", self.min_speech_duration_ms),
            ("min_silence_duration_ms", self.min_silence_duration_ms),
            ("speech_pad_ms", self.speech_pad_ms),
        ] {
            if value.is_some_and(|ms| ms > MAX_VAD_DURATION_MS) {
                return Err(ParameterError::VadDurationOutOfRange { field });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(JobParameters::default().validate(), Ok(()));
        assert_eq!(
            JobParameters::default().timestamps_granularity,
            TimestampsGranularity::Word
        );
    }

    #[test]
    fn speaker_counts_are_checked() {
        let params = JobParameters {
            num_speakers: Some(33),
            ..Default::default()
        };
        assert_eq!(
            params.validate(),
            Err(ParameterError::SpeakerCountOutOfRange {
                field: "num_speakers"
            })
        );
        let params = JobParameters {
            min_speakers: Some(4),
            max_speakers: Some(2),
            ..Default::default()
        };
        assert_eq!(
            params.validate(),
            Err(ParameterError::SpeakerBoundsInverted)
        );
    }

    #[test]
    fn retention_and_language_are_checked() {
        let params = JobParameters {
            retention_days: Some(-2),
            ..Default::default()
        };
        assert_eq!(params.validate(), Err(ParameterError::RetentionOutOfRange));
        let params = JobParameters {
            language: Some("english".into()),
            ..Default::default()
        };
        assert!(params.validate().is_err());
        let params = JobParameters {
            language: Some("en".into()),
            retention_days: Some(-1),
            ..Default::default()
        };
        assert_eq!(params.validate(), Ok(()));
    }

    #[test]
    fn vad_settings_are_checked() {
        let with = |vad| JobParameters {
            vad,
            ..Default::default()
        };
        for threshold in [0.0, 1.0, f32::NAN, -0.5] {
            let vad = VadParameters {
                threshold: Some(threshold),
                ..Default::default()
            };
            assert_eq!(
                with(vad).validate(),
                Err(ParameterError::VadThresholdOutOfRange)
            );
        }
        let vad = VadParameters {
            min_silence_duration_ms: Some(10_001),
            ..Default::default()
        };
        assert_eq!(
            with(vad).validate(),
            Err(ParameterError::VadDurationOutOfRange {
                field: "min_silence_duration_ms"
            })
        );
        let vad = VadParameters {
            filter: Some(false),
            threshold: Some(0.3),
            min_speech_duration_ms: Some(0),
            min_silence_duration_ms: Some(2_000),
            speech_pad_ms: Some(400),
        };
        assert_eq!(with(vad).validate(), Ok(()));
    }

    #[test]
    fn retention_sets_the_purge_time() {
        let at = 1_000;
        let with = |days| JobParameters {
            retention_days: days,
            ..Default::default()
        };
        assert_eq!(with(None).purge_after_ms(at), None);
        assert_eq!(with(Some(-1)).purge_after_ms(at), None);
        assert_eq!(with(Some(0)).purge_after_ms(at), Some(at));
        assert_eq!(with(Some(2)).purge_after_ms(at), Some(at + 2 * 86_400_000));
    }

    #[test]
    fn a_temperature_starts_whispers_schedule() {
        let at = |temperature| {
            JobParameters {
                temperature,
                ..Default::default()
            }
            .temperature_schedule()
        };
        assert_eq!(at(None), None);
        assert_eq!(at(Some(0.0)), None);
        let schedule = at(Some(0.5)).expect("schedule");
        assert_eq!(schedule.len(), 4);
        for (got, want) in schedule.iter().zip([0.5, 0.6, 0.8, 1.0]) {
            assert!((got - want).abs() < 1e-5, "{schedule:?}");
        }
        assert_eq!(at(Some(1.0)), Some(vec![1.0]));
    }

    #[test]
    fn initial_prompt_joins_prompt_and_vocabulary() {
        let params = JobParameters {
            prompt: Some(" Meeting notes. ".into()),
            vocabulary: vec!["Dalston".into(), "Kubernetes".into()],
            ..Default::default()
        };
        assert_eq!(
            params.initial_prompt().as_deref(),
            Some("Meeting notes. Dalston, Kubernetes")
        );
        assert_eq!(JobParameters::default().initial_prompt(), None);
    }
}
