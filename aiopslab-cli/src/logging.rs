//! Diagnostics: `tracing` output on stderr, filtered by `RUST_LOG` (default: warnings only).

use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is unset or invalid.
const DEFAULT_FILTER: &str = "warn";

/// Installs the global subscriber. stdout stays reserved for the command's own output.
pub fn init() {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|err| {
            eprintln!("warning: ignoring RUST_LOG={spec:?} ({err}); logging warnings only");
            EnvFilter::new(DEFAULT_FILTER)
        }),
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    // `try_init` fails only if a subscriber is already installed; then keep that one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
