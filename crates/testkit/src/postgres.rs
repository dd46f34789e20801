//! A private, throwaway PostgreSQL server for tests, started from the installed binaries.
//!
//! Each [`TestPostgres`] is its own cluster in a temporary directory, listening on 127.0.0.1 at a
//! free port with trust authentication, and is stopped (`pg_ctl stop -m immediate`) when dropped.
//! Each test asks it for a fresh database with [`TestPostgres::create_database`].
//!
//! `initdb` refuses to run as root, so when the tests run as root every PostgreSQL binary runs as
//! the `postgres` OS user (`runuser -u postgres --`) on a data directory chowned to it.
//!
//! Without PostgreSQL binaries the tests that need them are skipped (failed under `CI=true`).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

use crate::process::{free_port, run};

/// The OS user that owns the cluster when the tests run as root.
const POSTGRES_OS_USER: &str = "postgres";

/// A running PostgreSQL cluster owned by one test.
pub struct TestPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    as_postgres_user: bool,
    port: u16,
    next_database: AtomicU32,
    /// How long `initdb` plus `pg_ctl start` took.
    pub startup: Duration,
    // Dropped last: removes the cluster's files after the server has stopped.
    _dir: TempDir,
}

impl TestPostgres {
    /// Starts a cluster, or returns `None` (after saying why on stderr) when no PostgreSQL
    /// binaries are installed and `CI` is not `true`.
    ///
    /// # Panics
    /// Under `CI=true` when no binaries are installed.
    pub fn start() -> anyhow::Result<Option<Self>> {
        let Some(bin_dir) = find_bin_dir() else {
            return Ok(crate::unavailable(
                "PostgreSQL",
                "no PostgreSQL binaries (initdb, pg_ctl, postgres) under /usr/lib/postgresql/*/bin or on PATH",
                "install PostgreSQL (apt-get install postgresql)",
            ));
        };
        let started = Instant::now();
        let dir = tempfile::Builder::new().prefix("dalston-pg-").tempdir()?;
        let as_postgres_user = is_root();
        if as_postgres_user {
            run(Command::new("chown")
                .arg(format!("{POSTGRES_OS_USER}:"))
                .arg(dir.path()))?;
        }
        let data_dir = dir.path().join("data");
        let port = free_port()?;
        let mut server = Self {
            bin_dir,
            data_dir,
            as_postgres_user,
            port,
            next_database: AtomicU32::new(0),
            startup: Duration::ZERO,
            _dir: dir,
        };
        run(server
            .pg_command("initdb")
            .arg("-D")
            .arg(&server.data_dir)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ])
            .arg("--no-sync"))?;
        let socket_dir = server.data_dir.parent().unwrap_or(&server.data_dir);
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            socket_dir.display()
        );
        run(server
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(&server.data_dir)
            .arg("-l")
            .arg(socket_dir.join("postgres.log"))
            .args(["-o", &options, "-w", "start"]))?;
        server.startup = started.elapsed();
        Ok(Some(server))
    }

    /// Creates an empty database and returns its URL.
    pub async fn create_database(&self) -> anyhow::Result<String> {
        let n = self.next_database.fetch_add(1, Ordering::Relaxed);
        let name = format!("test_{n}");
        let mut admin = PgConnection::connect(&self.url("postgres")).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        admin.close().await?;
        Ok(self.url(&name))
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A command running the PostgreSQL binary `name`, as the `postgres` user when we are root.
    fn pg_command(&self, name: &str) -> Command {
        let binary = self.bin_dir.join(name);
        let mut command = if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", POSTGRES_OS_USER, "--"]).arg(binary);
            command
        } else {
            Command::new(binary)
        };
        // The postgres user may not be allowed into the caller's working directory.
        if let Some(dir) = self.data_dir.parent() {
            command.current_dir(dir);
        }
        command
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let stopped = run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "immediate", "-w", "stop"]));
        if let Err(error) = stopped {
            #[expect(clippy::print_stderr, reason = "a leaked test server must be noticed")]
            {
                eprintln!("failed to stop the test PostgreSQL server: {error:#}");
            }
        }
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin`, else the directory of `initdb` on `PATH`;
/// only one that also holds `pg_ctl` and `postgres`.
fn find_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|name| dir.join(name).is_file())
    };
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| complete(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| complete(dir))
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|process| process.uid() == 0)
}
