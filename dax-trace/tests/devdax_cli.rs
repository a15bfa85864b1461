//! End-to-end: a device-DAX device rebound from device_dax to fsdev_dax and
//! then to kmem, as a recording holds it, through the real binary: `report`
//! names each life of the reused pagemap with its kind, size and driver, and
//! `export --format jsonl` keeps the fields the recorder read from sysfs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod trace_file;
use std::process::Command;
use trace_file::write_trace;

use dax_trace::event::{Event, PagemapCreate, PagemapDestroy};
use dax_trace_common::memory::MemoryKind;

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");
const PGMAP: u64 = 0xffff_8880_7e72_e600;

fn at(ts_ns: u64, body: dax_trace::event::EventBody) -> Event {
    Event {
        ts_ns,
        cpu: 0,
        pid: 153,
        tid: 153,
        comm: "bash".into(),
        point: 0,
        body,
    }
}

fn born(ts_ns: u64, kind: MemoryKind, driver: &str) -> Event {
    let fs_dax = kind == MemoryKind::FsDax;
    at(
        ts_ns,
        PagemapCreate {
            pgmap: PGMAP,
            memory_type: if fs_dax { 3 } else { 4 },
            fs_dax: fs_dax.into(),
            pfn_start: 0x40000,
            pfn_end: 0x60000,
            nr_range: 1,
            kind: kind.into(),
            device: "dax0.0".into(),
            driver: driver.into(),
            ..Default::default()
        }
        .into(),
    )
}

fn died(ts_ns: u64) -> Event {
    at(ts_ns, PagemapDestroy { pgmap: PGMAP }.into())
}

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_rebound_device_dax_pagemap_shows_each_life_with_kind_size_and_driver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = 1_000_000_000;
    let trace = write_trace(
        dir.path(),
        "devdax.dxt",
        &[
            born(s, MemoryKind::Generic, "device_dax"),
            died(3 * s),
            born(3 * s + 1000, MemoryKind::FsDax, "fsdev_dax"),
            // kmem takes the device: the pagemap dies, none is born.
            died(5 * s),
        ],
    );
    let path = trace.to_str().expect("utf8");
    let text = run(&["report", path]);
    assert!(
        text.contains("pagemap 0xffff88807e72e600: fs-dax, pfn 0x40000-0x60000 (131072 pages), destroyed\n  backed by     dax0.0\n  driver        fsdev_dax\n  earlier life  generic, 512 MiB, dax0.0 (device_dax): +0.000s to +2.000s\n"),
        "{text}"
    );
    let jsonl = dir.path().join("devdax.jsonl");
    run(&[
        "export",
        path,
        "--format",
        "jsonl",
        "-o",
        jsonl.to_str().expect("utf8"),
    ]);
    let lines = std::fs::read_to_string(jsonl).expect("export");
    let born_lines: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("pagemap-create"))
        .collect();
    assert_eq!(born_lines.len(), 2, "{lines}");
    assert!(
        born_lines[0].contains(r#""kind":"generic","device":"dax0.0","driver":"device_dax""#),
        "{}",
        born_lines[0]
    );
    assert!(
        born_lines[1].contains(r#""kind":"fs-dax","device":"dax0.0","driver":"fsdev_dax""#),
        "{}",
        born_lines[1]
    );
}
