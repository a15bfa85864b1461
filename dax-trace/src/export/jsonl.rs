//! JSON lines: one event per line, the serde form of [`Event`]. A kernel
//! stack an event names is written once, as a
//! `{"type":"stack","id":N,"frames":[...]}` line just before the first event
//! naming it, so a script reading line by line always knows the frames.
use std::collections::{HashMap, HashSet};
use std::io::Write;

use serde::Serialize;

use super::{Exporter, stack_of};
use crate::event::Event;
use crate::stacks::{StackFrame, StackRecord};

pub struct JsonLines<W: Write> {
    out: W,
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

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            pending: HashMap::new(),
            written: HashSet::new(),
        }
    }

    fn write_line(&mut self, value: &impl Serialize) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
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
        self.write_line(event)
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
