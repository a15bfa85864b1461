//! Re-encoding a trace in the current trace format: an old recording (say a
//! version-1 file) becomes a file of this version with the same events, the
//! same header and the same ending. A source that ends early (truncated or
//! corrupt) gives a file without a summary, so readers of the copy are told
//! that the recording did not finish, as they would be of the original.
use std::io::Write;

use super::Exporter;
use crate::event::Event;
use crate::stacks::StackRecord;
use crate::trace::{FORMAT_VERSION, Header, Summary, TraceError, Writer};

/// Writes every event to a new trace file.
pub struct TraceFile<W: Write> {
    writer: Option<Writer<W>>,
    summary: Option<Summary>,
}

fn io(e: TraceError) -> std::io::Error {
    match e {
        TraceError::Write(e) => e,
        other => std::io::Error::other(other.to_string()),
    }
}

impl<W: Write> TraceFile<W> {
    /// Writes the source's header, marked with this format version.
    pub fn new(out: W, header: &Header) -> std::io::Result<Self> {
        let mut header = header.clone();
        header.format_version = FORMAT_VERSION;
        Ok(Self {
            writer: Some(Writer::new(out, &header).map_err(io)?),
            summary: None,
        })
    }
}

impl<W: Write> Exporter for TraceFile<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.write_event(event).map_err(io),
            None => Err(std::io::Error::other("the trace copy is already finished")),
        }
    }

    /// Stacks are copied in place, so they still precede the events naming them.
    fn stack(&mut self, stack: &StackRecord) -> std::io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.write_stack(stack).map_err(io),
            None => Err(std::io::Error::other("the trace copy is already finished")),
        }
    }

    fn summary(&mut self, summary: &Summary) {
        self.summary = Some(summary.clone());
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let Some(mut writer) = self.writer.take() else {
            return Ok(());
        };
        match &self.summary {
            Some(s) => writer.finish_at(&s.end_reason, s.ended_unix_ns).map(drop),
            None => writer.flush(),
        }
        .map_err(io)
    }
}
