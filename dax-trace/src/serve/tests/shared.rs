//! The exporter over a collector fed only a state at start: devices known
//! from it are series from the first scrape, with their pages, open claims
//! and pagemap info; page owners and refused long-term pins.
use super::super::exposition::{Format, render};
use super::super::families::Families;
use super::super::process::ProcessFigures;
use super::super::scrape::Scrape;
use super::super::shared::{Mode, Shared};
use crate::testkit::fixture::{DAX0, DAXDM, DM0, PGMAP0, PMEM0, Script, XFS_MOUNT};
use crate::testkit::fixture_state::{ALL_SOURCES, PMEM0_PAGES};
use crate::testkit::synthetic;

fn scrape(events: &[crate::event::Event]) -> String {
    let shared = Shared::new(synthetic::session(), Mode::Replay);
    {
        let mut state = shared.lock();
        let state = &mut *state;
        for e in events {
            state.outcomes.ingest(&mut state.collector, e);
        }
    }
    let scrape = Scrape::take(&shared.lock());
    render(
        Families {
            scrape,
            process: ProcessFigures::default(),
            programs: Default::default(),
        },
        Format::PrometheusText,
    )
    .expect("renders")
}

#[test]
fn devices_known_only_from_the_state_at_start_are_exported() {
    let mut s = Script::default();
    s.state_pagemap(PGMAP0, 0x40000, PMEM0_PAGES, PMEM0, "pmem0", "namespace0.0")
        .state_dax(DAX0, PMEM0, "pmem0", XFS_MOUNT, 1, true)
        .state_dax(DAXDM, DM0, "dm-0", 0, 1, true)
        .state_mount(PMEM0, "pmem0", "xfs", "/mnt/x", true)
        .state_end(0, ALL_SOURCES);
    let text = scrape(&s.build());
    for series in [
        format!("daxtrace_pagemap_pages{{device=\"pmem0\"}} {PMEM0_PAGES}"),
        "daxtrace_claims_open{device=\"pmem0\"} 1".to_string(),
        "daxtrace_claims_open{device=\"dm-0\"} 1".to_string(),
        "daxtrace_pagemap_info{device=\"pmem0\",memory_type=\"3\",fs_dax=\"true\"} 1".to_string(),
    ] {
        assert!(text.contains(&series), "no {series} in\n{text}");
    }
    assert!(!text.contains("device=\"other\""), "{text}");
}

#[test]
fn open_page_owners_and_refused_long_term_pins_are_exported() {
    use dax_trace_common::probe::idx::PIN_USER_PAGES_FAST;
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x40000, 0x60000)
        .claim(DAX0, 0, PMEM0, "pmem0")
        .by(700, "truncate")
        .busy(PGMAP0, 0x40010, PMEM0, 12);
    let since = s.ts_ns - 1_000;
    s.by(585, "fio")
        .pin_owner(PGMAP0, 0x40010, PIN_USER_PAGES_FAST, since, 0)
        .by(586, "fio")
        .pin_owner(PGMAP0, 0x40010, PIN_USER_PAGES_FAST, since, 0)
        .by(0, "swapper/0")
        .pin_release(0x40010, 585, since, false)
        .by(640, "uring_fixed")
        .refused_pin("/mnt/pmem0/ring.buf", 64, 0)
        .refused_pin("/mnt/pmem0/ring.buf", 64, 0)
        .refused_pin("/mnt/pmem0/other", 1, 0);
    let text = scrape(&s.build());
    for series in [
        "daxtrace_pin_owners{device=\"pmem0\"} 1",
        "daxtrace_longterm_pins_refused_total 3",
    ] {
        assert!(text.contains(series), "no {series} in\n{text}");
    }
}
