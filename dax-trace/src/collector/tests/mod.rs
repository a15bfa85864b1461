mod at_start;
mod faults;
mod pins;
use super::*;
use crate::event::{
    BusyPage, Claim, ClaimApi, DaxAddHost, DaxAlloc, DaxKill, DmAccess, DmMember, MemoryFailure,
    Release,
};
use crate::testkit::fixture::*;

fn fold(events: &[Event]) -> Collector {
    let mut c = Collector::default();
    for e in events {
        c.ingest(e);
    }
    c
}

#[test]
fn xfs_mount_cycle_balances_with_holder() {
    let mut s = Script::default();
    s.claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .by(200, "umount")
        .release(DAX0, XFS_MOUNT);
    let c = fold(&s.build());
    let d = c.device_by_name("pmem0").expect("pmem0 known");
    assert_eq!(d.identity.dax_dev, DAX0);
    assert_eq!(d.identity.bdev, PMEM0);
    assert_eq!(d.balance.claims, 1);
    assert_eq!(d.balance.releases, 1);
    assert!(d.open_claims.is_empty());
    assert!(c.leaks().is_empty());
    let rec = d.history.iter().next().expect("one claim recorded");
    assert_eq!(
        rec.released.as_ref().map(|a| a.comm.as_str()),
        Some("umount")
    );
}

#[test]
fn leak_names_device_holder_and_claimer() {
    let mut s = Script::default();
    s.by(321, "mount").claim(DAX0, XFS_MOUNT, PMEM0, "pmem0");
    let c = fold(&s.build());
    let leaks = c.leaks();
    assert_eq!(leaks.len(), 1);
    assert_eq!(leaks[0].identity.disk, "pmem0");
    assert_eq!(leaks[0].claim.holder, XFS_MOUNT);
    assert_eq!(leaks[0].claim.by.pid, 321);
    assert_eq!(
        c.device_by_name("259:0").map(|d| d.id),
        Some(leaks[0].device)
    );
    assert_eq!(
        c.device_by_dax(DAX0)
            .and_then(|d| d.current_holder())
            .map(|h| h.holder),
        Some(XFS_MOUNT)
    );
}

#[test]
fn refused_claim_is_counted_but_not_open() {
    let mut s = Script::default();
    s.claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .refused(XFS_MOUNT2, PMEM0, "pmem0")
        .release(DAX0, XFS_MOUNT);
    let c = fold(&s.build());
    let d = c.device_by_dax(DAX0).expect("known");
    assert_eq!(d.balance.refused, 1);
    assert_eq!(d.balance.claims, 1);
    assert!(c.leaks().is_empty());
    assert!(c.findings().double_claims.is_empty());
    assert_eq!(
        c.devices().count(),
        1,
        "refused claim found the device by bdev"
    );
}

/// `dmsetup remove` on 6.1, as recorded in the VM: the member's claim is
/// released by `put_dax`, then dm kills its own dax_device and drops its
/// last reference with another holderless `put_dax`, which matches no claim.
#[test]
fn dm_teardown_put_after_kill_is_not_an_unmatched_release() {
    let mut s = Script::default();
    s.by(470, "dmsetup")
        .push(EventBody::DaxAlloc(DaxAlloc {
            dax_dev: DAXDM,
            private: 1,
        }))
        .push(EventBody::DaxAddHost(DaxAddHost {
            dax_dev: DAXDM,
            disk: "dm-0".into(),
        }))
        .claim(DAX0, 0, PMEM0, "pmem0")
        .push(EventBody::Release(Release {
            dax_dev: DAX0,
            holder: 0,
            api: ClaimApi::PutDax.into(),
            holder_before: 0,
            ..Default::default()
        }))
        .push(EventBody::DaxKill(DaxKill {
            dax_dev: DAXDM,
            holder: 0,
        }))
        .push(EventBody::Release(Release {
            dax_dev: DAXDM,
            holder: 0,
            api: ClaimApi::PutDax.into(),
            holder_before: 0,
            ..Default::default()
        }));
    let c = fold(&s.build());
    assert_eq!(c.findings().unmatched_releases.count, 0);
    let dm = c.device_by_dax(DAXDM).expect("dm device known");
    assert_eq!(dm.balance.owner_puts, 1);
    let pmem = c.device_by_dax(DAX0).expect("member known");
    assert_eq!((pmem.balance.claims, pmem.balance.releases), (1, 1));
}

/// Without the kill, the same holderless put is a release without a claim.
#[test]
fn holderless_put_without_kill_is_still_unmatched() {
    let mut s = Script::default();
    s.push(EventBody::Release(Release {
        dax_dev: DAX0,
        holder: 0,
        api: ClaimApi::PutDax.into(),
        holder_before: 0,
        ..Default::default()
    }));
    let c = fold(&s.build());
    assert_eq!(c.findings().unmatched_releases.count, 1);
}

#[test]
fn release_without_claim_is_found() {
    let mut s = Script::default();
    s.claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .release(DAX0, XFS_MOUNT)
        .release(DAX0, XFS_MOUNT);
    let c = fold(&s.build());
    let f = &c.findings().unmatched_releases;
    assert_eq!(f.count, 1);
    assert_eq!(f.examples[0].identity.disk, "pmem0");
    assert_eq!(f.examples[0].holder, XFS_MOUNT);
}

#[test]
fn release_by_another_holder_does_not_match() {
    let mut s = Script::default();
    s.claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .release(DAX0, XFS_MOUNT2);
    let c = fold(&s.build());
    assert_eq!(c.findings().unmatched_releases.count, 1);
    assert_eq!(c.leaks().len(), 1);
}

#[test]
fn double_claim_by_same_holder_is_found() {
    let mut s = Script::default();
    s.claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .by(555, "mount2")
        .claim(DAX0, XFS_MOUNT, PMEM0, "pmem0");
    let c = fold(&s.build());
    let f = &c.findings().double_claims;
    assert_eq!(f.count, 1);
    assert_eq!(f.examples[0].holder, XFS_MOUNT);
    assert_eq!(f.examples[0].second.pid, 555);
    assert!(f.examples[0].granted);
}

#[test]
fn refused_claim_by_current_holder_is_a_double_claim() {
    let mut s = Script::default();
    s.claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
        .refused(XFS_MOUNT, PMEM0, "pmem0");
    let c = fold(&s.build());
    assert_eq!(c.findings().double_claims.count, 1);
    assert!(!c.findings().double_claims.examples[0].granted);
}

#[test]
fn holderless_claims_pair_by_dax_device() {
    // 5.10: no holders; two lookups of the same device and two puts.
    let mut s = Script::default();
    s.claim(DAX0, 0, PMEM0, "pmem0")
        .claim(DAX0, 0, PMEM0, "pmem0")
        .release(DAX0, 0)
        .release(DAX0, 0);
    let c = fold(&s.build());
    let d = c.device_by_dax(DAX0).expect("known");
    assert_eq!((d.balance.claims, d.balance.releases), (2, 2));
    assert!(
        c.findings().double_claims.is_empty(),
        "no holder, no double claim"
    );
    assert!(c.leaks().is_empty());
}

#[test]
fn page_events_before_claim_fold_into_the_device() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x100000, 0x140000)
        .fault(PMEM0, false)
        .fault(PMEM0, true)
        .claim(DAX0, 0, PMEM0, "pmem0")
        .fault(PMEM0, false);
    let c = fold(&s.build());
    assert_eq!(c.devices().count(), 1);
    let d = c.device_by_dax(DAX0).expect("known");
    assert_eq!(d.faults, FaultCounts { pte: 2, pmd: 1 });
}

#[test]
fn busy_page_links_pagemap_and_device_and_clears_on_idle() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x100000, 0x140000)
        .claim(DAX0, 0, PMEM0, "pmem0")
        .by(300, "truncate")
        .wait_begin(PMEM0, 12)
        .busy(PGMAP0, 0x100010, PMEM0, 12);
    let mut c = fold(&s.build());
    let p = c.pagemap(PGMAP0).expect("pagemap");
    assert_eq!(p.busy.len(), 1);
    let dev_id = c.device_by_dax(DAX0).expect("dev").id;
    assert!(p.devices.contains(&dev_id));
    assert!(c.device(dev_id).expect("dev").pagemaps.contains(&PGMAP0));
    assert_eq!(c.open_waits().count(), 1);

    let mut s2 = Script {
        ts_ns: s.ts_ns,
        ..Script::default()
    };
    s2.by(300, "truncate")
        .idle(PGMAP0, 0x100010)
        .wait_end(PMEM0, 12, 5_000_000, Some(0x100010));
    for e in s2.build() {
        c.ingest(&e);
    }
    let p = c.pagemap(PGMAP0).expect("pagemap");
    assert!(p.busy.is_empty());
    assert_eq!(p.idle_transitions, 1);
    assert_eq!(p.busy_cleared, 1);
    let d = c.device(dev_id).expect("dev");
    assert_eq!(d.waits.latency.count(), 1);
    assert_eq!(d.waits.latency.max_ns(), 5_000_000);
    assert_eq!(c.open_waits().count(), 0);
}

#[test]
fn finished_wait_clears_the_files_busy_pages() {
    let mut s = Script::default();
    s.busy(PGMAP0, 7, PMEM0, 12)
        .busy(PGMAP0, 8, PMEM0, 13)
        .wait_end(PMEM0, 12, 1_000, Some(7));
    let c = fold(&s.build());
    let p = c.pagemap(PGMAP0).expect("pagemap");
    assert_eq!(
        p.busy.keys().copied().collect::<Vec<_>>(),
        vec![8],
        "one page left"
    );
}

#[test]
fn stuck_wait_names_the_waiter() {
    let mut s = Script::default();
    s.by(400, "truncate")
        .wait_begin(PMEM0, 12)
        .busy(PGMAP0, 7, PMEM0, 12)
        .by(0, "swapper/0")
        .stuck(PGMAP0, 7, PMEM0, 12, 400);
    let c = fold(&s.build());
    let f = &c.findings().stuck_waits;
    assert_eq!(f.count, 1);
    let r = &f.examples[0];
    assert_eq!(r.waiter.as_ref().map(|a| a.comm.as_str()), Some("truncate"));
    assert_eq!(r.identity.as_ref().map(|i| i.bdev), Some(PMEM0));
    assert!(c.pagemap(PGMAP0).expect("pagemap").busy[&7].stuck);
}

#[test]
fn slow_waits_are_recorded_against_the_configured_limit() {
    let mut c = Collector::new(CollectorConfig {
        slow_wait_ns: Some(10_000_000),
        ..CollectorConfig::default()
    });
    let mut s = Script::default();
    s.wait_end(PMEM0, 1, 9_999_999, None)
        .wait_end(PMEM0, 2, 10_000_000, None)
        .wait_end(PMEM0, 3, 50_000_000, None);
    for e in s.build() {
        c.ingest(&e);
    }
    assert_eq!(c.findings().slow_waits.count, 2);
    assert_eq!(c.findings().slow_waits.examples[0].record.ino, 2);
}

#[test]
fn dm_access_links_parent_and_member() {
    let mut s = Script::default();
    s.push(EventBody::DmMember(DmMember {
        member_dax_dev: DAX0,
        taken: true.into(),
        bdev: PMEM0,
        disk: "pmem0".into(),
    }))
    .claim(DAX0, 0, PMEM0, "pmem0")
    .claim(DAXDM, 0, DM0, "dm-0")
    .push(EventBody::DmAccess(DmAccess {
        dm_dax_dev: DAXDM,
        member_dax_dev: DAX0,
        dm_pgoff: 0,
        member_pgoff: 0,
        nr_pages: 1,
    }));
    let c = fold(&s.build());
    let dm = c.device_by_name("dm-0").expect("dm");
    let member = c.device_by_name("pmem0").expect("member");
    assert!(dm.members.contains(&member.id));
    assert!(member.parents.contains(&dm.id));
    assert_eq!(member.dm_taken, 1);
    let summary = c.summary();
    let dms = summary
        .devices
        .iter()
        .find(|d| d.identity.disk == "dm-0")
        .expect("dm summary");
    assert_eq!(dms.dm_members, vec!["pmem0 (259:0)".to_string()]);
}

#[test]
fn drops_keep_the_latest_cumulative_total() {
    let mut s = Script::default();
    s.drops(3, 5).drops(3, 9).drops(4, 1);
    let c = fold(&s.build());
    assert_eq!(c.drops().total(), 10);
}

#[test]
fn memory_failure_is_attributed_by_pfn_range() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 100, 200)
        .push(EventBody::MemoryFailure(MemoryFailure {
            pfn: 150,
            mf_type: 1,
            result: 0,
        }))
        .push(EventBody::MemoryFailure(MemoryFailure {
            pfn: 250,
            mf_type: 1,
            result: 0,
        }));
    let c = fold(&s.build());
    assert_eq!(c.pagemap(PGMAP0).expect("pagemap").memory_failures, 1);
    assert_eq!(c.totals().unattributed_memory_failures, 1);
}

#[test]
fn memory_stays_bounded_over_a_long_trace() {
    let cfg = CollectorConfig::default();
    let mut c = Collector::new(cfg.clone());
    let mut s = Script::default();
    for i in 0..5_000u64 {
        s.events.clear();
        s.claim(DAX0, XFS_MOUNT, PMEM0, "pmem0")
            .busy(PGMAP0, i, PMEM0, i)
            .fault(Dev::new(259, (i % 1000) as u32 + 10), false)
            .wait_end(PMEM0, i, i, None)
            .release(DAX0, XFS_MOUNT);
        for e in s.build() {
            c.ingest(&e);
        }
    }
    let d = c.device_by_dax(DAX0).expect("known");
    assert_eq!(d.balance.claims, 5_000);
    assert!(d.history.len() <= cfg.history);
    assert!(c.devices().count() <= cfg.max_devices);
    assert!(c.pagemap(PGMAP0).expect("pagemap").busy.len() <= cfg.max_busy_pages);
    assert!(c.totals().evicted_devices > 0);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Builds `n` holders each claiming then releasing once, interleaved by `order`.
    /// `events` minus those whose body `drop` picks.
    fn without(events: Vec<Event>, drop: impl Fn(&EventBody) -> bool) -> Vec<Event> {
        events.into_iter().filter(|e| !drop(&e.body)).collect()
    }

    fn interleave(holders: &[u64], order: &[usize]) -> Vec<Event> {
        // Each holder contributes [claim, release]; `order` picks whose next step runs.
        let mut step = vec![0u8; holders.len()];
        let mut s = Script::default();
        for &pick in order {
            let i = pick % holders.len();
            match step[i] {
                0 => {
                    s.claim(DAX0, holders[i], PMEM0, "pmem0");
                }
                1 => {
                    s.release(DAX0, holders[i]);
                }
                _ => continue,
            }
            step[i] += 1;
        }
        // finish what the order left unfinished, in holder order
        for (i, st) in step.iter_mut().enumerate() {
            while *st < 2 {
                if *st == 0 {
                    s.claim(DAX0, holders[i], PMEM0, "pmem0");
                } else {
                    s.release(DAX0, holders[i]);
                }
                *st += 1;
            }
        }
        s.build()
    }

    proptest! {
        #[test]
        fn matched_interleavings_balance(
            holders in proptest::collection::btree_set(0u64..64, 1..8),
            order in proptest::collection::vec(0usize..64, 0..32),
        ) {
            let holders: Vec<u64> = holders.into_iter().collect();
            let events = interleave(&holders, &order);
            let c = fold(&events);
            let d = c.device_by_dax(DAX0).expect("known");
            prop_assert_eq!(d.balance.claims, holders.len() as u64);
            prop_assert_eq!(d.balance.releases, holders.len() as u64);
            prop_assert!(c.leaks().is_empty());
            prop_assert!(c.findings().unmatched_releases.is_empty());
            prop_assert!(c.findings().double_claims.is_empty());
        }

        #[test]
        fn any_dropped_release_is_a_leak_of_that_holder(
            holders in proptest::collection::btree_set(1u64..64, 1..8),
            order in proptest::collection::vec(0usize..64, 0..32),
            victim in any::<prop::sample::Index>(),
        ) {
            let holders: Vec<u64> = holders.into_iter().collect();
            let gone = holders[victim.index(holders.len())];
            let c = fold(&without(interleave(&holders, &order), |b| {
                matches!(b, EventBody::Release(Release { holder, .. }) if *holder == gone)
            }));
            let leaks = c.leaks();
            prop_assert_eq!(leaks.len(), 1);
            prop_assert_eq!(leaks[0].claim.holder, gone);
            prop_assert!(c.findings().unmatched_releases.is_empty());
        }

        #[test]
        fn any_dropped_claim_is_an_unmatched_release_of_that_holder(
            holders in proptest::collection::btree_set(1u64..64, 1..8),
            order in proptest::collection::vec(0usize..64, 0..32),
            victim in any::<prop::sample::Index>(),
        ) {
            let holders: Vec<u64> = holders.into_iter().collect();
            let gone = holders[victim.index(holders.len())];
            let c = fold(&without(interleave(&holders, &order), |b| {
                matches!(b, EventBody::Claim(Claim { holder, .. }) if *holder == gone)
            }));
            let f = &c.findings().unmatched_releases;
            prop_assert_eq!(f.count, 1);
            prop_assert_eq!(f.examples[0].holder, gone);
            prop_assert!(c.leaks().is_empty());
        }
    }
}

#[test]
fn refused_lookup_of_a_non_dax_disk_makes_no_device() {
    let mut s = Script::default();
    s.refused(0, Dev::new(8, 1), "sda");
    let c = fold(&s.build());
    assert_eq!(c.devices().count(), 0);
    assert_eq!(c.totals().refused_unknown_devices, 1);
}

mod holderless_properties {
    use super::*;
    use proptest::prelude::*;

    /// A valid 5.10-style sequence: `steps` true = claim, false = release
    /// (a release only when something is open); every claim released at the end.
    fn sequence(steps: &[bool]) -> Vec<Event> {
        let mut s = Script::default();
        let mut open = 0u32;
        for &claim in steps {
            if claim {
                s.claim(DAX0, 0, PMEM0, "pmem0");
                open += 1;
            } else if open > 0 {
                s.release(DAX0, 0);
                open -= 1;
            }
        }
        for _ in 0..open {
            s.release(DAX0, 0);
        }
        s.build()
    }

    fn positions(events: &[Event], claim: bool) -> Vec<usize> {
        events
            .iter()
            .enumerate()
            .filter(|(_, e)| match e.body {
                EventBody::Claim(_) => claim,
                EventBody::Release(_) => !claim,
                _ => false,
            })
            .map(|(i, _)| i)
            .collect()
    }

    proptest! {
        #[test]
        fn holderless_sequences_balance(steps in proptest::collection::vec(any::<bool>(), 1..40)) {
            let events = sequence(&steps);
            let c = fold(&events);
            prop_assert!(c.leaks().is_empty());
            prop_assert!(c.findings().unmatched_releases.is_empty());
        }

        #[test]
        fn a_missing_holderless_release_is_one_leak(
            steps in proptest::collection::vec(any::<bool>(), 1..40),
            pick in any::<prop::sample::Index>(),
        ) {
            let mut events = sequence(&steps);
            let releases = positions(&events, false);
            prop_assume!(!releases.is_empty());
            events.remove(releases[pick.index(releases.len())]);
            let c = fold(&events);
            prop_assert_eq!(c.leaks().len(), 1);
            prop_assert!(c.findings().unmatched_releases.is_empty());
        }

        #[test]
        fn a_missing_holderless_claim_is_one_unmatched_release(
            steps in proptest::collection::vec(any::<bool>(), 1..40),
            pick in any::<prop::sample::Index>(),
        ) {
            let mut events = sequence(&steps);
            let claims = positions(&events, true);
            prop_assume!(!claims.is_empty());
            events.remove(claims[pick.index(claims.len())]);
            let c = fold(&events);
            prop_assert_eq!(c.findings().unmatched_releases.count, 1);
            prop_assert!(c.leaks().is_empty());
        }
    }
}

#[test]
fn a_busy_page_keeps_its_file_index_across_reports() {
    let report = |index| {
        EventBody::BusyPage(BusyPage {
            mapping: 0xffff_0000_0000_000c,
            page: 0xffff_ea00_0000_0000,
            pfn: 0x100010,
            ino: 12,
            dev: PMEM0,
            pgmap: PGMAP0,
            refcount: 2,
            index,
            ..Default::default()
        })
    };
    let mut s = Script::default();
    s.push(report(Some(7).into())).push(report(None.into()));
    let mut c = Collector::default();
    for e in s.build() {
        c.ingest(&e);
    }
    let b = &c.pagemap(PGMAP0).expect("pagemap").busy[&0x100010];
    assert_eq!((b.index, b.hits), (Some(7), 2));
}

#[test]
fn losses_are_kept_apart_from_dropped_events_and_only_grow() {
    use crate::event::Drops;
    use dax_trace_common::Loss;
    let mut d = super::DropStats::default();
    let ev = |point: u16, reason: Loss, total: u64| Drops {
        point,
        reason: reason as u16,
        total,
        ..Drops::default()
    };
    d.record(&ev(39, Loss::OwnerOverflow, 5));
    d.record(&ev(39, Loss::OwnerOverflow, 3));
    d.record(&ev(39, Loss::RingFull, 2));
    d.record(&ev(9, Loss::MapFull, 1));
    assert_eq!(d.total(), 2, "only ring drops are dropped events");
    let mut other: Vec<_> = d.other_losses().collect();
    other.sort();
    assert_eq!(
        other,
        [
            ("map-full", 9, "fs_put_dax", 1),
            ("owner-overflow", 39, "get_user_pages_fast", 5)
        ]
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["losses"]["owner-overflow"]["39"], 5);
    let empty = serde_json::to_value(super::DropStats::default()).unwrap();
    assert!(
        empty.get("losses").is_none(),
        "old reports keep their shape"
    );
}

#[test]
fn summary_losses_total_each_reason_over_its_points() {
    use crate::event::Drops;
    use dax_trace_common::Loss;
    assert!(
        fold(&Script::default().build()).summary().losses.is_empty(),
        "nothing lost: an empty map"
    );
    let mut s = Script::default();
    for (point, reason, total) in [
        (55, Loss::OwnerEvicted, 700),
        (55, Loss::OwnerEvicted, 1_680),
        (39, Loss::OwnerOverflow, 5),
        (40, Loss::OwnerOverflow, 2),
        (33, Loss::RingFull, 90),
        (34, Loss::RingFull, 10),
    ] {
        let d = Drops {
            point,
            reason: reason as u16,
            total,
            ..Drops::default()
        };
        s.push(EventBody::Drops(d));
    }
    let losses = fold(&s.build()).summary().losses;
    assert_eq!(
        losses.into_iter().collect::<Vec<_>>(),
        [
            ("owner-evicted".to_string(), 1_680),
            ("owner-overflow".to_string(), 7),
            ("ring-full".to_string(), 100),
        ]
    );
}
