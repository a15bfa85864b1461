//! Waits on the dashboard: the detail pane's histogram, the waits it lists
//! (finished, in progress, stuck) and the busy pages they wait on.
use crate::collector::Collector;
use crate::event::Event;
use crate::testkit::fixture::{DAX0, PMEM0, Script, XFS_MOUNT};
use crate::testkit::synthetic;
use crate::tui::model::app::Action;
use crate::tui::run::dashboard::{Clock, Dashboard};

fn dashboard(events: &[Event]) -> Dashboard<Collector> {
    let mut dash = Dashboard::new(Collector::default(), synthetic::session(), Clock::Trace);
    for event in events {
        dash.ingest(event);
    }
    dash.refresh();
    dash.apply(Action::ToggleDetail);
    dash
}

/// pmem0 claimed by xfs.
fn mounted() -> Script {
    let mut s = Script::default();
    s.claim(DAX0, XFS_MOUNT, PMEM0, "pmem0");
    s
}

#[test]
fn the_histogram_tells_waits_a_decade_would_lump_together() {
    let mut s = mounted();
    s.by(530, "truncate");
    for latency in [1_200_000, 3_000_000, 7_000_000] {
        s.wait_begin(PMEM0, 12).wait_end(PMEM0, 12, latency, None);
    }
    let dash = dashboard(&s.build());
    let detail = dash.frame().detail.as_ref().expect("pmem0 is selected");
    let h = &detail.histogram;
    let filled: Vec<String> = (0..h.counts.len())
        .filter(|&i| h.counts[i] > 0)
        .map(|i| format!("{} {}", h.label(i), h.counts[i]))
        .collect();
    assert_eq!(filled, ["<2.0ms 1", "<5.0ms 1", "<10ms 1"]);
}

#[test]
fn a_page_busy_at_start_leaves_the_busy_pane_once_it_goes_idle() {
    use crate::testkit::fixture::PGMAP0;
    let mut s = Script::xfs_mounted_at_start();
    s.state_busy(PGMAP0, 0x40010, PMEM0, 12, 0, 2)
        .state_busy(PGMAP0, 0x40011, PMEM0, 12, 1, 2)
        .state_end(0, crate::testkit::fixture_state::ALL_SOURCES);
    let busy = |events: &[Event]| {
        let dash = dashboard(events);
        let d = dash.frame().detail.clone().expect("pmem0 is selected");
        let pfns: Vec<(u64, u64)> = d
            .busy_at_start
            .iter()
            .map(|b| (b.pfn, b.refcount))
            .collect();
        (pfns, d.busy_at_start_total)
    };
    assert_eq!(busy(&s.build()), (vec![(0x40010, 2), (0x40011, 2)], 2));
    s.idle(PGMAP0, 0x40010);
    assert_eq!(busy(&s.build()), (vec![(0x40011, 2)], 1));
}

#[test]
fn the_detail_pane_shows_a_wait_in_progress_before_and_after_it_is_stuck() {
    let mut s = mounted();
    s.by(583, "truncate").wait_begin(PMEM0, 12);
    // Half a second later: still waiting, nothing stuck yet.
    s.ts_ns += 500_000_000;
    s.by(1, "swapper/0").fault(PMEM0, false);
    let dash = dashboard(&s.build());
    let waits = &dash.frame().detail.as_ref().expect("pmem0").waits;
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].who, "truncate[583]");
    assert_eq!(waits[0].ino, 12);
    assert_eq!(waits[0].waited_ns, 501_000_000);
    assert!(!waits[0].stuck);
    insta::assert_snapshot!("wait_in_progress", super::screen(&dash));

    s.stuck(0, 0x40010, PMEM0, 12, 583);
    let dash = dashboard(&s.build());
    let waits = &dash.frame().detail.as_ref().expect("pmem0").waits;
    assert!(waits[0].stuck, "{waits:?}");
    insta::assert_snapshot!("wait_stuck", super::screen(&dash));

    s.by(583, "truncate")
        .wait_end(PMEM0, 12, 1_503_000_000, None);
    let dash = dashboard(&s.build());
    assert!(
        dash.frame()
            .detail
            .as_ref()
            .expect("pmem0")
            .waits
            .is_empty()
    );
}

#[test]
fn the_detail_pane_shows_flushes_to_the_host() {
    let mut s = mounted();
    s.by(77, "kworker/0:2");
    for latency in [1_000_000, 3_000_000] {
        s.flush(PMEM0, latency, 0);
    }
    let dash = dashboard(&s.build());
    let detail = dash.frame().detail.clone().expect("pmem0 is selected");
    let line = detail.flushes.expect("a flush line");
    assert!(line.starts_with("2, p50 "), "{line}");
    assert!(line.contains("max 3.0ms"), "{line}");
    assert!(mounted_detail_has_no_flushes());
}

fn mounted_detail_has_no_flushes() -> bool {
    let dash = dashboard(&mounted().build());
    dash.frame()
        .detail
        .clone()
        .is_some_and(|d| d.flushes.is_none())
}
