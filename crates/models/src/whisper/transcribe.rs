//! The transcription loop: 30 s windows over the log-mel spectrogram, each encoded once and
//! decoded with OpenAI Whisper's fallback policy.
//!
//! Per window: decode at the first temperature; when the text compresses too well (a loop) or
//! its average log-probability is too low, decode again at the next temperature, unless the
//! window looks like silence (high no-speech probability and low log-probability), which is
//! then skipped. Segments are clipped to the audio; the seek moves to the end of the last
//! complete segment so speech cut by the window edge is decoded again in the next window.
//! With word timestamps on, the accepted text of each window is then aligned with its audio
//! (see [`super::timing`]) while the window's encoder output is still at hand.

use std::sync::atomic::Ordering;

use candle_core::Tensor;

use crate::ModelError;
use crate::source::SampleSource;
use crate::whisper::WhisperModel;
use crate::whisper::decode::{DecodeResult, WindowDecoder, initial_tokens};
use crate::whisper::decoder::CrossCache;
use crate::whisper::language::{DetectedLanguage, detect_language};
use crate::whisper::mel::{HOP_LENGTH, MelStream, N_FRAMES, SAMPLE_RATE};
use crate::whisper::options::{
    Segment, Task, TranscribeOptions, TranscribeProgress, Transcription,
};
use crate::whisper::sampling::Rng;
use crate::whisper::segments::split_segments;
use crate::whisper::timing::WindowAlignment;

/// Above this temperature the window's text is not used as the next window's prompt
/// (faster-whisper's `prompt_reset_on_temperature`).
const PROMPT_RESET_ON_TEMPERATURE: f32 = 0.5;
/// Base seed of the sampling generator; each window and temperature derive their own from it.
const SAMPLING_SEED: u64 = 0x5EED_0FD4_1570_u64;
/// Largest beam accepted: the batched decoder step is tuned for a handful of rows.
pub const MAX_BEAM_SIZE: usize = 16;
/// Peak amplitude below which a window counts as inaudible: −70 dBFS, about ten 16-bit steps.
const INAUDIBLE_PEAK: f32 = 3.2e-4;
/// Seconds per mel frame.
const SECS_PER_FRAME: f64 = HOP_LENGTH as f64 / SAMPLE_RATE as f64;

/// Padding after the audio of a short window ([`TranscribeOptions::short_window`]): 0.5 s.
const SHORT_WINDOW_PADDING_FRAMES: usize = 50;

/// Tokens a window may always have under [`TranscribeOptions::max_tokens_per_second`]: the
/// timestamps and a few words.
const MIN_TOKEN_BUDGET: usize = 8;

/// A window decoded at its accepted temperature, with what word timing needs of it.
struct DecodedWindow {
    result: DecodeResult,
    cross: CrossCache,
    sot_sequence: Vec<u32>,
    language: Option<String>,
}

/// The language the SOT sequence names: given, to be detected, or English-only.
enum LanguageChoice {
    Given(String),
    Detect,
    EnglishOnly,
}

impl WhisperModel {
    /// Transcribes 16 kHz mono f32 samples of any length (30 s windows with seeking).
    ///
    /// Calls `on_progress` after each window. Decoding is beam search (or greedy, with
    /// `beam_size` 1) at temperature 0 with temperature fallback; sampling at higher
    /// temperatures is seeded, so results repeat.
    ///
    /// # Errors
    /// As [`WhisperModel::transcribe_source`].
    pub fn transcribe(
        &self,
        samples: &[f32],
        options: &TranscribeOptions,
        on_progress: &mut dyn FnMut(TranscribeProgress),
    ) -> Result<Transcription, ModelError> {
        let mut source = samples;
        self.transcribe_source(&mut source, options, on_progress)
    }

    /// [`WhisperModel::transcribe`] reading the audio from `source` a window at a time, so
    /// memory holds one window whatever the length of the recording (see
    /// [`crate::SampleSource`]). The audio is read twice: once for the spectrogram's
    /// normalisation, then window by window.
    ///
    /// # Errors
    /// [`ModelError::Cancelled`] soon after `options.cancel` is set;
    /// [`ModelError::UnsupportedLanguage`] / [`ModelError::UnsupportedTask`] when the model
    /// cannot do what was asked; [`ModelError::InvalidOptions`] for an empty or negative
    /// temperature list; [`ModelError::Source`] when the audio cannot be read;
    /// [`ModelError::Inference`] when a tensor operation fails.
    pub fn transcribe_source(
        &self,
        source: &mut dyn SampleSource,
        options: &TranscribeOptions,
        on_progress: &mut dyn FnMut(TranscribeProgress),
    ) -> Result<Transcription, ModelError> {
        validate(options)?;
        let choice = self.language_choice(options)?;
        let cancelled = || {
            options
                .cancel
                .as_ref()
                .is_some_and(|flag| flag.load(Ordering::Relaxed))
        };
        let duration_secs = source.len() as f64 / SAMPLE_RATE as f64;
        let mut mel = MelStream::new(&self.mel, source).map_err(ModelError::Source)?;
        let content_frames = mel.n_frames();

        let mut all_tokens: Vec<u32> = match options.initial_prompt.as_deref().map(str::trim) {
            Some(prompt) if !prompt.is_empty() => self.tokenizer.encode(&format!(" {prompt}")),
            _ => Vec::new(),
        };
        let mut prompt_reset_since = 0;
        let mut detected: Option<DetectedLanguage> = None;
        let mut segments = Vec::new();
        let mut last_speech_secs = 0.0;
        let mut seek = 0;
        while seek < content_frames {
            if cancelled() {
                return Err(ModelError::Cancelled);
            }
            let segment_frames = N_FRAMES.min(content_frames - seek);
            let time_offset_secs = seek as f64 * SECS_PER_FRAME;
            let segments_before = segments.len();
            let window = mel.window(seek).map_err(ModelError::Source)?;
            if is_inaudible(window.peak) {
                tracing::debug!(seek, "window skipped: no audible signal");
                seek += segment_frames;
                on_progress(TranscribeProgress {
                    processed_secs: (seek as f64 * SECS_PER_FRAME).min(duration_secs),
                    total_secs: duration_secs,
                    new_segments: Vec::new(),
                });
                continue;
            }
            let short = options.short_window && content_frames - seek < N_FRAMES;
            let prompt = &all_tokens[prompt_reset_since..];
            let decoded = self.pool.install(|| {
                let max_tokens = options.max_tokens_per_second.map_or(usize::MAX, |rate| {
                    MIN_TOKEN_BUDGET
                        + (rate * segment_frames as f32 * SECS_PER_FRAME as f32) as usize
                });
                let mut decode = |window| {
                    self.decode_window(
                        window,
                        prompt,
                        &choice,
                        &mut detected,
                        options,
                        (seek, max_tokens),
                    )
                };
                if !short {
                    return decode(window.mel);
                }
                // The audio's own frames and half a second of padding, an even count (the
                // second convolution halves time).
                let frames = (segment_frames + SHORT_WINDOW_PADDING_FRAMES).min(N_FRAMES);
                let decoded = decode(window.first_frames(frames + frames % 2))?;
                if short_window_failed(&decoded.result, options, max_tokens) {
                    // The model was trained on full windows: a short one sometimes loops or
                    // mumbles at every temperature. The full window is the reliable answer.
                    tracing::debug!(seek, text = %decoded.result.text, "short window decoded again as a full window");
                    return decode(window.mel);
                }
                Ok(decoded)
            })?;
            let result = &decoded.result;

            if is_silence(result, options) {
                tracing::debug!(
                    seek,
                    no_speech_prob = result.no_speech_prob,
                    "window skipped as silence"
                );
                seek += segment_frames;
            } else {
                let split = split_segments(
                    &result.tokens,
                    self.tokenizer.special.timestamp_begin,
                    time_offset_secs,
                    segment_frames,
                    N_FRAMES / self.net.hp.n_audio_ctx,
                );
                let mut words = if options.word_timestamps {
                    let alignment = WindowAlignment {
                        cross: &decoded.cross,
                        sot_sequence: &decoded.sot_sequence,
                        language: decoded.language.as_deref(),
                        mel_frames: segment_frames,
                        time_offset_secs,
                    };
                    let started = std::time::Instant::now();
                    let words = self.pool.install(|| {
                        self.time_words(
                            &alignment,
                            &split.segments,
                            duration_secs,
                            &mut last_speech_secs,
                        )
                    })?;
                    tracing::debug!(
                        seek,
                        align_ms = started.elapsed().as_secs_f64() * 1000.0,
                        "window words timed"
                    );
                    words
                } else {
                    Vec::new()
                }
                .into_iter();
                for raw in split.segments {
                    let segment_words = words.next().unwrap_or_default();
                    all_tokens.extend_from_slice(&raw.tokens);
                    let start_secs = raw.start_secs.min(duration_secs);
                    let end_secs = raw.end_secs.min(duration_secs);
                    let text = self.tokenizer.decode(&raw.tokens);
                    if end_secs <= start_secs || text.trim().is_empty() {
                        continue;
                    }
                    segments.push(Segment {
                        start_secs,
                        end_secs,
                        text,
                        tokens: raw.tokens,
                        avg_logprob: result.avg_logprob,
                        compression_ratio: result.compression_ratio,
                        no_speech_prob: result.no_speech_prob,
                        temperature: result.temperature,
                        words: segment_words,
                    });
                }
                if !options.condition_on_previous_text
                    || result.temperature > PROMPT_RESET_ON_TEMPERATURE
                {
                    prompt_reset_since = all_tokens.len();
                }
                seek += split.advance_frames;
            }
            on_progress(TranscribeProgress {
                processed_secs: (seek as f64 * SECS_PER_FRAME).min(duration_secs),
                total_secs: duration_secs,
                new_segments: segments[segments_before..].to_vec(),
            });
        }

        let (language, language_probability) = match (choice, detected) {
            (LanguageChoice::Given(code), _) => (code, None),
            (LanguageChoice::EnglishOnly, _) => ("en".to_string(), None),
            (LanguageChoice::Detect, Some(found)) => (found.code, Some(found.probability)),
            (LanguageChoice::Detect, None) => ("en".to_string(), None),
        };
        Ok(Transcription {
            language,
            language_probability,
            duration_secs,
            segments,
        })
    }

    /// Encodes one window and decodes it, falling back to higher temperatures as needed.
    fn decode_window(
        &self,
        window: Vec<f32>,
        prompt: &[u32],
        choice: &LanguageChoice,
        detected: &mut Option<DetectedLanguage>,
        options: &TranscribeOptions,
        (seek, max_tokens): (usize, usize),
    ) -> Result<DecodedWindow, ModelError> {
        let frames = window.len() / self.net.hp.n_mels;
        let mel = Tensor::from_vec(
            window,
            (1, self.net.hp.n_mels, frames),
            &candle_core::Device::Cpu,
        )?;
        let started = std::time::Instant::now();
        let audio = self.net.encoder.forward(&mel)?;
        let cross = self.net.decoder.cross_cache(&audio)?;
        let encode_ms = started.elapsed().as_secs_f64() * 1000.0;
        let special = &self.tokenizer.special;

        let mut sot_sequence = vec![special.sot];
        let language = match choice {
            LanguageChoice::Given(code) => Some(code.as_str()),
            LanguageChoice::EnglishOnly => Some("en"),
            LanguageChoice::Detect => {
                if detected.is_none() {
                    let found = detect_language(&self.net, special, &cross)?;
                    tracing::debug!(language = %found.code, probability = found.probability, "language detected");
                    *detected = Some(found);
                }
                detected.as_ref().map(|found| found.code.as_str())
            }
        };
        if let Some(token) = language
            .filter(|_| self.info.multilingual)
            .and_then(|code| special.language_token(code))
        {
            sot_sequence.push(token);
            sot_sequence.push(match options.task {
                Task::Transcribe => special.transcribe,
                Task::Translate => special.translate,
            });
        }
        let (initial, sot_index) = initial_tokens(
            special.sot_prev,
            prompt,
            &sot_sequence,
            self.net.hp.n_text_ctx,
        );

        let decoder = WindowDecoder {
            net: &self.net,
            tokenizer: &self.tokenizer,
            filters: &self.filters,
            cancel: options.cancel.as_deref(),
            max_tokens,
        };
        let mut last = None;
        for (attempt, &temperature) in options.temperatures.iter().enumerate() {
            let mut rng = Rng::new(SAMPLING_SEED ^ ((seek as u64) << 8) ^ attempt as u64);
            let started = std::time::Instant::now();
            let result = decoder.decode(
                &cross,
                &initial,
                sot_index,
                temperature,
                options.beam_size,
                &mut rng,
            )?;
            tracing::debug!(
                seek,
                temperature,
                encode_ms,
                decode_ms = started.elapsed().as_secs_f64() * 1000.0,
                tokens = result.tokens.len(),
                "window decoded"
            );
            let retry = needs_fallback(&result, options);
            if retry {
                tracing::debug!(
                    seek,
                    temperature,
                    compression_ratio = result.compression_ratio,
                    avg_logprob = result.avg_logprob,
                    text = %result.text,
                    "window decoded again at a higher temperature"
                );
            }
            last = Some(result);
            if !retry {
                break;
            }
        }
        let result = last.ok_or_else(|| ModelError::InvalidOptions {
            reason: "no temperatures to decode with".to_string(),
        })?;
        Ok(DecodedWindow {
            result,
            cross,
            language: language.map(str::to_string),
            sot_sequence,
        })
    }

    fn language_choice(&self, options: &TranscribeOptions) -> Result<LanguageChoice, ModelError> {
        let unsupported = |language: &str| ModelError::UnsupportedLanguage {
            language: language.to_string(),
            model: self.info.name.clone(),
        };
        if !self.info.multilingual {
            if options.task == Task::Translate {
                return Err(ModelError::UnsupportedTask {
                    task: options.task.to_string(),
                    model: self.info.name.clone(),
                });
            }
            return match options.language.as_deref() {
                Some(language) if !language.eq_ignore_ascii_case("en") => {
                    Err(unsupported(language))
                }
                _ => Ok(LanguageChoice::EnglishOnly),
            };
        }
        match options.language.as_deref() {
            None => Ok(LanguageChoice::Detect),
            Some(language) => {
                let code = language.trim().to_ascii_lowercase();
                if self.tokenizer.special.language_token(&code).is_some() {
                    Ok(LanguageChoice::Given(code))
                } else {
                    Err(unsupported(language))
                }
            }
        }
    }
}

fn validate(options: &TranscribeOptions) -> Result<(), ModelError> {
    if !(1..=MAX_BEAM_SIZE).contains(&options.beam_size) {
        return Err(ModelError::InvalidOptions {
            reason: format!(
                "beam size {} is outside 1–{MAX_BEAM_SIZE}",
                options.beam_size
            ),
        });
    }
    if options.temperatures.is_empty() {
        return Err(ModelError::InvalidOptions {
            reason: "temperatures is empty".to_string(),
        });
    }
    if let Some(bad) = options
        .temperatures
        .iter()
        .find(|t| !t.is_finite() || **t < 0.0)
    {
        return Err(ModelError::InvalidOptions {
            reason: format!("temperature {bad} is not a non-negative number"),
        });
    }
    Ok(())
}

/// OpenAI's `decode_with_fallback` test: retry on a loop or low confidence, unless the window
/// is silence (then the skip test decides).
fn needs_fallback(result: &DecodeResult, options: &TranscribeOptions) -> bool {
    let too_repetitive = options
        .compression_ratio_threshold
        .is_some_and(|threshold| result.compression_ratio > threshold);
    let too_unsure = options
        .log_prob_threshold
        .is_some_and(|threshold| result.avg_logprob < threshold);
    let silent = matches!(
        (options.no_speech_threshold, options.log_prob_threshold),
        (Some(no_speech), Some(log_prob)) if result.no_speech_prob > no_speech && result.avg_logprob < log_prob
    );
    (too_repetitive || too_unsure) && !silent
}

/// Whether the decode of a short window is not to be trusted: still failing the fallback
/// checks at the last temperature, or cut off by the token budget (a repetition loop).
fn short_window_failed(
    result: &DecodeResult,
    options: &TranscribeOptions,
    max_tokens: usize,
) -> bool {
    needs_fallback(result, options) || result.tokens.len() >= max_tokens
}

/// Whether a window whose loudest sample is `peak` holds no audible signal at all (digital
/// silence, or dither a few 16-bit steps high). Such a window is skipped without decoding: beam
/// search finds a confident hallucination in pure silence often enough that the no-speech test
/// alone lets it through.
fn is_inaudible(peak: f32) -> bool {
    peak < INAUDIBLE_PEAK
}

/// OpenAI's skip test: likely no speech, and not confidently decoded text either.
fn is_silence(result: &DecodeResult, options: &TranscribeOptions) -> bool {
    let Some(no_speech) = options.no_speech_threshold else {
        return false;
    };
    let confident = options
        .log_prob_threshold
        .is_some_and(|threshold| result.avg_logprob > threshold);
    result.no_speech_prob > no_speech && !confident
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(no_speech_prob: f32, avg_logprob: f32, compression_ratio: f32) -> DecodeResult {
        DecodeResult {
            tokens: Vec::new(),
            text: String::new(),
            avg_logprob,
            no_speech_prob,
            compression_ratio,
            temperature: 0.0,
        }
    }

    #[test]
    fn fallback_on_loops_and_low_confidence_but_not_silence() {
        let options = TranscribeOptions::default();
        assert!(!needs_fallback(&result(0.1, -0.3, 1.5), &options));
        assert!(needs_fallback(&result(0.1, -0.3, 3.0), &options));
        assert!(needs_fallback(&result(0.1, -1.5, 1.5), &options));
        assert!(!needs_fallback(&result(0.9, -1.5, 1.5), &options));
    }

    #[test]
    fn only_a_signal_below_minus_70_dbfs_is_inaudible() {
        assert!(is_inaudible(0.0));
        assert!(is_inaudible(1e-4));
        assert!(!is_inaudible(0.01));
        assert!(!is_inaudible(4e-4));
    }

    #[test]
    fn silence_needs_high_no_speech_and_low_confidence() {
        let options = TranscribeOptions::default();
        assert!(is_silence(&result(0.9, -1.5, 1.0), &options));
        assert!(!is_silence(&result(0.9, -0.2, 1.0), &options));
        assert!(!is_silence(&result(0.3, -1.5, 1.0), &options));
    }

    #[test]
    fn empty_or_negative_temperatures_are_rejected() {
        let mut options = TranscribeOptions::default();
        options.temperatures.clear();
        assert!(validate(&options).is_err());
        options.temperatures = vec![0.0];
        assert!(validate(&options).is_ok());
        options.beam_size = 0;
        assert!(validate(&options).is_err());
        options.beam_size = MAX_BEAM_SIZE + 1;
        assert!(validate(&options).is_err());
        options.beam_size = 1;
        options.temperatures = vec![0.0, -0.2];
        assert!(validate(&options).is_err());
    }
}
