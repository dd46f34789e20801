//! Starting and probing the server processes the harnesses run.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A port nothing listens on right now (the OS picks it; the server binds it moments later).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `command` to completion; its output becomes the error when it fails.
pub(crate) fn run(command: &mut Command) -> anyhow::Result<Output> {
    let output = command
        .output()
        .with_context(|| format!("failed to run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} exited with {}:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// `name` in a directory of `PATH`.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// Sends `request` to 127.0.0.1:`port` until the answer starts with `expected`.
pub(crate) fn wait_for_answer(
    port: u16,
    request: &[u8],
    expected: &[u8],
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    let mut last = String::from("no connection");
    while Instant::now() < deadline {
        match ask(port, request, expected.len()) {
            Ok(answer) if answer.starts_with(expected) => return Ok(()),
            Ok(answer) => last = String::from_utf8_lossy(&answer).into_owned(),
            Err(error) => last = error.to_string(),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("127.0.0.1:{port} did not answer {expected:?} within {within:?} (last: {last})")
}

/// One request on a fresh connection; the first `len` bytes of the answer.
pub(crate) fn ask(port: u16, request: &[u8], len: usize) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(request)?;
    let mut answer = vec![0; len];
    stream.read_exact(&mut answer)?;
    Ok(answer)
}
