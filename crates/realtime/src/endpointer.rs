//! Where utterances start and end in a live stream: Silero VAD's per-chunk speech
//! probabilities turned into decisions as they arrive.
//!
//! The batch [`SpeechSegmenter`](dalston_models::vad::SpeechSegmenter) sees the whole signal
//! before it pads and merges regions; a live session must decide now. The rules are silero's
//! (open at `threshold`, close after `min_silence_ms` below `threshold - 0.15`), with the start
//! confirmed only once `min_speech_ms` of speech has been heard, so a cough does not open an
//! utterance, and the reported start moved back by `speech_pad_ms` so the first word's onset
//! is not cut.

use dalston_models::vad::CHUNK_SAMPLES;

/// How probabilities become utterance boundaries.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointOptions {
    /// Probability at or above which a chunk is speech. Default 0.5.
    pub threshold: f32,
    /// Speech heard before an utterance is confirmed. Default 250 ms.
    pub min_speech_ms: u32,
    /// Silence that ends an utterance. Default 400 ms.
    pub min_silence_ms: u32,
    /// Audio kept before the first speech chunk and after the last. Default 200 ms.
    pub speech_pad_ms: u32,
}

impl Default for EndpointOptions {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            min_speech_ms: 250,
            min_silence_ms: 400,
            speech_pad_ms: 200,
        }
    }
}

/// A decision about the stream, in samples at 16 kHz from the start of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Speech confirmed; the utterance's audio starts at `start` (padding included).
    Started { start: u64 },
    /// The utterance's audio ends at `end` (padding included, never past what was received).
    Ended { end: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Idle,
    /// Speech heard from chunk `first`, `speech_chunks` of them so far, not yet confirmed.
    Candidate {
        first: u64,
        speech_chunks: u64,
    },
    /// In an utterance; `silent_since` is the chunk where the current pause began.
    Speaking {
        silent_since: Option<u64>,
    },
}

/// The state machine; feed it each chunk's probability in order.
#[derive(Debug, Clone)]
pub struct Endpointer {
    threshold: f32,
    neg_threshold: f32,
    min_speech_chunks: u64,
    min_silence_chunks: u64,
    pad_samples: u64,
    /// Chunks seen so far.
    chunks: u64,
    state: State,
}

fn chunks_for(ms: u32) -> u64 {
    (u64::from(ms) * 16).div_ceil(CHUNK_SAMPLES as u64).max(1)
}

impl Endpointer {
    pub fn new(options: &EndpointOptions) -> Self {
        Self {
            threshold: options.threshold,
            neg_threshold: (options.threshold - 0.15).max(0.01),
            min_speech_chunks: chunks_for(options.min_speech_ms),
            min_silence_chunks: chunks_for(options.min_silence_ms),
            pad_samples: u64::from(options.speech_pad_ms) * 16,
            chunks: 0,
            state: State::Idle,
        }
    }

    /// Whether an utterance is open (confirmed and not yet ended).
    pub fn in_speech(&self) -> bool {
        matches!(self.state, State::Speaking { .. })
    }

    /// First sample of the audio that may still become part of an utterance; audio before it
    /// can be dropped.
    pub fn keep_from(&self) -> u64 {
        let first = match self.state {
            State::Idle => self.chunks,
            State::Candidate { first, .. } => first,
            State::Speaking { .. } => return 0,
        };
        (first * CHUNK_SAMPLES as u64).saturating_sub(self.pad_samples)
    }

    /// The next chunk's probability; returns the decision it completes, if any.
    pub fn push(&mut self, probability: f32) -> Option<Endpoint> {
        let chunk = self.chunks;
        self.chunks += 1;
        let speech = probability >= self.threshold;
        let silent = probability < self.neg_threshold;
        match self.state {
            State::Idle => {
                if speech {
                    self.state = State::Candidate {
                        first: chunk,
                        speech_chunks: 0,
                    };
                    return self.push_candidate(probability);
                }
                None
            }
            State::Candidate { .. } => self.push_candidate(probability),
            State::Speaking { silent_since } => {
                let silent_since = if speech {
                    None
                } else if silent {
                    silent_since.or(Some(chunk))
                } else {
                    silent_since
                };
                match silent_since {
                    Some(since) if chunk + 1 - since >= self.min_silence_chunks => {
                        self.state = State::Idle;
                        let end = since * CHUNK_SAMPLES as u64 + self.pad_samples;
                        Some(Endpoint::Ended {
                            end: end.min(self.chunks * CHUNK_SAMPLES as u64),
                        })
                    }
                    _ => {
                        self.state = State::Speaking { silent_since };
                        None
                    }
                }
            }
        }
    }

    fn push_candidate(&mut self, probability: f32) -> Option<Endpoint> {
        let State::Candidate {
            first,
            speech_chunks,
        } = self.state
        else {
            return None;
        };
        if probability < self.neg_threshold {
            // The speech was too short to be an utterance: forget it.
            self.state = State::Idle;
            return None;
        }
        let speech_chunks = speech_chunks + u64::from(probability >= self.threshold);
        if speech_chunks >= self.min_speech_chunks {
            self.state = State::Speaking { silent_since: None };
            return Some(Endpoint::Started {
                start: (first * CHUNK_SAMPLES as u64).saturating_sub(self.pad_samples),
            });
        }
        self.state = State::Candidate {
            first,
            speech_chunks,
        };
        None
    }

    /// Ends an open utterance now (a forced cut or the end of the stream): the audio up to
    /// what was received belongs to it.
    pub fn cut(&mut self) -> Option<Endpoint> {
        let open = self.in_speech();
        self.state = State::Idle;
        open.then_some(Endpoint::Ended {
            end: self.chunks * CHUNK_SAMPLES as u64,
        })
    }

    /// Starts a new utterance at the current position, right after a forced cut in the
    /// middle of speech.
    pub fn continue_speech(&mut self) {
        self.state = State::Speaking { silent_since: None };
    }

    /// Takes new settings mid-stream; an utterance in progress goes on under them.
    pub fn reconfigure(&mut self, options: &EndpointOptions) {
        *self = Self {
            chunks: self.chunks,
            state: self.state,
            ..Self::new(options)
        };
    }

    /// Forgets any speech in progress, as if the stream had been silent (the client cleared
    /// its audio).
    pub fn clear(&mut self) {
        self.state = State::Idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: u64 = CHUNK_SAMPLES as u64;

    #[test]
    fn a_longer_silence_set_mid_utterance_keeps_the_utterance_open_longer() {
        let mut endpointer = Endpointer::new(&EndpointOptions::default());
        let speech = run(&mut endpointer, &[0.9; 20]);
        assert!(matches!(speech[..], [(_, Endpoint::Started { .. })]));
        endpointer.reconfigure(&EndpointOptions {
            min_silence_ms: 2_000,
            ..EndpointOptions::default()
        });
        // 400 ms of silence (13 chunks) ended utterances before; now it does not.
        assert!(run(&mut endpointer, &[0.0; 20]).is_empty());
        assert!(endpointer.in_speech());
        let ended = run(&mut endpointer, &[0.0; 60]);
        assert!(
            matches!(ended[..], [(_, Endpoint::Ended { .. })]),
            "{ended:?}"
        );
    }

    #[test]
    fn clearing_drops_the_utterance_in_progress() {
        let mut endpointer = Endpointer::new(&EndpointOptions::default());
        run(&mut endpointer, &[0.9; 20]);
        endpointer.clear();
        assert!(!endpointer.in_speech());
        assert!(
            run(&mut endpointer, &[0.0; 40]).is_empty(),
            "no end for a cleared utterance"
        );
    }

    fn run(endpointer: &mut Endpointer, probabilities: &[f32]) -> Vec<(usize, Endpoint)> {
        probabilities
            .iter()
            .enumerate()
            .filter_map(|(index, &p)| endpointer.push(p).map(|endpoint| (index, endpoint)))
            .collect()
    }

    #[test]
    fn speech_is_confirmed_after_min_speech_and_ends_after_min_silence() {
        let options = EndpointOptions::default();
        let mut endpointer = Endpointer::new(&options);
        // 10 chunks of silence, 20 of speech, 20 of silence (32 ms each).
        let mut probabilities = vec![0.05; 10];
        probabilities.extend(vec![0.9; 20]);
        probabilities.extend(vec![0.05; 20]);
        let events = run(&mut endpointer, &probabilities);
        // 250 ms is 8 chunks: confirmed at the 8th speech chunk (index 17).
        let pad = u64::from(options.speech_pad_ms) * 16;
        assert_eq!(
            events[0],
            (
                17,
                Endpoint::Started {
                    start: 10 * CHUNK - pad
                }
            )
        );
        // 400 ms is 13 chunks of silence from chunk 30: decided at index 42.
        assert_eq!(
            events[1],
            (
                42,
                Endpoint::Ended {
                    end: 30 * CHUNK + pad
                }
            )
        );
        assert_eq!(events.len(), 2);
        assert!(!endpointer.in_speech());
    }

    #[test]
    fn a_short_burst_is_not_an_utterance() {
        let mut endpointer = Endpointer::new(&EndpointOptions::default());
        let mut probabilities = vec![0.9; 4];
        probabilities.extend(vec![0.05; 30]);
        assert!(run(&mut endpointer, &probabilities).is_empty());
        assert_eq!(endpointer.keep_from(), 34 * CHUNK - 200 * 16);
    }

    #[test]
    fn a_pause_shorter_than_min_silence_keeps_the_utterance_open() {
        let mut endpointer = Endpointer::new(&EndpointOptions::default());
        let mut probabilities = vec![0.9; 10];
        probabilities.extend(vec![0.05; 8]);
        probabilities.extend(vec![0.9; 10]);
        let events = run(&mut endpointer, &probabilities);
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(endpointer.in_speech());
        assert_eq!(endpointer.keep_from(), 0);
    }

    #[test]
    fn in_between_probabilities_neither_open_nor_reset_a_pause() {
        let mut endpointer = Endpointer::new(&EndpointOptions::default());
        let mut probabilities = vec![0.9; 10];
        // A pause starts, then hovers between neg_threshold (0.35) and threshold (0.5).
        probabilities.extend(vec![0.1; 3]);
        probabilities.extend(vec![0.4; 10]);
        let events = run(&mut endpointer, &probabilities);
        assert_eq!(
            events.last(),
            Some(&(
                22,
                Endpoint::Ended {
                    end: 10 * CHUNK + 3200
                }
            ))
        );
    }

    #[test]
    fn cut_closes_an_open_utterance_at_the_received_audio() {
        let mut endpointer = Endpointer::new(&EndpointOptions::default());
        run(&mut endpointer, &[0.9; 12]);
        assert_eq!(endpointer.cut(), Some(Endpoint::Ended { end: 12 * CHUNK }));
        assert_eq!(endpointer.cut(), None);
    }
}
