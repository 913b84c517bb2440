//! Errors at the edge of the binary and the exit status each one maps to.

use std::fmt;
use std::process::ExitCode;

/// The command line or its input was wrong: an unknown task, app or problem id, or a file that
/// cannot be read. The binary exits with status 2, like clap does for its own usage errors.
#[derive(Debug)]
pub struct UsageError(pub anyhow::Error);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:#}` keeps the whole cause chain of the wrapped error on one line.
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for UsageError {}

/// Wraps an error as a [`UsageError`], ready to be returned with `?`.
pub fn usage(err: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(UsageError(err.into()))
}

/// The exit status for an error a command returned: 2 for usage errors, 1 for anything else.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    if err.downcast_ref::<UsageError>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_errors_exit_2_even_with_context_and_others_exit_1() {
        let err = usage(anyhow::anyhow!("unknown thing"));
        assert_eq!(exit_code(&err), ExitCode::from(2));
        assert_eq!(err.to_string(), "unknown thing");
        let wrapped = Err::<(), _>(err).context("while listing").unwrap_err();
        assert_eq!(exit_code(&wrapped), ExitCode::from(2));
        assert_eq!(exit_code(&anyhow::anyhow!("disk full")), ExitCode::FAILURE);
    }
}
