//! API tests: each starts the real server (real model) on a random port and talks HTTP to it.
//! Each backend-independent test runs twice, on the embedded deployment (SQLite, files) and on
//! the distributed one (PostgreSQL, Redis, S3): see [`deployment`]. One binary for all of them
//! (faster to link).
#![expect(
    clippy::expect_used,
    reason = "test helpers panic with a message when the server misbehaves"
)]
#![expect(clippy::print_stderr, reason = "a skipped check says why on stderr")]

mod audio_url;
mod auth;
mod bad_input;
mod console;
mod deployment;
mod diarization;
mod elevenlabs;
mod helpers;
mod jobs;
mod openai;
mod per_channel;
mod realtime;
mod sdk;
mod speech_only;
mod webhooks;
