//! Benchmarks Dalston's Whisper engine, alone or side by side with faster-whisper (the
//! `scripts/bench-whisper` comparison). Not a test: it prints figures and asserts nothing about
//! speed, which varies run to run on a shared machine.
//!
//! - `bench_whisper [--model DIR] [--json OUT] … FILE.wav...` transcribes and times files
//!   (see `run.rs`);
//! - `bench_whisper compare …` prints both engines' runs side by side (`compare.rs`);
//! - `bench_whisper long-input …` builds a long recording from test clips (`long_input.rs`).
#![expect(clippy::print_stdout, reason = "a benchmark prints its results")]
#![expect(
    clippy::print_stderr,
    reason = "a command-line tool reports its errors"
)]

mod align;
mod compare;
mod long_input;
#[path = "../../../../testkit/src/references.rs"]
mod references;
mod report;
mod run;
#[path = "../../../tests/support/wav.rs"]
mod wav;

fn main() -> std::process::ExitCode {
    let mut arguments = std::env::args().skip(1).peekable();
    let result = match arguments.peek().map(String::as_str) {
        Some("compare") => compare::main(arguments.skip(1)),
        Some("long-input") => long_input::main(arguments.skip(1)),
        _ => run::main(arguments),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench_whisper: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
