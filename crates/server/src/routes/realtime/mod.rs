//! Live transcription over WebSocket: the native and ElevenLabs protocols (thin adapters over
//! `dalston_realtime`), single-use tokens, and the session records.

pub mod elevenlabs;
pub mod native;
mod open;
pub mod sessions;
mod socket;
