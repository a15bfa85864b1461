//! check on traces that begin with a state at start: pre-existing claims and
//! waits are named as such and never judged as the trace's doing.
use super::super::*;
use crate::event::{Dev, Event};
use crate::testkit::fixture::*;
use crate::testkit::fixture_state::*;

fn verdict(events: &[Event], opts: &CheckOptions) -> Verdict {
    let mut c = Collector::new(opts.collector_config());
    for e in events {
        c.ingest(e);
    }
    judge(&c, opts, "state.dxt")
}

fn assertion<'v>(v: &'v Verdict, id: &str) -> &'v Assertion {
    v.assertions
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("no assertion {id}"))
}

#[test]
fn mounted_before_and_released_during_passes_and_says_so() {
    let mut s = Script::xfs_mounted_before();
    s.by(200, "umount").release(DAX0, XFS_MOUNT);
    let v = verdict(&s.build(), &CheckOptions::default());
    assert_eq!(v.outcome, Outcome::Pass, "{}", render::text(&v));
    assert_eq!(v.pre_existing.len(), 1, "{:?}", v.pre_existing);
    let line = &v.pre_existing[0];
    assert!(
        line.starts_with("pmem0 (259:0): claim with holder"),
        "{line}"
    );
    assert!(
        line.contains("(xfs on /mnt/x) held since before the trace"),
        "{line}"
    );
    assert!(line.contains("released by umount[200]"), "{line}");
    assert!(v.notes[0].starts_with("the trace begins with the state at start"));
    let text = render::text(&v);
    assert!(
        text.contains("pre-existing state (found at attach, not judged)"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&render::json(&v)).expect("json");
    assert_eq!(json["pre_existing"][0], line.as_str());
    let junit = render::junit(&v);
    assert!(
        junit.contains("<property name=\"pre-existing\" value=\"pmem0 (259:0): claim"),
        "{junit}"
    );
    assert!(
        junit.contains("<system-out>pre-existing (not judged): pmem0"),
        "{junit}"
    );
}

#[test]
fn held_throughout_passes_as_held_since_before_the_trace() {
    let v = verdict(
        &Script::xfs_mounted_before().build(),
        &CheckOptions::default(),
    );
    assert_eq!(v.outcome, Outcome::Pass, "{}", render::text(&v));
    assert_eq!(assertion(&v, "claims-released").status, Status::Pass);
    assert!(
        v.pre_existing[0]
            .ends_with("held since before the trace, still held at the end (not a leak)"),
        "{:?}",
        v.pre_existing
    );
}

#[test]
fn a_release_the_state_proves_unheld_still_fails() {
    // pmem1's dax_device was in the state, with no claim on it.
    let mut s = Script::default();
    s.state_dax(DAX0, PMEM0, "pmem0", XFS_MOUNT, 1, true)
        .state_dax(DAXDM, Dev::new(259, 1), "pmem1", 0, 0, true)
        .state_end(0, ALL_SOURCES)
        .by(400, "umount")
        .release(DAXDM, 0);
    let v = verdict(&s.build(), &CheckOptions::default());
    assert_eq!(v.outcome, Outcome::Fail);
    let details = &assertion(&v, "no-release-without-claim").details;
    assert!(
        details[0].ends_with("matches no open claim (the state at start shows it was not held)"),
        "{details:?}"
    );
    assert!(
        details[0].starts_with("pmem1 (259:1): release by umount[400]"),
        "{details:?}"
    );
}

#[test]
fn a_release_of_a_device_missing_from_the_state_fails() {
    let mut s = Script::xfs_mounted_before();
    s.by(400, "umount").release(DAXDM, 0);
    let v = verdict(&s.build(), &CheckOptions::default());
    let details = &assertion(&v, "no-release-without-claim").details;
    assert!(
        details[0].contains("(the state at start shows it was not held)"),
        "{details:?}"
    );
    // Without dax devices among the sources, the state cannot tell.
    let mut s = Script::default();
    s.state_end(
        0,
        ALL_SOURCES & !dax_trace_common::payload::state_bits::DAX_DEVICES,
    )
    .release(DAXDM, 0);
    let v = verdict(&s.build(), &CheckOptions::default());
    let details = &assertion(&v, "no-release-without-claim").details;
    assert!(
        details[0].contains("could not list dax devices"),
        "{details:?}"
    );
    assert!(
        v.notes[0].contains("not available here: dax-devices"),
        "{:?}",
        v.notes
    );
}

#[test]
fn a_stuck_wait_found_at_attach_fails_naming_the_waiter_page_and_inode() {
    let mut s = Script::xfs_mounted_before();
    s.state_wait(
        530,
        "truncate",
        PGMAP0,
        0x409a0,
        PMEM0,
        40,
        3_000_000_000,
        false,
    );
    let since = s.ts_ns - 3_000_000_000;
    s.stuck_at_attach(530, "truncate", PGMAP0, 0x409a0, PMEM0, 40, since);
    let v = verdict(&s.build(), &CheckOptions::default());
    assert_eq!(v.outcome, Outcome::Fail);
    let stuck = &assertion(&v, "no-stuck-waits").details;
    assert_eq!(stuck.len(), 1);
    assert!(
        stuck[0].starts_with(
            "pmem0 (259:0): truncate[530] sleeps on idle pfn 0x409a0 (inode 40, refcount 1) since before the trace (found at attach), still asleep at least"
        ),
        "{stuck:?}"
    );
    assert!(
        v.pre_existing
            .iter()
            .any(|l| l.contains("truncate[530] was waiting on pfn 0x409a0 (inode 40) at attach")),
        "{:?}",
        v.pre_existing
    );
}

#[test]
fn a_wait_in_progress_at_attach_that_ends_passes() {
    let mut s = Script::xfs_mounted_before();
    s.state_wait(
        530, "truncate", PGMAP0, 0x409a0, PMEM0, 40, 2_000_000, false,
    )
    .state_wait(530, "truncate", PGMAP0, 0x409a0, PMEM0, 40, 0, true);
    let opts = CheckOptions {
        max_wait_ns: Some(1_000_000_000),
        ..CheckOptions::default()
    };
    let v = verdict(&s.build(), &opts);
    assert_eq!(v.outcome, Outcome::Pass, "{}", render::text(&v));
    assert!(
        v.pre_existing.iter().any(|l| l
            .contains("truncate[530] waiting on inode 40 since before the trace stopped waiting")),
        "{:?}",
        v.pre_existing
    );
    // Its latency is a lower bound, and still judged by --max-wait.
    let strict = CheckOptions {
        max_wait_ns: Some(1_000_000),
        ..CheckOptions::default()
    };
    let v = verdict(&s.build(), &strict);
    let slow = &assertion(&v, "max-wait").details;
    assert!(slow[0].contains("waited at least 3.000 ms"), "{slow:?}");
}

#[test]
fn dev_filters_apply_to_pre_existing_state() {
    let opts = CheckOptions {
        devices: vec!["pmem1".to_string()],
        ..CheckOptions::default()
    };
    let v = verdict(&Script::xfs_mounted_before().build(), &opts);
    assert!(v.pre_existing.is_empty(), "{:?}", v.pre_existing);
    let opts = CheckOptions {
        devices: vec!["pmem0".to_string()],
        ..CheckOptions::default()
    };
    assert_eq!(
        verdict(&Script::xfs_mounted_before().build(), &opts)
            .pre_existing
            .len(),
        1
    );
}

/// Everything at once: a claim held throughout, one released during the
/// trace, a wait found asleep that stays stuck.
fn golden() -> Vec<Event> {
    let mut s = Script::xfs_mounted_at_start();
    s.state_dax(DAXDM, DM0, "dm-0", 0, 1, true).state_wait(
        530,
        "truncate",
        PGMAP0,
        0x409a0,
        PMEM0,
        40,
        3_000_000_000,
        false,
    );
    let since = s.ts_ns - 3_000_000_000;
    s.state_end(
        0,
        ALL_SOURCES & !dax_trace_common::payload::state_bits::CENSUS,
    )
    .stuck_at_attach(530, "truncate", PGMAP0, 0x409a0, PMEM0, 40, since)
    .by(200, "umount")
    .release(DAX0, XFS_MOUNT);
    s.build()
}

#[test]
fn golden_text() {
    insta::assert_snapshot!(render::text(&verdict(&golden(), &CheckOptions::default())));
}

#[test]
fn golden_junit() {
    insta::assert_snapshot!(render::junit(&verdict(&golden(), &CheckOptions::default())));
}
