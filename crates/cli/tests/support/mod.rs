//! What the tests of the real binary share: where models and test speech are, free ports, the
//! admin key the processes are started with, and HTTP helpers for jobs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const ADMIN_KEY: &str = "dk_process_test_admin_key_0123456789abcdefghij";
pub const JFK_TEXT: &str = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";

/// `~/.cache/dalston/<sub>`, or the directory the variable names.
pub fn home_cache(sub: &str, variable: &str) -> PathBuf {
    std::env::var_os(variable).map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/dalston")
                .join(sub)
        },
        PathBuf::from,
    )
}

pub fn test_data(name: &str) -> PathBuf {
    home_cache("test-data", "DALSTON_TEST_DATA_DIR").join(name)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Whether something accepts connections on `port` within `within`.
pub fn wait_for_port(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// `GET /v1/audio/transcriptions/{id}`.
pub async fn job(client: &reqwest::Client, base: &str, id: &str) -> serde_json::Value {
    client
        .get(format!("{base}/v1/audio/transcriptions/{id}"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("get job")
        .json()
        .await
        .expect("json")
}

pub fn is_finished(job: &serde_json::Value) -> bool {
    matches!(
        job["status"].as_str(),
        Some("completed" | "failed" | "cancelled")
    )
}
