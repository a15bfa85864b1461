//! Helpers shared by integration tests: the built binary, the shipped
//! sample.
use std::path::{Path, PathBuf};
use std::process::Command;

use dax_trace::testkit::synthetic;
use dax_trace::trace::{self, Header, Writer};

/// The shipped sample when there is one, else the same synthetic scenario
/// written to `dir`.
#[allow(dead_code)] // only the top tests write a scenario
pub fn sample_trace(dir: &Path) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/synthetic-6.1.dxt");
    if shipped.exists() {
        return shipped;
    }
    let path = dir.join("scenario.dxt");
    let file = trace::create(&path, trace::CreateOptions::default()).expect("creating the trace");
    let mut writer = Writer::to_file(file, &Header::new(synthetic::session(), Vec::new()))
        .expect("writing the header");
    for event in synthetic::scenario() {
        writer.write_event(&event).expect("writing an event");
    }
    writer
        .finish_file("test fixture")
        .expect("finishing the trace");
    path
}

/// The built `daxtrace` binary.
#[allow(dead_code)] // not every test crate runs it
pub fn daxtrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_daxtrace"))
}

/// The shipped sample trace (it ends in a lost wakeup).
#[allow(dead_code)] // not every test crate reads it
pub fn shipped_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(synthetic::SAMPLE_PATH)
}
