//! One live session: audio in, VAD endpointing, partial and final decodes, events out.
//!
//! [`Session::start`] spawns the session's task and returns the handle the protocol adapter
//! feeds. The task processes inputs in order; Whisper runs on a blocking thread while audio
//! keeps queueing, and partials are skipped while there is a backlog, so a session under load
//! spends the engine on finals. Dropping the handle ends the session as
//! [`EndReason::Disconnected`] without decoding what was left.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dalston_models::vad::SileroVad;
use dalston_models::{TranscribeOptions, WhisperModel};
use tokio::sync::mpsc;

use crate::config::{SessionConfig, SessionUpdate};
use crate::endpointer::{Endpoint, Endpointer};
use crate::events::{EndReason, Event, SessionSummary, TimedWord, Utterance};
use crate::stabilizer::Stabilizer;

const SAMPLE_RATE: f64 = 16_000.0;
/// Token budget per second of audio for realtime decodes (see `max_tokens_per_second`).
const MAX_TOKENS_PER_SECOND: f32 = 10.0;
/// Inputs queued before the adapter waits (about 100 s of 100 ms frames).
const INPUT_QUEUE: usize = 1_024;

/// The models a session decodes with, shared with batch work.
#[derive(Debug, Clone)]
pub struct SessionModels {
    pub whisper: Arc<WhisperModel>,
    pub vad: Arc<SileroVad>,
}

/// What the client sends, decoded.
#[derive(Debug)]
enum Input {
    /// 16 kHz mono samples.
    Audio(Vec<f32>),
    /// Finalise the current utterance now.
    Commit,
    /// Change settings from the next audio on.
    Configure(SessionUpdate),
    /// Drop the utterance in progress without decoding it.
    Clear,
    /// Finalise and end the session.
    End,
}

/// Samples received and processed, for the lag figure.
#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    processed: AtomicU64,
}

/// The session closed: its task ended (lag, failure) or was asked to end.
#[derive(Debug, thiserror::Error)]
#[error("the session has ended")]
pub struct SessionClosed;

/// The adapter's handle on a running session.
#[derive(Debug)]
pub struct Session {
    inputs: mpsc::Sender<Input>,
    counters: Arc<Counters>,
}

impl Session {
    /// Starts a session on the current tokio runtime; its events arrive on the receiver,
    /// ending with [`Event::Ended`].
    pub fn start(
        models: SessionModels,
        config: SessionConfig,
    ) -> (Session, mpsc::UnboundedReceiver<Event>) {
        let (inputs, input_rx) = mpsc::channel(INPUT_QUEUE);
        let (events, event_rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let task = SessionTask {
            models,
            config,
            events,
            counters: Arc::clone(&counters),
        };
        tokio::spawn(task.run(input_rx));
        (Session { inputs, counters }, event_rx)
    }

    /// Queues 16 kHz mono samples.
    ///
    /// # Errors
    /// [`SessionClosed`] once the session has ended.
    pub async fn audio(&self, samples: Vec<f32>) -> Result<(), SessionClosed> {
        if samples.is_empty() {
            return Ok(());
        }
        self.counters
            .received
            .fetch_add(samples.len() as u64, Ordering::Relaxed);
        self.send(Input::Audio(samples)).await
    }

    /// Finalises the utterance in progress.
    ///
    /// # Errors
    /// [`SessionClosed`] once the session has ended.
    pub async fn commit(&self) -> Result<(), SessionClosed> {
        self.send(Input::Commit).await
    }

    /// Changes the session's language or VAD settings for the audio that follows.
    ///
    /// # Errors
    /// [`SessionClosed`] once the session has ended.
    pub async fn configure(&self, update: SessionUpdate) -> Result<(), SessionClosed> {
        self.send(Input::Configure(update)).await
    }

    /// Drops the utterance in progress (its audio is never decoded).
    ///
    /// # Errors
    /// [`SessionClosed`] once the session has ended.
    pub async fn clear(&self) -> Result<(), SessionClosed> {
        self.send(Input::Clear).await
    }

    /// Finalises what is left and ends the session.
    ///
    /// # Errors
    /// [`SessionClosed`] once the session has ended.
    pub async fn end(&self) -> Result<(), SessionClosed> {
        self.send(Input::End).await
    }

    /// Seconds of audio received but not yet processed.
    pub fn lag_secs(&self) -> f64 {
        self.counters.lag_secs()
    }

    async fn send(&self, input: Input) -> Result<(), SessionClosed> {
        self.inputs.send(input).await.map_err(|_| SessionClosed)
    }
}

impl Counters {
    fn lag_secs(&self) -> f64 {
        let received = self.received.load(Ordering::Relaxed);
        let processed = self.processed.load(Ordering::Relaxed);
        received.saturating_sub(processed) as f64 / SAMPLE_RATE
    }
}

struct SessionTask {
    models: SessionModels,
    config: SessionConfig,
    events: mpsc::UnboundedSender<Event>,
    counters: Arc<Counters>,
}

/// The audio a session still needs and where the current utterance is in it.
struct Timeline {
    /// Samples from `buffer_start` on.
    buffer: Vec<f32>,
    /// Session sample index of `buffer[0]`.
    buffer_start: u64,
    /// Session samples received so far.
    total: u64,
    /// Start of the utterance being built (`None` between utterances).
    utterance_start: Option<u64>,
    /// Utterance length at the last partial, in samples.
    partial_at: u64,
    /// Speech heard since the last commit (manual mode decodes nothing without it).
    heard_speech: bool,
}

impl Timeline {
    fn slice(&self, start: u64, end: u64) -> Vec<f32> {
        let from = usize::try_from(start.saturating_sub(self.buffer_start)).unwrap_or(0);
        let to = usize::try_from(end.saturating_sub(self.buffer_start))
            .unwrap_or(usize::MAX)
            .min(self.buffer.len());
        self.buffer
            .get(from..to)
            .map(<[f32]>::to_vec)
            .unwrap_or_default()
    }

    /// Forgets the utterance in progress and the audio received so far; in manual mode (no
    /// endpointer) the next utterance starts after it.
    fn clear(&mut self, endpointer: Option<&mut Endpointer>) {
        self.heard_speech = false;
        self.partial_at = 0;
        self.utterance_start = match endpointer {
            Some(endpointer) => {
                endpointer.clear();
                None
            }
            None => Some(self.total),
        };
        self.trim(self.total);
    }

    /// Forgets audio before `keep_from`.
    fn trim(&mut self, keep_from: u64) {
        let drop = usize::try_from(keep_from.saturating_sub(self.buffer_start))
            .unwrap_or(usize::MAX)
            .min(self.buffer.len());
        self.buffer.drain(..drop);
        self.buffer_start += drop as u64;
    }
}

/// What the loop should do after a step.
enum Step {
    Continue,
    Stop(EndReason),
}

impl SessionTask {
    async fn run(mut self, mut inputs: mpsc::Receiver<Input>) {
        let vad = Arc::clone(&self.models.vad);
        let mut vad_stream = vad.stream();
        let mut endpointer = self.config.endpointing.as_ref().map(Endpointer::new);
        let mut timeline = Timeline {
            buffer: Vec::new(),
            buffer_start: 0,
            total: 0,
            utterance_start: if endpointer.is_none() { Some(0) } else { None },
            partial_at: 0,
            heard_speech: false,
        };
        let mut stabilizer = Stabilizer::default();
        let mut summary = SessionSummary {
            audio_secs: 0.0,
            speech_secs: 0.0,
            utterances: Vec::new(),
            reason: EndReason::Completed,
        };
        let mut lag = LagWatch::default();
        let mut probabilities = Vec::new();
        let reason = loop {
            let Some(input) = inputs.recv().await else {
                break EndReason::Disconnected;
            };
            let step = match input {
                Input::Audio(samples) => {
                    let count = samples.len() as u64;
                    probabilities.clear();
                    let pushed = vad_stream
                        .push(&samples, &mut probabilities)
                        .and_then(|()| vad_stream.flush(&mut probabilities));
                    timeline.buffer.extend_from_slice(&samples);
                    timeline.total += count;
                    let step = match pushed {
                        Err(error) => Step::Stop(EndReason::Failed(error.to_string())),
                        Ok(()) => {
                            self.on_audio(
                                &probabilities,
                                endpointer.as_mut(),
                                &mut timeline,
                                &mut stabilizer,
                                &mut summary,
                                inputs.is_empty(),
                            )
                            .await
                        }
                    };
                    self.counters.processed.fetch_add(count, Ordering::Relaxed);
                    step
                }
                Input::Commit => {
                    self.commit(endpointer.as_mut(), &mut timeline, &mut summary, true)
                        .await
                }
                Input::Configure(update) => {
                    self.config.update(update);
                    if let (Some(endpointer), Some(options)) =
                        (endpointer.as_mut(), self.config.endpointing.as_ref())
                    {
                        endpointer.reconfigure(options);
                    }
                    Step::Continue
                }
                Input::Clear => {
                    timeline.clear(endpointer.as_mut());
                    stabilizer = Stabilizer::default();
                    Step::Continue
                }
                Input::End => match self
                    .commit(endpointer.as_mut(), &mut timeline, &mut summary, false)
                    .await
                {
                    Step::Continue => Step::Stop(EndReason::Completed),
                    stop => stop,
                },
            };
            if let Step::Stop(reason) = step {
                break reason;
            }
            if let Some(reason) = lag.check(&self.config, self.counters.lag_secs(), &self.events) {
                break reason;
            }
        };
        summary.audio_secs = timeline.total as f64 / SAMPLE_RATE;
        summary.reason = reason;
        let _ = self.events.send(Event::Ended(summary));
    }

    /// Runs the endpointer over new probabilities, finalising utterances that ended, cutting
    /// ones that grew too long, and decoding a partial when one is due and nothing is queued.
    async fn on_audio(
        &self,
        probabilities: &[f32],
        mut endpointer: Option<&mut Endpointer>,
        timeline: &mut Timeline,
        stabilizer: &mut Stabilizer,
        summary: &mut SessionSummary,
        caught_up: bool,
    ) -> Step {
        for &probability in probabilities {
            let decision = match endpointer.as_deref_mut() {
                Some(endpointer) => endpointer.push(probability),
                None => {
                    timeline.heard_speech |= probability >= 0.5;
                    None
                }
            };
            match decision {
                Some(Endpoint::Started { start }) => {
                    let start = start.max(timeline.buffer_start);
                    timeline.utterance_start = Some(start);
                    timeline.partial_at = 0;
                    timeline.heard_speech = true;
                    *stabilizer = Stabilizer::default();
                    self.emit(Event::SpeechStarted {
                        at_secs: start as f64 / SAMPLE_RATE,
                    });
                }
                Some(Endpoint::Ended { end }) => {
                    self.emit(Event::SpeechEnded {
                        at_secs: end as f64 / SAMPLE_RATE,
                    });
                    if let Step::Stop(reason) = self.finalise(timeline, end, summary, false).await {
                        return Step::Stop(reason);
                    }
                }
                None => {}
            }
        }
        if let Some(start) = timeline.utterance_start {
            let length = timeline.total - start;
            if length as f64 >= self.config.max_utterance.as_secs_f64() * SAMPLE_RATE {
                let end = timeline.total;
                if let Step::Stop(reason) = self.finalise(timeline, end, summary, false).await {
                    return Step::Stop(reason);
                }
                // Speech goes on: the next utterance starts where this one was cut.
                timeline.utterance_start = Some(end);
                if let Some(endpointer) = endpointer.as_deref_mut() {
                    endpointer.continue_speech();
                }
            } else if self.partial_due(timeline, length) && caught_up {
                timeline.partial_at = length;
                let audio = timeline.slice(start, timeline.total);
                match self.decode(audio, true).await {
                    Ok(Some(decoded)) if !decoded.text.is_empty() => {
                        self.emit(Event::Partial {
                            text: stabilizer.update(&decoded.text),
                            start_secs: start as f64 / SAMPLE_RATE,
                            end_secs: timeline.total as f64 / SAMPLE_RATE,
                        });
                    }
                    Ok(_) => {}
                    Err(reason) => return Step::Stop(reason),
                }
            }
        }
        let keep_from = match (&endpointer, timeline.utterance_start) {
            (_, Some(start)) => start,
            (Some(endpointer), None) => endpointer.keep_from(),
            (None, None) => timeline.total,
        };
        timeline.trim(keep_from);
        Step::Continue
    }

    fn partial_due(&self, timeline: &Timeline, length: u64) -> bool {
        let every = (self.config.partial_every.as_secs_f64() * SAMPLE_RATE) as u64;
        self.config.interim_results
            && timeline.heard_speech
            && length >= timeline.partial_at + every
    }

    /// Finalises the utterance in progress (if any) on an explicit commit or at the end.
    async fn commit(
        &self,
        endpointer: Option<&mut Endpointer>,
        timeline: &mut Timeline,
        summary: &mut SessionSummary,
        explicit: bool,
    ) -> Step {
        let end = timeline.total;
        match endpointer {
            Some(endpointer) => {
                if let Some(Endpoint::Ended { end }) = endpointer.cut() {
                    self.emit(Event::SpeechEnded {
                        at_secs: end as f64 / SAMPLE_RATE,
                    });
                    return self.finalise(timeline, end, summary, explicit).await;
                }
                Step::Continue
            }
            None => {
                let step = self.finalise(timeline, end, summary, explicit).await;
                // Manual mode: the next utterance is everything after this commit.
                timeline.utterance_start = Some(end);
                step
            }
        }
    }

    /// Decodes the utterance from its start to `end` and sends its final (an empty one only
    /// when the client asked for it, so it always gets an answer to a commit).
    async fn finalise(
        &self,
        timeline: &mut Timeline,
        end: u64,
        summary: &mut SessionSummary,
        always_answer: bool,
    ) -> Step {
        let Some(start) = timeline.utterance_start.take() else {
            return Step::Continue;
        };
        let heard = std::mem::take(&mut timeline.heard_speech);
        let offset_secs = start as f64 / SAMPLE_RATE;
        let decoded = if heard && end > start {
            match self.decode(timeline.slice(start, end), false).await {
                Ok(decoded) => decoded,
                Err(reason) => return Step::Stop(reason),
            }
        } else {
            None
        };
        timeline.trim(end);
        let utterance = match decoded {
            Some(decoded) => decoded.into_utterance(offset_secs, end as f64 / SAMPLE_RATE),
            None => Utterance {
                text: String::new(),
                start_secs: offset_secs,
                end_secs: end as f64 / SAMPLE_RATE,
                words: Vec::new(),
                language: self.config.language.clone().unwrap_or_default(),
                confidence: 0.0,
            },
        };
        summary.speech_secs += utterance.end_secs - utterance.start_secs;
        if !utterance.text.is_empty() || always_answer {
            if !utterance.text.is_empty() {
                summary.utterances.push(utterance.clone());
            }
            self.emit(Event::Final(utterance));
        }
        Step::Continue
    }

    /// Runs Whisper on a blocking thread: greedy and untimed for partials, the configured
    /// beam with word timings for finals.
    async fn decode(&self, audio: Vec<f32>, partial: bool) -> Result<Option<Decoded>, EndReason> {
        if audio.is_empty() {
            return Ok(None);
        }
        let options = TranscribeOptions {
            language: self.config.language.clone(),
            beam_size: if partial { 1 } else { self.config.beam_size },
            // One pass for partials; finals retry twice at most, so a hard utterance cannot
            // cost six decodes while the speaker waits.
            temperatures: if partial {
                vec![0.0]
            } else {
                vec![0.0, 0.4, 0.8]
            },
            // A partial of speech still in progress is often unsure; it is shown as it is,
            // never decoded again (on a short window that would mean a full one).
            log_prob_threshold: if partial {
                None
            } else {
                TranscribeOptions::default().log_prob_threshold
            },
            // Fast speech is about 5 tokens a second, timestamps included.
            max_tokens_per_second: Some(MAX_TOKENS_PER_SECOND),
            word_timestamps: !partial && self.config.word_timestamps,
            // Partials encode only the utterance so far, not a 30 s window padded with
            // silence (on two cores the full window costs seconds); so do finals unless
            // configured otherwise, falling back to the full window when the short one loops.
            short_window: partial || !self.config.full_window_finals,
            initial_prompt: self.config.prompt.clone(),
            ..TranscribeOptions::default()
        };
        let whisper = Arc::clone(&self.models.whisper);
        let started = Instant::now();
        let result =
            tokio::task::spawn_blocking(move || whisper.transcribe(&audio, &options, &mut |_| {}))
                .await;
        let transcription = match result {
            Ok(Ok(transcription)) => transcription,
            Ok(Err(error)) => return Err(EndReason::Failed(error.to_string())),
            Err(error) => return Err(EndReason::Failed(format!("decoder task: {error}"))),
        };
        tracing::debug!(
            partial,
            audio_secs = transcription.duration_secs,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "realtime decode"
        );
        Ok(Some(Decoded::from(transcription)))
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }
}

/// A decode of one stretch of audio, times relative to its start.
struct Decoded {
    text: String,
    words: Vec<TimedWord>,
    language: String,
    confidence: f32,
}

impl From<dalston_models::Transcription> for Decoded {
    fn from(transcription: dalston_models::Transcription) -> Self {
        let text = transcription
            .segments
            .iter()
            .map(|segment| segment.text.trim())
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let words = transcription
            .segments
            .iter()
            .flat_map(|segment| &segment.words)
            .map(|word| TimedWord {
                word: word.word.trim().to_owned(),
                start_secs: word.start_secs,
                end_secs: word.end_secs,
                probability: word.probability,
            })
            .filter(|word| !word.word.is_empty())
            .collect();
        let logprobs: Vec<f32> = transcription
            .segments
            .iter()
            .map(|segment| segment.avg_logprob)
            .collect();
        let confidence = if logprobs.is_empty() {
            0.0
        } else {
            (logprobs.iter().sum::<f32>() / logprobs.len() as f32).exp()
        };
        Decoded {
            text,
            words,
            language: transcription.language,
            confidence,
        }
    }
}

impl Decoded {
    fn into_utterance(self, offset_secs: f64, end_secs: f64) -> Utterance {
        Utterance {
            text: self.text,
            start_secs: offset_secs,
            end_secs,
            words: self
                .words
                .into_iter()
                .map(|word| TimedWord {
                    start_secs: word.start_secs + offset_secs,
                    end_secs: word.end_secs + offset_secs,
                    ..word
                })
                .collect(),
            language: self.language,
            confidence: self.confidence,
        }
    }
}

/// Warns about lag at most once a second and decides when it has lasted too long.
#[derive(Default)]
struct LagWatch {
    last_warning: Option<Instant>,
    over_limit_since: Option<Instant>,
}

impl LagWatch {
    fn check(
        &mut self,
        config: &SessionConfig,
        lag_secs: f64,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Option<EndReason> {
        let now = Instant::now();
        if lag_secs >= config.lag.warn_secs
            && self
                .last_warning
                .is_none_or(|at| now.duration_since(at).as_secs_f64() >= 1.0)
        {
            self.last_warning = Some(now);
            let _ = events.send(Event::LagWarning { lag_secs });
        }
        if lag_secs < config.lag.close_secs {
            self.over_limit_since = None;
            return None;
        }
        let since = *self.over_limit_since.get_or_insert(now);
        (now.duration_since(since) >= config.lag.grace).then_some(EndReason::LagExceeded)
    }
}
