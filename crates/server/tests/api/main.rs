//! API tests: each starts the real server (real SQLite, real files, real model) on a random port
//! and talks HTTP to it. One binary for all of them (faster to link).
#![expect(
    clippy::expect_used,
    reason = "test helpers panic with a message when the server misbehaves"
)]
#![expect(clippy::print_stderr, reason = "a skipped check says why on stderr")]

mod auth;
mod bad_input;
mod console;
mod elevenlabs;
mod helpers;
mod jobs;
mod openai;
mod realtime;
mod sdk;
mod speech_only;
mod webhooks;
