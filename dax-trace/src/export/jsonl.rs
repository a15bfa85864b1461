//! JSON lines: a header line first (`{"type":"header","schema":N,...}`:
//! the kernel, the probe table, the clock and its offset to wall time),
//! then one event per line, the serde form of [`Event`] with addresses and
//! devices as strings ([`crate::json`], docs/json.md); with `--time`, a
//! `"time"` field too, in the base asked for. A kernel stack an
//! event names is written once, as a `{"type":"stack","id":N,"frames":[...]}`
//! line just before the first event naming it, so a script reading line by
//! line always knows the frames.
use std::collections::{HashMap, HashSet};
use std::io::Write;

use serde::Serialize;

use super::{Exporter, stack_of};
use crate::event::Event;
use crate::human::time::{TimeBase, Timeline};
use crate::session::probe_report::ProbeReport;
use crate::stacks::{StackFrame, StackRecord};
use crate::trace::Header;

pub struct JsonLines<W: Write> {
    out: W,
    /// With `export --time`: each event line also gets `"time"`, its
    /// `ts_ns` in that base (counted from the first event when relative).
    time: Option<TimeBase>,
    origin_ns: Option<u64>,
    mono_to_wall_ns: i128,
    /// Stacks read but not named by an event yet.
    pending: HashMap<u32, StackRecord>,
    /// Stack ids already written.
    written: HashSet<u32>,
}

/// A stack line.
#[derive(Serialize)]
struct StackLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: u32,
    frames: &'a [StackFrame],
}

/// The first line: what a reader needs before the events.
#[derive(Serialize)]
struct HeaderLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The JSON schema's version (docs/json.md).
    schema: u32,
    tool: &'static str,
    tool_version: &'a str,
    /// The trace file's format version.
    format_version: u32,
    kernel_release: &'a str,
    command_line: &'a [String],
    /// When recording started, Unix-epoch nanoseconds (a decimal string).
    started_unix_ns: String,
    /// What every `ts_ns` counts.
    clock: &'static str,
    /// Add to a `ts_ns` for Unix-epoch nanoseconds (a decimal string).
    monotonic_to_realtime_ns: String,
    filters: &'a [String],
    probes: &'a ProbeReport,
}

impl<W: Write> JsonLines<W> {
    /// Starts the export with its header line.
    pub fn new(out: W, header: &Header, time: Option<TimeBase>) -> std::io::Result<Self> {
        let mut lines = Self {
            out,
            time,
            origin_ns: None,
            mono_to_wall_ns: header.session.monotonic_to_realtime_ns,
            pending: HashMap::new(),
            written: HashSet::new(),
        };
        lines.write_line(&HeaderLine {
            kind: "header",
            schema: crate::json::SCHEMA_VERSION,
            tool: "daxtrace",
            tool_version: &header.tool_version,
            format_version: header.format_version,
            kernel_release: &header.session.kernel_release,
            command_line: &header.command_line,
            started_unix_ns: header.started_unix_ns.to_string(),
            clock: "CLOCK_MONOTONIC",
            monotonic_to_realtime_ns: header.session.monotonic_to_realtime_ns.to_string(),
            filters: &header.filters,
            probes: &header.session.probes,
        })?;
        Ok(lines)
    }

    fn write_line(&mut self, value: &impl Serialize) -> std::io::Result<()> {
        let line = crate::json::to_string(value)?;
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }
}

impl<W: Write> Exporter for JsonLines<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        if let Some(id) = stack_of(&event.body).get()
            && let Some(stack) = self.pending.remove(&id)
        {
            self.write_line(&StackLine {
                kind: "stack",
                id,
                frames: &stack.frames,
            })?;
            self.written.insert(id);
        }
        let Some(base) = self.time else {
            return self.write_line(event);
        };
        let origin_ns = *self.origin_ns.get_or_insert(event.ts_ns);
        let time = Timeline::new(base, origin_ns, self.mono_to_wall_ns).at(event.ts_ns);
        let mut line = crate::json::to_value(event)?;
        if let serde_json::Value::Object(map) = &mut line {
            map.insert("time".into(), time.into());
        }
        self.write_line(&line)
    }

    fn stack(&mut self, stack: &StackRecord) -> std::io::Result<()> {
        if stack.id != 0 && !self.written.contains(&stack.id) {
            self.pending
                .entry(stack.id)
                .or_insert_with(|| stack.clone());
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
