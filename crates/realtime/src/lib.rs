//! Live transcription for Dalston, independent of any wire protocol.
//!
//! A [`Session`] takes 16 kHz audio as it arrives ([`AudioInput`] turns a client's PCM bytes
//! into that), finds utterances with Silero VAD ([`Endpointer`]), decodes the growing
//! utterance greedily for partial transcripts that settle ([`Stabilizer`]) and the complete
//! utterance for its final transcript with word timings, and reports [`Event`]s. The models are
//! the same loaded `Arc`s batch transcription uses. The native and ElevenLabs WebSocket
//! protocols in the server crate are thin adapters over this.

mod config;
mod endpointer;
mod events;
mod input;
mod session;
mod stabilizer;

pub use config::{LagLimits, SessionConfig, SessionUpdate};
pub use endpointer::{Endpoint, EndpointOptions, Endpointer};
pub use events::{EndReason, Event, SessionSummary, TimedWord, Utterance};
pub use input::{AudioInput, InputError, PcmEncoding, SAMPLE_RATES_HZ};
pub use session::{Session, SessionClosed, SessionModels};
pub use stabilizer::{PartialText, Stabilizer};
