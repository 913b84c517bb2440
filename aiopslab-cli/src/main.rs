//! `aiopslab`: the command-line entry point of AIOpsLab-rs.
//!
//! This file only wires things together: parse the command line (clap), start logging, run the
//! chosen subcommand from [`commands`], and turn its outcome into an exit status:
//!
//! - 0: success;
//! - 1: the command ran and the outcome is a failure (e.g. `parse` rejected the response);
//! - 2: the command line or its input was wrong (bad flag value, unknown id or app, unreadable
//!   file). clap uses 2 for its own usage errors as well.

mod cli;
mod commands;
mod error;
mod logging;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init();
    tracing::debug!(?cli, "parsed command line");
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            error::exit_code(&err)
        }
    }
}
