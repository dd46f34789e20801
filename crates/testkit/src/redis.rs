//! A private Redis server for tests, started from the installed `redis-server`.
//!
//! It keeps an append-only file (fsync on every write) in its temporary directory, so
//! [`TestRedis::restart`] after a SIGKILL comes back with every message, as a production Redis
//! with AOF does.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use tempfile::TempDir;

use crate::process::{find_on_path, free_port, wait_for_answer};

pub struct TestRedis {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
    /// How long the first start took.
    pub startup: Duration,
    // Dropped last: removes the data files after the server has stopped.
    dir: TempDir,
}

impl TestRedis {
    /// Starts a server, or returns `None` (after saying why) when `redis-server` is not
    /// installed and `CI` is not `true`.
    ///
    /// # Panics
    /// Under `CI=true` when `redis-server` is not installed.
    pub fn start() -> anyhow::Result<Option<Self>> {
        let Some(binary) = find_on_path("redis-server") else {
            return Ok(crate::unavailable(
                "Redis",
                "no redis-server on PATH",
                "install Redis (apt-get install redis-server)",
            ));
        };
        let started = Instant::now();
        let mut server = Self {
            binary,
            port: free_port()?,
            child: None,
            startup: Duration::ZERO,
            dir: tempfile::Builder::new()
                .prefix("dalston-redis-")
                .tempdir()?,
        };
        server.spawn()?;
        server.startup = started.elapsed();
        Ok(Some(server))
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        // -LOADING answers while the append-only file is replayed.
        wait_for_answer(self.port, b"PING\r\n", b"+PONG", Duration::from_secs(30))
    }

    /// Stops the server with SIGKILL (no shutdown save).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts it again on the same port and data.
    ///
    /// # Errors
    /// When it does not come back.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
