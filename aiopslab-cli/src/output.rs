//! Writing a command's result to stdout.

use std::io::{ErrorKind, Write};

/// Writes `text` to stdout. A closed pipe (`aiopslab problems | head`) is not an error: the
/// reader has what it wanted.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() != ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(err).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}
