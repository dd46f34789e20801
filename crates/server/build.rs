//! Builds the web console from `web/` (Vite + TypeScript) into `$OUT_DIR/console`, which
//! `routes::console` embeds, so `cargo build` alone gives a binary with a working console.
//!
//! The npm packages are installed (`npm ci`, from the committed lock file) only when
//! `web/node_modules` is missing or older than the lock file; cargo reruns this script only when
//! a console source changes. Without npm (or when the build fails) a placeholder page that says
//! so is embedded instead and the script runs again at the next build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the console is built from, relative to `web/`.
const SOURCES: [&str; 6] = [
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];
/// Written by `npm ci`; its age tells whether the installed packages match the lock file.
const INSTALLED_MARKER: &str = "node_modules/.package-lock.json";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let web = manifest_dir.join("../../web");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("console");
    for source in SOURCES {
        println!("cargo:rerun-if-changed={}", web.join(source).display());
    }
    if let Err(reason) = build(&web, &out) {
        println!(
            "cargo:warning=the web console was not built ({reason}); a placeholder page is embedded"
        );
        // A path that does not exist makes cargo run this script again at the next build.
        println!(
            "cargo:rerun-if-changed={}",
            web.join("node_modules/.console-build-retry").display()
        );
        placeholder(&out, &reason)?;
    }
    Ok(())
}

fn build(web: &Path, out: &Path) -> Result<(), String> {
    if !web.join("package.json").is_file() {
        return Err(format!("{} has no package.json", web.display()));
    }
    if !installed(web) {
        npm(web, &["ci", "--no-audit", "--no-fund"])?;
    }
    let out = out.to_str().ok_or("OUT_DIR is not valid UTF-8")?;
    npm(
        web,
        &["run", "build", "--", "--outDir", out, "--emptyOutDir"],
    )
}

fn installed(web: &Path) -> bool {
    let modified = |path: PathBuf| {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .ok()
    };
    match (
        modified(web.join(INSTALLED_MARKER)),
        modified(web.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed >= lock,
        _ => false,
    }
}

fn npm(web: &Path, args: &[&str]) -> Result<(), String> {
    let output = Command::new("npm")
        .args(args)
        .current_dir(web)
        .output()
        .map_err(|error| format!("npm could not be started: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    Err(format!("`npm {}` failed: {last}", args.join(" ")))
}

fn placeholder(out: &Path, reason: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let reason = reason
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    std::fs::write(
        out.join("index.html"),
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Dalston console not built</title></head>\
             <body><main><h1>The Dalston console was not built into this binary</h1>\
             <p>The API works as usual. To get the console, install Node.js 20 and npm, then run <code>cargo build</code> again.</p>\
             <p>Reason: {reason}</p></main></body></html>\n"
        ),
    )
}
