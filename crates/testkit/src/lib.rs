//! Private backend servers for tests: each test starts its own PostgreSQL ([`TestPostgres`]),
//! Redis ([`TestRedis`]) or S3-compatible server ([`TestS3`]) from installed binaries, on
//! 127.0.0.1 at a free port, with its files in a temporary directory, and stops it when dropped.
//!
//! A service whose binaries are missing makes its tests skip with a message on stderr, except
//! under `CI=true`, where they fail: a green CI run must not hide an untested backend.
//! [`fixtures`] finds the real models and test speech, [`references`] what the recordings
//! say. Only tests (and, by path, the Whisper benchmark) use this crate.

pub mod fixtures;
mod postgres;
mod process;
mod redis;
pub mod references;
mod s3;

pub use postgres::TestPostgres;
pub use redis::TestRedis;
pub use s3::TestS3;

/// What a harness does when its service cannot run here: `None` (skip) locally, a panic in CI.
///
/// # Panics
/// Under `CI=true`.
fn unavailable<T>(service: &str, why: &str, install: &str) -> Option<T> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}: {install} so CI tests the {service} backend"
    );
    #[expect(clippy::print_stderr, reason = "a skipped test says why")]
    {
        eprintln!("skipping the {service} tests: {why}");
    }
    None
}
