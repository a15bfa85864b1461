//! JSON lines: one [`Event`] per line in its serde form (`"body":{"type":...}`),
//! for `jq` and scripts.
use std::io::Write;

use super::Exporter;
use crate::event::Event;

/// Writes one JSON object per event, newline-terminated.
pub struct JsonLines<W: Write> {
    out: W,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write> Exporter for JsonLines<W> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
