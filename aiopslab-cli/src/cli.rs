//! The command line: the top-level parser and the list of subcommands.

use crate::commands::{cluster::ClusterArgs, parse::ParseArgs, problems::ProblemsArgs};
use clap::{Parser, Subcommand};

/// AIOpsLab rebuilt in Rust: benchmark AIOps agents on microservice faults, on an embedded
/// virtual Kubernetes cluster or a real one.
#[derive(Debug, Parser)]
#[command(
    name = "aiopslab",
    version,
    propagate_version = true,
    after_help = "Exit status: 0 on success, 1 when the command ran but failed (e.g. a response \
                  that does not parse), 2 for a wrong command line or input.\n\
                  Logging: set RUST_LOG (e.g. RUST_LOG=debug) to see diagnostics on stderr."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, one module each under `commands/`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the problem catalogue: AIOpsLab's 89 problem ids, their app, task and status.
    ///
    /// The ids come in AIOpsLab's registry order, each with its application, task kind and
    /// whether this implementation can run it yet. `--task` and `--app` combine; `--json` prints
    /// the full entries (fault, expected answer, workload, deployment).
    Problems(ProblemsArgs),
    /// Parse one agent response the way AIOpsLab does and print the action call as JSON.
    ///
    /// The response must hold exactly one fenced code block with one API call; the text around
    /// the block is kept as context. Prints {"api_name", "args", "kwargs", "context"} as JSON on
    /// stdout. If the response does not parse, prints AIOpsLab's error text on stderr and exits
    /// with status 1.
    Parse(ParseArgs),
    /// Run the virtual cluster: an in-process Kubernetes API server with controllers that the
    /// real kubectl talks to.
    ///
    /// `aiopslab cluster up` starts it in the foreground, writes the admin and agent
    /// kubeconfigs and prints the `export KUBECONFIG=...` line.
    Cluster(ClusterArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
