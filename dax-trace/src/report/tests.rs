//! The report of the shipped synthetic sample: its text and JSON pinned by
//! snapshots, and the state-at-start lines named.
use std::path::Path;

use super::*;
use crate::collector::CollectorConfig;
use crate::source::replay;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/synthetic-6.1.dxt");

fn sample_report() -> Report {
    let path = Path::new(SAMPLE);
    let folded = replay::fold(path, CollectorConfig::default()).expect("sample reads");
    Report::new(
        Path::new("samples/synthetic-6.1.dxt"),
        &folded,
        &folded.stacks,
    )
}

#[test]
fn sample_report_text() {
    insta::assert_snapshot!(render_text(&sample_report()));
}

#[test]
fn sample_report_json() {
    let json = super::render_json(&sample_report()).expect("encodes");
    insta::assert_snapshot!(json);
}

#[test]
fn sample_report_names_the_state_at_start() {
    let text = render_text(&sample_report());
    for line in [
        "State at start (read by +0.003s, in 3.154 ms)",
        "pagemap 0xffff888004200000: fs-dax, pfn 0x40000-0x60000 (131072 pages, 512 MiB), existed before the trace",
        "  backed by     pmem0 on namespace0.0",
        "device pmem0 (259:0), dax_dev 0xffff888004310000\n  size          512 MiB",
        "before the trace: held by xfs on /mnt/xfs (holder 0xffff88800b200000) -> released +0.013s by umount[300]",
        "  mounted       ext4 on /mnt/ext4 (since before the trace)",
        "  dm table      daxlin 0+1048576 linear -> pmem1 at sector 0 (since before the trace)",
        "  busy at start 3 pages\n    pfn 0x60200 inode 77 index 0 refcount 3 on 253:0",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    assert!(!text.contains("no pagemap seen"), "{text}");
    let json = serde_json::to_value(sample_report()).expect("encodes");
    let state = &json["summary"]["state_at_start"];
    assert_eq!(state["dax_devices"], 3);
    assert_eq!(state["unavailable_sources"], serde_json::json!([]));
    assert_eq!(
        json["summary"]["held_since_start"].as_array().map(Vec::len),
        Some(2)
    );
}
