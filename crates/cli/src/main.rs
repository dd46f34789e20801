//! The `dalston` binary: `serve` runs the whole server in one process; `gateway`,
//! `orchestrator` and `engine` run one role each (the distributed mode); `transcribe` is a
//! client of a running server.

mod client;
mod transcribe;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dalston_core::Stage;
use dalston_server::config::{AuthMode, AuthOverrides, Overrides, ServerOverrides};
use dalston_server::{Application, Config, Role};

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

/// Where a process finds its files and settings.
#[derive(Debug, Args)]
struct Common {
    /// Where the database, audio and the generated admin key live.
    #[arg(long, env = "DALSTON_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where the models are (default ~/.cache/dalston/models).
    #[arg(long, env = "DALSTON_MODELS_DIR")]
    models_dir: Option<PathBuf>,
    /// Configuration file (default ./dalston.toml when present).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// How a process with an HTTP API listens.
#[derive(Debug, Args)]
struct Listen {
    /// Address to listen on.
    #[arg(long)]
    host: Option<std::net::IpAddr>,
    /// Port to listen on (0 picks a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Authentication mode.
    #[arg(long, value_enum)]
    auth: Option<AuthFlag>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run gateway, orchestrator and engines in one process (embedded backends by default).
    Serve {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        listen: Listen,
    },
    /// Run the HTTP API only (distributed mode: needs a redis:// queue).
    Gateway {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        listen: Listen,
    },
    /// Run the orchestrator: job state, reclaim, retries, webhook deliveries (distributed mode).
    Orchestrator {
        #[command(flatten)]
        common: Common,
    },
    /// Run the engines of one stage (distributed mode).
    Engine {
        #[command(flatten)]
        common: Common,
        /// The stage to serve: prepare, transcribe or merge.
        #[arg(long)]
        stage: Stage,
        /// Tasks run at once.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
    },
    /// Transcribe a file with a running server and print the result.
    Transcribe(transcribe::TranscribeArgs),
}

fn overrides(common: Common, listen: Option<Listen>) -> (Option<PathBuf>, Overrides) {
    let (server, auth) = match listen {
        Some(listen) => (
            Some(ServerOverrides {
                host: listen.host,
                port: listen.port,
            }),
            listen.auth.map(|flag| AuthOverrides {
                mode: match flag {
                    AuthFlag::Keys => AuthMode::Required,
                    AuthFlag::None => AuthMode::None,
                },
            }),
        ),
        None => (None, None),
    };
    let overrides = Overrides {
        data_dir: common.data_dir,
        models_dir: common.models_dir,
        server,
        auth,
    };
    (common.config, overrides)
}

/// Builds `role` from the layered configuration and runs it until Ctrl-C or SIGTERM.
async fn run_role(common: Common, listen: Option<Listen>, role: Role) -> anyhow::Result<()> {
    dalston_server::telemetry::init();
    let (config_file, overrides) = overrides(common, listen);
    let config = Config::load(config_file.as_deref(), &overrides)?;
    let app = Application::build_role(config, role).await?;
    app.run_until(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = async {
                match terminate.as_mut() {
                    Some(signal) => { signal.recv().await; }
                    None => std::future::pending().await,
                }
            } => {}
        }
    })
    .await
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
            Command::Serve { common, listen } => run_role(common, Some(listen), Role::All).await,
            Command::Gateway { common, listen } => {
                run_role(common, Some(listen), Role::Gateway).await
            }
            Command::Orchestrator { common } => run_role(common, None, Role::Orchestrator).await,
            Command::Engine {
                common,
                stage,
                concurrency,
            } => run_role(common, None, Role::Engine { stage, concurrency }).await,
            Command::Transcribe(args) => transcribe::run(args).await,
        }
    })
}
