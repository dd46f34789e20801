//! A private S3-compatible server for tests: moto's server mode (`moto_server`, from PyPI).
//!
//! `scripts/test` installs `moto[server]` into a virtual environment under the build directory
//! and names its `moto_server` in `DALSTON_MOTO_SERVER`; otherwise one on `PATH` is used. moto
//! accepts any credentials and keeps objects in memory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::process::{ask, find_on_path, free_port, wait_for_answer};

/// The variable naming the `moto_server` executable.
pub const MOTO_SERVER_VARIABLE: &str = "DALSTON_MOTO_SERVER";

pub struct TestS3 {
    port: u16,
    child: Child,
    /// How long the start took.
    pub startup: Duration,
}

impl TestS3 {
    /// Starts a server, or returns `None` (after saying why) when moto is not installed and `CI`
    /// is not `true`.
    ///
    /// # Panics
    /// Under `CI=true` when moto is not installed.
    pub fn start() -> anyhow::Result<Option<Self>> {
        let binary = std::env::var_os(MOTO_SERVER_VARIABLE)
            .map(PathBuf::from)
            .or_else(|| find_on_path("moto_server"));
        let Some(binary) = binary.filter(|path| path.is_file()) else {
            return Ok(crate::unavailable(
                "S3",
                "no moto_server (set DALSTON_MOTO_SERVER or put it on PATH)",
                "install moto[server] (scripts/test does, from PyPI)",
            ));
        };
        let started = Instant::now();
        let port = free_port()?;
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self {
            port,
            child,
            startup: Duration::ZERO,
        };
        let probe =
            format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        wait_for_answer(port, probe.as_bytes(), b"HTTP/1.", Duration::from_secs(60))?;
        server.startup = started.elapsed();
        Ok(Some(server))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto takes an unsigned request).
    ///
    /// # Errors
    /// When moto does not answer 200.
    pub fn create_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        let status = ask(self.port, request.as_bytes(), 12)?;
        ensure!(
            status.ends_with(b"200"),
            "creating bucket {bucket}: {}",
            String::from_utf8_lossy(&status)
        );
        Ok(())
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
