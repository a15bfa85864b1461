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

#[test]
fn orphaned_pages_and_blocked_waits_have_their_sections() {
    use crate::collector::Collector;
    use crate::human::time::Timeline;
    use crate::stacks::StackTable;
    use crate::testkit::fixture::*;
    use dax_trace_common::probe::idx::PIN_USER_PAGES_FAST;

    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000);
    let since = s.ts_ns;
    s.by(585, "odirect-read")
        .pin_owner(PGMAP0, 0x240030, PIN_USER_PAGES_FAST, since, 0)
        .by(160, "rm")
        .orphaned(PGMAP0, 0x240030, PMEM0, 14);
    let orphaned_ns = s.ts_ns;
    s.ts_ns += 1_200_000_000;
    s.by(0, "swapper/0")
        .orphan_idle(0x240030, PMEM0, 14, orphaned_ns)
        .by(170, "umount")
        .wait_begin(PMEM0, 15)
        .blocked(PGMAP0, 0x240040, PMEM0, 15, 170);
    let mut c = Collector::default();
    for e in s.build() {
        c.ingest(&e);
    }
    let summary = c.summary();
    assert_eq!((summary.orphaned_pages, summary.blocked_waits), (1, 1));
    let mut out = String::new();
    let time = Timeline::relative(summary.totals.first_ts_ns.unwrap_or(0));
    orphans::orphans_text(&mut out, &summary, &StackTable::new(), time);
    assert!(
        out.contains("orphaned pages (let go by their file while still busy)"),
        "{out}"
    );
    assert!(
        out.contains("pfn 0x240030 (inode 14 pgoff 0, refcount 2) let go by rm[160]"),
        "{out}"
    );
    assert!(out.contains("busy 1.201 s after"), "{out}");
    assert!(out.contains("odirect-read[585]"), "{out}");
    assert!(
        out.contains("blocked waits (uninterruptible, on a page still busy)"),
        "{out}"
    );
    assert!(
        out.contains("umount[170] evicting inode 15 waits on busy pfn 0x240040"),
        "{out}"
    );
    let json = serde_json::to_value(&summary).expect("encodes");
    assert_eq!(
        json["orphaned_page_list"][0]["busy_after_ns"],
        1_201_000_000u64
    );
    assert_eq!(json["blocked_wait_list"][0]["waiter_tid"], 170);
}

#[test]
fn a_device_that_flushed_to_its_host_says_how_fast() {
    use crate::collector::Collector;
    use crate::human::time::Timeline;
    use crate::testkit::fixture::*;

    let mut s = Script::default();
    s.claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .by(77, "kworker/0:2");
    for latency in [1_000_000, 2_000_000, 3_000_000, 50_000_000] {
        s.flush(PMEM0, latency, 0);
    }
    s.flush(PMEM0, 400_000, -5);
    let mut c = Collector::default();
    for e in s.build() {
        c.ingest(&e);
    }
    let summary = c.summary();
    let dev = summary
        .devices
        .iter()
        .find(|d| d.identity.disk == "pmem0")
        .expect("pmem0");
    let f = dev.flushes.expect("flush figures");
    assert_eq!((f.count, f.errors, f.max_ns), (5, 1, 50_000_000));
    assert_eq!(f.p50_ns, 2_000_000);
    let mut out = String::new();
    records::device_text(&mut out, dev, Timeline::relative(0));
    assert!(
        out.contains("flushes       5 to the host (p50 2.000 ms, p99 50.000 ms, max 50.000 ms"),
        "{out}"
    );
    assert!(out.contains("1 failed)"), "{out}");
    let json = serde_json::to_value(dev).expect("encodes");
    assert_eq!(json["flushes"]["p99_ns"], 50_000_000u64);
    // A device that never flushed has no flush figures at all.
    let mut quiet = Collector::default();
    for e in Script::xfs_mounted_at_start().build() {
        quiet.ingest(&e);
    }
    assert!(quiet.summary().devices.iter().all(|d| d.flushes.is_none()));
}

#[test]
fn a_mount_says_whether_dax_is_in_effect_and_older_traces_say_nothing() {
    use crate::collector::Collector;
    use crate::daxmode::Asked;
    use crate::testkit::fixture::*;
    use crate::testkit::fixture_state::ALL_SOURCES;

    let text = |s: &Script| {
        let mut c = Collector::default();
        for e in s.build() {
            c.ingest(&e);
        }
        let summary = c.summary();
        let d = summary
            .devices
            .iter()
            .find(|d| d.mount.is_some())
            .expect("the mounted device");
        let mut out = String::new();
        super::state::device_state_text(&mut out, d);
        out
    };
    let mut with = Script::xfs_mounted_at_start();
    with.state_dax_mode(PMEM0, "/mnt/x", Asked::Always, 0, 0)
        .state_end(0, ALL_SOURCES);
    assert!(
        text(&with).contains(
            "  mounted       xfs on /mnt/x (since before the trace)\n  dax mode      dax=always asked, DAX unknown: no regular file to sample\n"
        ),
        "{}",
        text(&with)
    );
    let older = Script::xfs_mounted_before();
    assert!(!text(&older).contains("dax mode"), "{}", text(&older));
}

#[test]
fn a_device_dax_pagemap_rebound_to_fsdev_dax_shows_its_kind_size_and_driver() {
    use crate::collector::Collector;
    use crate::human::time::Timeline;
    use crate::testkit::fixture::*;
    use dax_trace_common::memory::MemoryKind;

    // dax0.0 under device_dax, then under fsdev_dax: the static pagemap of a
    // devdax namespace is reused, so the same pointer dies and is born again.
    let pfns = (0x40a00, 0x60000);
    let mut s = Script::default();
    s.devdax_pagemap(PGMAP0, pfns, MemoryKind::Generic, "dax0.0", "device_dax");
    let mut c = Collector::default();
    for e in s.build() {
        c.ingest(&e);
    }
    let mut out = String::new();
    pagemap_text(&mut out, &c.summary().pagemaps[0], Timeline::relative(0));
    assert!(out.contains("pfn 0x40a00-0x60000 (128512 pages)"), "{out}");
    assert!(out.contains(": generic, pfn"), "{out}");
    assert!(
        out.contains("  backed by     dax0.0\n  driver        device_dax\n"),
        "{out}"
    );

    s.pagemap_gone(PGMAP0)
        .devdax_pagemap(PGMAP0, pfns, MemoryKind::FsDax, "dax0.0", "fsdev_dax");
    let mut c = Collector::default();
    for e in s.build() {
        c.ingest(&e);
    }
    let summary = c.summary();
    assert_eq!(summary.pagemaps.len(), 1);
    let mut out = String::new();
    pagemap_text(&mut out, &summary.pagemaps[0], Timeline::relative(0));
    assert!(out.contains(": fs-dax, pfn"), "{out}");
    assert!(!out.contains("destroyed"), "born again: {out}");
    assert!(
        out.contains("  earlier life  generic, 502 MiB, dax0.0 (device_dax): +1.001s to +1.002s\n"),
        "{out}"
    );
    assert!(out.contains("  driver        fsdev_dax\n"), "{out}");
    let json = serde_json::to_value(&summary).expect("encodes");
    let id = &json["pagemaps"][0]["identity"];
    assert_eq!(
        (&id["kind"], &id["driver"], &id["backing"]),
        (
            &serde_json::json!("fs-dax"),
            &serde_json::json!("fsdev_dax"),
            &serde_json::json!("dax0.0")
        )
    );
}
