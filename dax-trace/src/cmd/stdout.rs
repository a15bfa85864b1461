//! Standard output for every subcommand. A reader that stops early
//! (`daxtrace check t.dxt | head -1`, quitting `less`) ends the output
//! quietly instead of failing the command: what was left to print has
//! nobody to go to, and the exit code stays the command's own (under
//! `pipefail` CI sees check's verdict, not a panic's 101).
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with EPIPE; the
//! `print!` macros then panic. Everything written to stdout goes through
//! [`print`] or [`Stdout`] instead.
use std::io::{self, Write};

/// The reader of stdout went away (EPIPE): carried inside the
/// [`io::Error`] so that [`reader_gone`] can tell it from a broken pipe of
/// anything else (an `-o` FIFO whose reader died is a real error).
#[derive(Debug, thiserror::Error)]
#[error("the reader of the standard output went away")]
pub struct ReaderGone;

/// Stdout as a [`Write`] whose broken pipe is a [`ReaderGone`] error.
pub struct Stdout(io::StdoutLock<'static>);

impl Stdout {
    pub fn lock() -> Self {
        Self(io::stdout().lock())
    }
}

fn mark(err: io::Error) -> io::Error {
    if err.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, ReaderGone)
    } else {
        err
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(mark)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(mark)
    }
}

/// Writes `text` to stdout and flushes it; a reader that went away is not
/// an error.
pub fn print(text: impl AsRef<[u8]>) -> anyhow::Result<()> {
    let mut out = Stdout::lock();
    match out.write_all(text.as_ref()).and_then(|()| out.flush()) {
        Err(err) if is_reader_gone(&err) => Ok(()),
        other => Ok(other.map_err(|e| anyhow::Error::new(e).context("writing to stdout"))?),
    }
}

fn is_reader_gone(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<ReaderGone>())
}

/// True when `err` (from any layer) comes from writing to a stdout whose
/// reader went away: the command then ends quietly.
pub fn reader_gone(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<ReaderGone>()
            || cause
                .downcast_ref::<io::Error>()
                .is_some_and(is_reader_gone)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_marked_broken_pipe_is_the_reader_going_away() {
        let gone = mark(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(reader_gone(&anyhow::Error::new(gone).context("writing")));
        let other_pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(!reader_gone(&anyhow::Error::new(other_pipe)));
        let full = mark(io::Error::from(io::ErrorKind::StorageFull));
        assert!(!reader_gone(&anyhow::Error::new(full)));
    }
}
