//! `aiopslab problems`: the problem catalogue as a table or as JSON.

use crate::error::usage;
use crate::output;
use aiopslab_core::problem::{App, ProblemEntry};
use aiopslab_core::task::TaskKind;
use aiopslab_problems::Registry;
use anyhow::Context;
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::fmt::Write;
use std::process::ExitCode;

/// Arguments of `aiopslab problems`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
                  aiopslab problems\n  \
                  aiopslab problems --task mitigation\n  \
                  aiopslab problems --app \"Hotel Reservation\" --task localization\n  \
                  aiopslab problems --app social-network --json")]
pub struct ProblemsArgs {
    /// Only problems of this task kind.
    #[arg(
        long,
        value_name = "KIND",
        ignore_case = true,
        value_parser = PossibleValuesParser::new(TaskKind::ALL.map(TaskKind::as_str))
            .try_map(|kind| kind.parse::<TaskKind>())
    )]
    pub task: Option<TaskKind>,

    /// Only problems of this application: its name, class or namespace in any spelling
    /// (hotel-reservation, HotelReservation, "Hotel Reservation", test-hotel-reservation, hotel).
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,

    /// Print a JSON array of the full entries (fault, expected answer, workload, ...).
    #[arg(long)]
    pub json: bool,
}

/// Runs `aiopslab problems`.
pub fn run(args: &ProblemsArgs) -> anyhow::Result<ExitCode> {
    let registry = aiopslab_problems::registry();
    let app = match &args.app {
        Some(query) => Some(&registry.find_app(query).map_err(usage)?.app),
        None => None,
    };
    let selected: Vec<&ProblemEntry> = registry.filter(args.task, app).collect();
    tracing::debug!(
        task = ?args.task,
        app = ?app.map(|a| &a.class),
        count = selected.len(),
        "selected problems"
    );
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&selected)
            .context("cannot write the catalogue as JSON")?;
        json.push('\n');
        json
    } else {
        table(registry, &selected, args.task, app)
    };
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The human table: id, app, task, runnable, then a one-line summary.
fn table(
    registry: &Registry,
    selected: &[&ProblemEntry],
    task: Option<TaskKind>,
    app: Option<&App>,
) -> String {
    const HEADERS: [&str; 4] = ["ID", "APP", "TASK", "RUNNABLE"];
    let rows: Vec<[&str; 4]> = selected
        .iter()
        .map(|entry| {
            [
                entry.id.as_str(),
                entry.app.class.as_str(),
                entry.task.as_str(),
                if entry.runnable { "yes" } else { "no" },
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }

    let mut out = String::new();
    let mut line = |cells: &[&str; 4]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    if !rows.is_empty() {
        line(&HEADERS);
        for row in &rows {
            line(row);
        }
        out.push('\n');
    }
    out.push_str(&summary(registry, selected, task, app));
    out.push('\n');
    out
}

/// `89 problems, 0 runnable yet.` or `14 of 89 problems match (task mitigation), 0 runnable yet.`
fn summary(
    registry: &Registry,
    selected: &[&ProblemEntry],
    task: Option<TaskKind>,
    app: Option<&App>,
) -> String {
    let runnable = selected.iter().filter(|entry| entry.runnable).count();
    let mut filters = Vec::new();
    if let Some(task) = task {
        filters.push(format!("task {task}"));
    }
    if let Some(app) = app {
        filters.push(format!("app {}", app.class));
    }
    if filters.is_empty() {
        format!("{} problems, {runnable} runnable yet.", selected.len())
    } else {
        format!(
            "{} of {} problems match ({}), {runnable} runnable yet.",
            selected.len(),
            registry.len(),
            filters.join(", ")
        )
    }
}
