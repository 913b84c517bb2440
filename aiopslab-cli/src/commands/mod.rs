//! One module per subcommand; [`run`] dispatches to them.

pub mod cluster;
pub mod parse;
pub mod problems;

use crate::cli::Command;
use std::process::ExitCode;

/// Runs one subcommand. `Err` is for failures the binary reports as `error: ...`; a command
/// that reports its own failure (like `parse`) returns `Ok` with a non-zero status.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Problems(args) => problems::run(&args),
        Command::Parse(args) => parse::run(&args),
        Command::Cluster(args) => cluster::run(&args),
    }
}
