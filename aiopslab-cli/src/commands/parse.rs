//! `aiopslab parse`: run AIOpsLab's response parser on one agent response.

use crate::error::usage;
use crate::output;
use aiopslab_core::parser::{self, ParsedResponse};
use anyhow::Context;
use clap::Args;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `aiopslab parse`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
                  aiopslab parse response.txt\n  \
                  printf 'Action:\\n```\\nsubmit(\"Yes\")\\n```\\n' | aiopslab parse")]
pub struct ParseArgs {
    /// File holding the response; `-` or nothing reads stdin.
    #[arg(value_name = "FILE|-")]
    pub file: Option<PathBuf>,
}

/// Runs `aiopslab parse`.
pub fn run(args: &ParseArgs) -> anyhow::Result<ExitCode> {
    let response = read_input(args.file.as_deref())?;
    match parser::parse(&response) {
        Ok(parsed) => {
            tracing::debug!(api = %parsed.api_name, "response parsed");
            output::print(&render(&parsed)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            tracing::debug!("response rejected");
            eprintln!("{err}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The parse result as pretty JSON, keys in AIOpsLab's order.
fn render(parsed: &ParsedResponse) -> anyhow::Result<String> {
    let value = serde_json::json!({
        "api_name": parsed.api_name,
        "args": parsed.args,
        "kwargs": parsed.kwargs,
        "context": parsed.context,
    });
    let mut text =
        serde_json::to_string_pretty(&value).context("cannot write the result as JSON")?;
    text.push('\n');
    Ok(text)
}

/// Reads the whole response from `file`, or from stdin for `None` or `-`.
fn read_input(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    match file {
        Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the response from {}", path.display()))
            .map_err(usage),
        _ => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("Reading the response from stdin; end it with Ctrl-D.");
            }
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .context("cannot read the response from stdin")
                .map_err(usage)?;
            Ok(text)
        }
    }
}
