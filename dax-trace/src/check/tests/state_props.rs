//! Property tests of claims held at start: any interleaving of their
//! releases with claims made during the trace balances.
use crate::check::{CheckOptions, Status, Verdict};
use crate::collector::*;
use crate::event::Event;
use crate::testkit::fixture::*;
use crate::testkit::fixture_state::*;
use proptest::prelude::*;

fn judge(c: &Collector) -> Verdict {
    crate::check::judge(c, &CheckOptions::default(), "prop.dxt")
}

fn status(v: &Verdict, id: &str) -> Status {
    v.assertions
        .iter()
        .find(|a| a.id == id)
        .map_or(Status::Skipped, |a| a.status)
}

fn fold(events: &[Event]) -> Collector {
    let mut c = Collector::default();
    for e in events {
        c.ingest(e);
    }
    c
}

/// A state at start with `held` holderless claims on pmem0 (plus the
/// xfs holder's when `with_holder`), then, in an order given by
/// `order`, `releases` releases of them mixed with claim/release pairs
/// made during the trace.
fn trace(held: u32, with_holder: bool, releases: u32, order: &[bool], state: bool) -> Vec<Event> {
    let mut s = Script::default();
    if state {
        let holder = if with_holder { XFS_MOUNT } else { 0 };
        s.state_dax(
            DAX0,
            PMEM0,
            "pmem0",
            holder,
            held + u32::from(with_holder),
            true,
        )
        .state_end(0, ALL_SOURCES);
    }
    let (mut left, mut holder_left) = (releases, with_holder);
    let mut during = 0u64;
    for &pair in order {
        if pair {
            let h = XFS_MOUNT2 + during;
            during += 1;
            s.claim(DAX0, h, PMEM0, "pmem0").release(DAX0, h);
        } else if holder_left {
            holder_left = false;
            s.release(DAX0, XFS_MOUNT);
        } else if left > 0 {
            left -= 1;
            s.release(DAX0, 0);
        }
    }
    for _ in 0..left {
        s.release(DAX0, 0);
    }
    if holder_left {
        s.release(DAX0, XFS_MOUNT);
    }
    s.build()
}

proptest! {
    #[test]
    fn releases_of_claims_held_at_start_never_leak_or_go_unmatched(
        held in 0u32..6,
        with_holder in any::<bool>(),
        extra in 0u32..6,
        order in proptest::collection::vec(any::<bool>(), 0..24),
    ) {
        let releases = extra.min(held);
        let c = fold(&trace(held, with_holder, releases, &order, true));
        prop_assert!(c.leaks().is_empty());
        prop_assert!(c.findings().unmatched_releases.is_empty());
        prop_assert!(c.findings().double_claims.is_empty());
        let d = c.device_by_dax(DAX0).expect("pmem0");
        prop_assert_eq!(c.held_since_start().len() as u32, held - releases);
        prop_assert_eq!(
            d.balance.pre_existing_released,
            u64::from(releases + u32::from(with_holder))
        );
        // And check, on the same state, passes both claim assertions.
        let v = judge(&c);
        prop_assert_eq!(status(&v, "claims-released"), Status::Pass);
        prop_assert_eq!(status(&v, "no-release-without-claim"), Status::Pass);
        let still_held = v.pre_existing.iter().filter(|l| l.ends_with("(not a leak)")).count();
        prop_assert_eq!(still_held as u32, held - releases);
    }

    #[test]
    fn without_a_state_at_start_the_same_releases_are_unmatched(
        held in 1u32..6,
        with_holder in any::<bool>(),
        order in proptest::collection::vec(any::<bool>(), 0..24),
    ) {
        let c = fold(&trace(held, with_holder, held, &order, false));
        prop_assert!(c.leaks().is_empty());
        prop_assert!(c.held_since_start().is_empty());
        prop_assert_eq!(
            c.findings().unmatched_releases.count,
            u64::from(held + u32::from(with_holder))
        );
        let v = judge(&c);
        prop_assert_eq!(status(&v, "no-release-without-claim"), Status::Fail);
        prop_assert!(v.pre_existing.is_empty() && v.notes.is_empty());
    }
}
