//! Exports of a trace to other tools' formats: JSON lines ([`jsonl`]) for
//! scripts, a Chrome JSON trace ([`perfetto`]) for ui.perfetto.dev, and a
//! trace file of the current format version ([`dxt`]) to upgrade old ones.
//!
//! Both are streaming: memory stays bounded by what is open (claims, waits,
//! busy pages), not by the length of the trace. Output is bounded by the
//! trace's records too: a count field read from the file (a dax_device's
//! claims at start) is drawn at most `collector::MAX_OPEN_CLAIMS` times, the
//! cap report, check and top use, and the output says when it capped.
//! JSON lines write each record once, so a count there is just a number.
pub mod dxt;
pub mod jsonl;
pub mod perfetto;

use std::io::{Read, Write};

use crate::event::Event;
use crate::human::time::TimeBase;
use crate::stacks::StackRecord;
use crate::trace::{End, Header, Reader, Record, Summary};

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON event per line (the serde form of `Event`).
    Jsonl,
    /// Chrome JSON trace events, which the Perfetto UI opens.
    Perfetto,
    /// A daxtrace trace file of the current format version.
    Dxt,
}

/// Something that turns events into an output format.
pub trait Exporter {
    /// Writes one event.
    fn event(&mut self, event: &Event) -> std::io::Result<()>;
    /// A kernel stack of the trace, before the first event naming it.
    fn stack(&mut self, _stack: &StackRecord) -> std::io::Result<()> {
        Ok(())
    }
    /// The source's closing summary, when it has one (before [`Exporter::finish`]).
    fn summary(&mut self, _summary: &Summary) {}
    /// Writes what closes the output.
    fn finish(&mut self) -> std::io::Result<()>;
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
}

/// What an export did: the events written and how reading the trace ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    pub events: u64,
    pub end: End,
}

/// An exporter for `format` writing to `out`; `time` is `export --time`
/// (JSON lines: a `"time"` field; Perfetto: what `ts` counts, since boot
/// when `None`; a trace file keeps CLOCK_MONOTONIC).
pub fn exporter<'a, W: Write + 'a>(
    format: Format,
    header: &Header,
    time: Option<TimeBase>,
    out: W,
) -> std::io::Result<Box<dyn Exporter + 'a>> {
    Ok(match format {
        Format::Jsonl => Box::new(jsonl::JsonLines::new(out, header, time)?),
        Format::Perfetto => Box::new(perfetto::ChromeTrace::new(
            out,
            header,
            time.unwrap_or(TimeBase::Mono),
        )?),
        Format::Dxt => Box::new(dxt::TraceFile::new(out, header)?),
    })
}

/// Exports every event `reader` yields. A truncated or corrupt trace is
/// exported up to the damage; [`Exported::end`] says where it stopped.
pub fn export<R: Read, W: Write>(
    reader: &mut Reader<R>,
    format: Format,
    out: W,
) -> Result<Exported, ExportError> {
    export_on(reader, format, None, out)
}

/// [`export`] with event times in `time` (`export --time`).
pub fn export_on<R: Read, W: Write>(
    reader: &mut Reader<R>,
    format: Format,
    time: Option<TimeBase>,
    out: W,
) -> Result<Exported, ExportError> {
    let header = reader.header().clone();
    let mut exporter = exporter(format, &header, time, out)?;
    let mut events = 0;
    for record in reader.by_ref() {
        match record {
            Ok(Record::Event(e)) => {
                exporter.event(&e)?;
                events += 1;
            }
            Ok(Record::Summary(s)) => exporter.summary(&s),
            Ok(Record::Stack(s)) => exporter.stack(&s)?,
            Ok(Record::State(_)) => {}
            Err(_) => break,
        }
    }
    exporter.finish()?;
    let end = reader.end().cloned().unwrap_or(End::Complete);
    Ok(Exported { events, end })
}

/// The kernel stack an event names (one definition for every reader).
pub use crate::stacks::stack_of;

#[cfg(test)]
mod tests;
