mod at_start;
mod orphans;
mod pins;
mod state_props;
use super::*;
use crate::event::Event;
use crate::testkit::fixture::*;

fn fold(events: &[Event], opts: &CheckOptions) -> Collector {
    let mut c = Collector::new(opts.collector_config());
    for e in events {
        c.ingest(e);
    }
    c
}

/// ext4 and xfs mount cycles on pmem0, a DMA-vs-truncate wait that ends.
fn balanced() -> Vec<Event> {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(100, "mount")
        .claim(DAX0, 0, PMEM0, "pmem0")
        .fault(PMEM0, false)
        .fault(PMEM0, true)
        .by(150, "truncate")
        .wait_begin(PMEM0, 12)
        .busy(PGMAP0, 0x240010, PMEM0, 12)
        .idle(PGMAP0, 0x240010)
        .wait_end(PMEM0, 12, 2_500_000, Some(0x240010))
        .by(101, "umount")
        .release(DAX0, 0)
        .by(102, "mount")
        .claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .by(103, "umount")
        .release(DAX0, XFS_MOUNT);
    s.build()
}

/// Everything that can go wrong, on pmem0 and dm-0.
fn unbalanced() -> Vec<Event> {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(321, "mount")
        .claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .by(322, "mount")
        .claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .by(400, "umount")
        .release(DAXDM, 0)
        .by(150, "truncate")
        .wait_begin(PMEM0, 12)
        .busy(PGMAP0, 0x240010, PMEM0, 12)
        .wait_end(PMEM0, 12, 45_000_000, Some(0x240010))
        .by(151, "fallocate")
        .wait_begin(PMEM0, 13)
        .busy(PGMAP0, 0x240020, PMEM0, 13)
        .by(0, "swapper/0")
        .stuck(PGMAP0, 0x240020, PMEM0, 13, 151)
        .drops(22, 2);
    s.build()
}

fn verdict(events: &[Event], opts: &CheckOptions) -> Verdict {
    judge(&fold(events, opts), opts, "fixture.dxt")
}

fn status(v: &Verdict, id: &str) -> Status {
    v.assertions
        .iter()
        .find(|a| a.id == id)
        .map(|a| a.status)
        .unwrap_or_else(|| panic!("no assertion {id}"))
}

#[test]
fn balanced_trace_passes() {
    let v = verdict(&balanced(), &CheckOptions::default());
    assert_eq!(v.outcome, Outcome::Pass, "{}", render::text(&v));
    assert_eq!(v.outcome.exit_code(), 0);
    assert_eq!(status(&v, "max-wait"), Status::Skipped);
}

#[test]
fn unbalanced_trace_fails_every_assertion() {
    let opts = CheckOptions {
        max_wait_ns: Some(10_000_000),
        devices: Vec::new(),
        ..CheckOptions::default()
    };
    let v = verdict(&unbalanced(), &opts);
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(v.outcome.exit_code(), 1);
    for id in [
        "claims-released",
        "no-release-without-claim",
        "no-double-claim",
        "max-wait",
        "no-stuck-waits",
    ] {
        assert_eq!(status(&v, id), Status::Fail, "{id}");
    }
    assert_eq!(status(&v, "no-dropped-events"), Status::Inconclusive);
    let leaks = &v.assertions[0].details;
    assert_eq!(leaks.len(), 2, "both claims of the doubled holder are open");
    assert!(leaks[0].contains("pmem0 (259:0)"), "{}", leaks[0]);
    assert!(leaks[0].contains("mount[321]"), "{}", leaks[0]);
}

#[test]
fn drops_alone_make_the_verdict_inconclusive() {
    let mut events = balanced();
    let mut s = Script {
        ts_ns: events.last().map_or(0, |e| e.ts_ns),
        ..Script::default()
    };
    s.drops(3, 0).drops(24, 7);
    events.extend(s.build());
    let v = verdict(&events, &CheckOptions::default());
    assert_eq!(v.outcome, Outcome::Inconclusive);
    assert_eq!(v.outcome.exit_code(), 2);
    let drops = v
        .assertions
        .iter()
        .find(|a| a.id == "no-dropped-events")
        .expect("drops assertion");
    assert_eq!(drops.details.len(), 1, "zero totals are not drops");
}

#[test]
fn a_full_map_outside_pin_tracking_makes_the_verdict_inconclusive() {
    use dax_trace_common::{Loss, probe::idx};
    let verdict_with = |point: u16, reason: Loss| {
        let mut events = balanced();
        let mut s = Script {
            ts_ns: events.last().map_or(0, |e| e.ts_ns),
            ..Script::default()
        };
        s.losses(point, reason, 2);
        events.extend(s.build());
        verdict(&events, &CheckOptions::default())
    };
    // A stash insert that failed at fs_put_dax can hide a release.
    let v = verdict_with(idx::FS_PUT_DAX, Loss::MapFull);
    assert_eq!(v.outcome, Outcome::Inconclusive);
    let drops = v
        .assertions
        .iter()
        .find(|a| a.id == "no-dropped-events")
        .expect("drops assertion");
    assert_eq!(drops.details, ["2 map-full at fs_put_dax (point 9)"]);
    // Owner slots and stacks only cost attribution.
    for (point, reason) in [
        (idx::GET_USER_PAGES_FAST, Loss::OwnerOverflow),
        (idx::GET_USER_PAGES_FAST, Loss::MapFull),
        (idx::FS_DAX_GET_BY_BDEV, Loss::StackLost),
        (idx::GET_DEV_PAGEMAP, Loss::OwnerEvicted),
    ] {
        let v = verdict_with(point, reason);
        assert_eq!(v.outcome, Outcome::Pass, "{reason:?} at {point}");
    }
    // A waiter's page pushed out of its watch slot: a lost wakeup on it
    // could not be seen, so no stuck wait is no proof.
    let v = verdict_with(idx::DAX_LAYOUT_BUSY_PAGE_RANGE, Loss::WatchReplaced);
    assert_eq!(v.outcome, Outcome::Inconclusive);
    assert_eq!(status(&v, "no-stuck-waits"), Status::Inconclusive);
    let stuck = v
        .assertions
        .iter()
        .find(|a| a.id == "no-stuck-waits")
        .expect("stuck-wait assertion");
    assert!(
        stuck.details[0].starts_with("2 pages waiters slept on"),
        "{:?}",
        stuck.details
    );
}

#[test]
fn max_wait_limit_is_inclusive_and_only_counts_longer_waits() {
    let events = balanced(); // one 2.5 ms wait
    let under = CheckOptions {
        max_wait_ns: Some(2_500_001),
        ..CheckOptions::default()
    };
    assert_eq!(verdict(&events, &under).outcome, Outcome::Pass);
    let at = CheckOptions {
        max_wait_ns: Some(2_500_000),
        ..CheckOptions::default()
    };
    assert_eq!(status(&verdict(&events, &at), "max-wait"), Status::Fail);
}

#[test]
fn open_wait_longer_than_the_limit_fails() {
    let mut s = Script::default();
    s.by(9, "truncate").wait_begin(PMEM0, 5);
    for _ in 0..20 {
        s.fault(PMEM0, false); // 1 ms apart: the wait is 20 ms old at the end
    }
    let opts = CheckOptions {
        max_wait_ns: Some(10_000_000),
        ..CheckOptions::default()
    };
    let v = verdict(&s.build(), &opts);
    assert_eq!(status(&v, "max-wait"), Status::Fail);
    let a = v
        .assertions
        .iter()
        .find(|a| a.id == "max-wait")
        .expect("max-wait");
    assert!(a.details[0].contains("still waiting"), "{:?}", a.details);
}

#[test]
fn dev_filter_keeps_only_that_device() {
    let mut s = Script::default();
    s.claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .claim(DAXDM, 0, DM0, "dm-0")
        .release(DAXDM, 0);
    let events = s.build();
    let only_dm = CheckOptions {
        devices: vec!["dm-0".into()],
        ..CheckOptions::default()
    };
    assert_eq!(verdict(&events, &only_dm).outcome, Outcome::Pass);
    for name in ["pmem0", "259:0"] {
        let only_pmem = CheckOptions {
            devices: vec![name.into()],
            ..CheckOptions::default()
        };
        let v = verdict(&events, &only_pmem);
        assert_eq!(v.outcome, Outcome::Fail, "{name}");
        assert_eq!(v.assertions[0].details.len(), 1);
    }
}

#[test]
fn dev_filter_naming_an_unseen_device_is_inconclusive() {
    let opts = CheckOptions {
        devices: vec!["pmem7".into()],
        ..CheckOptions::default()
    };
    let v = verdict(&balanced(), &opts);
    assert_eq!(v.outcome, Outcome::Inconclusive);
    assert_eq!(status(&v, "devices-present"), Status::Inconclusive);
}

#[test]
fn empty_trace_is_inconclusive() {
    let v = verdict(&[], &CheckOptions::default());
    assert_eq!(v.outcome, Outcome::Inconclusive);
}

#[test]
fn a_pushed_failure_fails_and_fail_outranks_inconclusive() {
    let mut v = verdict(&balanced(), &CheckOptions::default());
    v.push(Assertion {
        id: "trace-complete".into(),
        title: "t".into(),
        status: Status::Inconclusive,
        details: vec!["cut".into()],
    });
    assert_eq!(v.outcome, Outcome::Inconclusive);
    v.push(Assertion {
        id: "x".into(),
        title: "t".into(),
        status: Status::Fail,
        details: vec!["bad".into()],
    });
    assert_eq!(v.outcome, Outcome::Fail);
}

#[test]
fn a_flight_window_leaves_the_history_open_and_fails_on_what_it_holds() {
    let window = || {
        let header = crate::trace::Header::new(
            crate::testkit::synthetic::session(),
            vec![format!("{}stuck-wait", crate::trace::FLIGHT_WINDOW)],
        );
        super::session::trace_window(&header).expect("a window")
    };
    // A release whose claim lay before the window: not a failure.
    let mut s = Script::default();
    s.release(DAXDM, 0);
    let mut v = verdict(&s.build(), &CheckOptions::default());
    assert_eq!(status(&v, "no-release-without-claim"), Status::Fail);
    v.push(window());
    assert_eq!(status(&v, "no-release-without-claim"), Status::Inconclusive);
    assert_eq!(v.outcome, Outcome::Inconclusive);
    // A stuck wait in the window is one whatever came before.
    let mut v = verdict(
        &crate::testkit::synthetic::scenario(),
        &CheckOptions::default(),
    );
    assert_eq!(status(&v, "no-stuck-waits"), Status::Fail);
    v.push(window());
    assert_eq!(status(&v, "no-stuck-waits"), Status::Fail);
    assert_eq!(v.outcome, Outcome::Fail);
}

#[test]
fn junit_escapes_markup() {
    let mut s = Script::default();
    s.by(1, "<a&b>").claim(DAX0, 0, PMEM0, "pmem0");
    let v = verdict(&s.build(), &CheckOptions::default());
    let xml = render::junit(&v);
    assert!(xml.contains("&lt;a&amp;b&gt;[1]"), "{xml}");
    assert!(!xml.contains("<a&b>"));
}

#[test]
fn release_of_a_device_never_claimed_names_it_by_pointer() {
    let mut s = Script::default();
    s.release(DAXDM, 0);
    let v = verdict(&s.build(), &CheckOptions::default());
    let a = &v.assertions[1];
    assert_eq!(a.status, Status::Fail);
    assert!(
        a.details[0].starts_with("dax_dev 0xffff888000003000"),
        "{}",
        a.details[0]
    );
}

mod golden {
    use super::*;

    fn strict() -> CheckOptions {
        CheckOptions {
            max_wait_ns: Some(10_000_000),
            devices: Vec::new(),
            ..CheckOptions::default()
        }
    }

    #[test]
    fn balanced_text() {
        insta::assert_snapshot!(render::text(&verdict(&balanced(), &strict())));
    }
    #[test]
    fn balanced_json() {
        insta::assert_snapshot!(render::json(&verdict(&balanced(), &strict())));
    }
    #[test]
    fn balanced_junit() {
        insta::assert_snapshot!(render::junit(&verdict(&balanced(), &strict())));
    }
    #[test]
    fn unbalanced_text() {
        insta::assert_snapshot!(render::text(&verdict(&unbalanced(), &strict())));
    }
    #[test]
    fn unbalanced_json() {
        insta::assert_snapshot!(render::json(&verdict(&unbalanced(), &strict())));
    }
    #[test]
    fn unbalanced_junit() {
        insta::assert_snapshot!(render::junit(&verdict(&unbalanced(), &strict())));
    }
}

#[test]
fn a_leak_that_a_lost_release_could_explain_is_inconclusive() {
    let opts = CheckOptions::default();
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(321, "mount")
        .claim(DAX0, XFS_MOUNT, PMEM0, "pmem0");
    let leak = verdict(&s.build(), &opts);
    assert_eq!(status(&leak, "claims-released"), Status::Fail);
    // The same trace where the kernel dropped a release (fs_put_dax, point 9).
    s.drops(dax_trace_common::probe::idx::FS_PUT_DAX, 1);
    let lost = verdict(&s.build(), &opts);
    assert_eq!(status(&lost, "claims-released"), Status::Inconclusive);
    let details = &lost.assertions[0].details;
    assert!(
        details.iter().any(|d| d.contains("1 releases were lost")),
        "{details:?}"
    );
    // Drops elsewhere (faults) do not excuse a leak.
    let mut f = Script::default();
    f.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(321, "mount")
        .claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .drops(dax_trace_common::probe::idx::PTE_FAULT_DONE, 5000);
    assert_eq!(
        status(&verdict(&f.build(), &opts), "claims-released"),
        Status::Fail
    );
}

#[test]
fn a_claim_open_where_the_trace_was_cut_is_inconclusive() {
    use crate::trace::End;
    let opts = CheckOptions::default();
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(321, "mount")
        .claim(DAX0, XFS_MOUNT, PMEM0, "pmem0");
    let mut complete = verdict(&s.build(), &opts);
    complete.push(super::session::trace_complete(&End::Complete));
    assert_eq!(status(&complete, "claims-released"), Status::Fail);
    assert_eq!(complete.outcome, Outcome::Fail);

    for cut in [
        super::session::trace_complete(&End::Truncated {
            offset: 4096,
            reason: "cut".into(),
        }),
        super::session::capture_cut_short("interrupted by SIGINT"),
    ] {
        let mut v = verdict(&s.build(), &opts);
        v.push(cut);
        assert_eq!(status(&v, "claims-released"), Status::Inconclusive);
        assert_eq!(v.outcome, Outcome::Inconclusive);
        let details = &v.assertions[0].details;
        assert!(
            details
                .iter()
                .any(|d| d.contains("releases may lie after it")),
            "{details:?}"
        );
    }
}
