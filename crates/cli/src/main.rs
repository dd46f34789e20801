//! The `dalston` binary: `serve` runs the whole server in one process; `transcribe` is a client
//! of a running server.

mod client;
mod transcribe;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use dalston_server::config::{AuthMode, AuthOverrides, Overrides, ServerOverrides};
use dalston_server::{Application, Config};

#[derive(Debug, Parser)]
#[command(name = "dalston", version, about = "Self-hosted speech-to-text server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AuthFlag {
    /// API keys required (default).
    Keys,
    /// No authentication; only allowed on a loopback address.
    None,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run gateway, orchestrator and engines in one process on the embedded backends.
    Serve {
        /// Address to listen on.
        #[arg(long)]
        host: Option<std::net::IpAddr>,
        /// Port to listen on (0 picks a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Where the database, audio and the generated admin key live.
        #[arg(long, env = "DALSTON_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Where the models are (default ~/.cache/dalston/models).
        #[arg(long, env = "DALSTON_MODELS_DIR")]
        models_dir: Option<PathBuf>,
        /// Configuration file (default ./dalston.toml when present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Authentication mode.
        #[arg(long, value_enum)]
        auth: Option<AuthFlag>,
    },
    /// Transcribe a file with a running server and print the result.
    Transcribe(transcribe::TranscribeArgs),
}

/// Errors are printed as one readable chain (`error: … : cause`), never as a backtrace dump.
fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            #[expect(clippy::print_stderr, reason = "the CLI reports its own failure")]
            {
                eprintln!("error: {error:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve {
                host,
                port,
                data_dir,
                models_dir,
                config,
                auth,
            } => {
                dalston_server::telemetry::init();
                let overrides = Overrides {
                    data_dir,
                    models_dir,
                    server: Some(ServerOverrides { host, port }),
                    auth: auth.map(|flag| AuthOverrides {
                        mode: match flag {
                            AuthFlag::Keys => AuthMode::Required,
                            AuthFlag::None => AuthMode::None,
                        },
                    }),
                };
                let config = Config::load(config.as_deref(), &overrides)?;
                let app = Application::build(config).await?;
                app.run_until(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
            }
            Command::Transcribe(args) => transcribe::run(args).await,
        }
    })
}
