//! Writing a trace file from events with the real writer, for the CLI
//! tests that judge the binary's output on it.
use std::path::{Path, PathBuf};

use dax_trace::event::Event;
use dax_trace::testkit::synthetic;
use dax_trace::trace::{Header, Writer};

/// `events` as the trace `dir/name`, under the synthetic session's header.
pub fn write_trace(dir: &Path, name: &str, events: &[Event]) -> PathBuf {
    let path = dir.join(name);
    let header = Header::new(synthetic::session(), Vec::new());
    let mut w = Writer::new(Vec::new(), &header).expect("header");
    for e in events {
        w.write_event(e).expect("event");
    }
    let (_, bytes) = w.finish("source-ended").expect("finish");
    std::fs::write(&path, bytes).expect("write trace");
    path
}
