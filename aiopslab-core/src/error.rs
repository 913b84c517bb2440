//! The crate's error type.

use std::path::PathBuf;

/// Errors of `aiopslab-core` that are not agent-facing observations: reading and writing
/// session files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A session file could not be written.
    #[error(
        "cannot write the session file {path}: {source}; check that the results directory exists and is writable"
    )]
    SessionWrite {
        /// The file (or directory) that could not be written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A session file could not be read.
    #[error("cannot read the session file {path}: {source}")]
    SessionRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A session file is not valid session JSON.
    #[error("{path} is not a valid session file: {source}")]
    SessionFormat {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        #[source]
        source: serde_json::Error,
    },
}
