//! The dashboard over a trace that begins with a state at start: devices
//! known only from it show their name, size, holder and mount point from the
//! first frame, and the detail pane lists the pages busy at start.
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::collector::Collector;
use crate::event::Event;
use crate::session::SourceKind;
use crate::testkit::fixture::{PGMAP0, PMEM0, Script};
use crate::testkit::fixture_state::ALL_SOURCES;
use crate::testkit::synthetic;
use crate::tui::model::app::Action;
use crate::tui::run::dashboard::{Clock, Dashboard};
use crate::tui::ui;

fn dashboard(events: &[Event]) -> Dashboard<Collector> {
    let mut info = synthetic::session();
    info.source = SourceKind::Replay {
        path: "state.dxt".into(),
    };
    let mut dash = Dashboard::new(Collector::default(), info, Clock::Trace);
    for event in events {
        dash.ingest(event);
    }
    dash.refresh();
    dash
}

fn screen(dash: &Dashboard<Collector>) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal
        .draw(|f| ui::draw(f, dash.frame(), dash.app()))
        .expect("drawing on a test backend");
    terminal.backend().to_string()
}

/// Nothing but the state at start: pmem0 with xfs mounted on /mnt/x, two
/// pages of a file pinned.
fn state_only() -> Vec<Event> {
    let mut s = Script::xfs_mounted_at_start();
    s.state_busy(PGMAP0, 0x40120, PMEM0, 91, 5, 3)
        .state_busy(PGMAP0, 0x40121, PMEM0, 91, 6, 2)
        .state_end(0, ALL_SOURCES);
    s.build()
}

#[test]
fn a_device_known_only_from_the_state_at_start_shows_from_the_first_frame() {
    let mut dash = dashboard(&state_only());
    let rows = &dash.frame().rows;
    assert_eq!(
        rows.len(),
        1,
        "the pagemap is pmem0's, not a row of its own"
    );
    let row = &rows[0];
    assert_eq!(row.device, "pmem0");
    assert_eq!((row.kind.as_str(), row.size_bytes), ("fsdax", 512 << 20));
    assert_eq!(row.holder, "xfs /mnt/x");
    assert_eq!((row.claims, row.releases), (1, 0));
    dash.apply(Action::ToggleDetail);
    let detail = dash.frame().detail.as_ref().expect("pmem0 is selected");
    assert_eq!(detail.busy_total, 0, "no break-layouts report yet");
    assert_eq!(detail.busy_at_start_total, 2);
    let pages: Vec<(u64, u64, Option<u64>, u64)> = detail
        .busy_at_start
        .iter()
        .map(|p| (p.pfn, p.ino, p.pgoff, p.refcount))
        .collect();
    assert_eq!(
        pages,
        [(0x40120, 91, Some(5), 3), (0x40121, 91, Some(6), 2)]
    );
    assert!(
        detail
            .topology
            .iter()
            .any(|l| l == "xfs on /mnt/x (at start)"),
        "{:?}",
        detail.topology
    );
    assert_eq!(detail.holders[0].action, "held");
    insta::assert_snapshot!(screen(&dash));
}

#[test]
fn a_device_dax_pagemap_found_at_start_is_named_after_its_device() {
    use crate::event::{EventBody, StatePagemap};
    let mut s = Script::default();
    s.push(EventBody::StatePagemap(StatePagemap {
        pgmap: PGMAP0,
        memory_type: 5,
        fs_dax: false.into(),
        pfn_start: 0x80000,
        pfn_end: 0x90000,
        pages: 0x10000,
        nr_range: 1,
        backing: "dax0.0".into(),
        ..Default::default()
    }))
    .state_end(0, ALL_SOURCES);
    let dash = dashboard(&s.build());
    let row = &dash.frame().rows[0];
    assert_eq!(row.device, "dax0.0");
    assert_eq!((row.kind.as_str(), row.size_bytes), ("devmem", 256 << 20));
}

#[test]
fn the_detail_pane_says_whether_dax_is_in_effect_on_the_mount() {
    use crate::daxmode::Asked;
    let mut s = Script::xfs_mounted_at_start();
    s.state_dax_mode(PMEM0, "/mnt/x", Asked::Inode, 4, 1)
        .state_end(0, ALL_SOURCES);
    let mut dash = dashboard(&s.build());
    dash.apply(Action::ToggleDetail);
    let detail = dash.frame().detail.as_ref().expect("pmem0 is selected");
    let mount = detail
        .topology
        .iter()
        .position(|l| l == "xfs on /mnt/x (at start)");
    let mode = detail
        .topology
        .iter()
        .position(|l| l == "dax=inode: partly 1/4 DAX");
    assert!(
        mount.is_some() && mode == mount.map(|m| m + 1),
        "{:?}",
        detail.topology
    );
    insta::assert_snapshot!(screen(&dash));
}

#[test]
fn a_device_dax_pagemap_born_in_the_trace_shows_its_kind_and_driver() {
    use dax_trace_common::memory::MemoryKind;
    let mut s = Script::default();
    s.devdax_pagemap(
        PGMAP0,
        (0x40a00, 0x60000),
        MemoryKind::Generic,
        "dax0.0",
        "device_dax",
    );
    let dash = dashboard(&s.build());
    let row = &dash.frame().rows[0];
    assert_eq!(
        (row.device.as_str(), row.kind.as_str(), row.holder.as_str()),
        ("dax0.0", "gen", "device_dax")
    );
    assert_eq!(row.size_bytes, (0x60000 - 0x40a00) << 12);
    let mut s2 = Script::default();
    s2.devdax_pagemap(
        PGMAP0,
        (0x40a00, 0x60000),
        MemoryKind::FsDax,
        "dax0.0",
        "fsdev_dax",
    )
    .pagemap_gone(PGMAP0);
    let dash = dashboard(&s2.build());
    let row = &dash.frame().rows[0];
    assert_eq!(
        (row.kind.as_str(), row.holder.as_str()),
        ("fsdax", "(gone)")
    );
}
