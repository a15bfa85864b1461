//! The collector fed a state at start: pre-existing pagemaps, devices,
//! claims, mounts, dm tables, waits and busy pages.
use super::super::*;
use crate::testkit::fixture::*;
use crate::testkit::fixture_state::*;

fn fold(events: &[Event]) -> Collector {
    fold_with(CollectorConfig::default(), events)
}

fn fold_with(config: CollectorConfig, events: &[Event]) -> Collector {
    let mut c = Collector::new(config);
    for e in events {
        c.ingest(e);
    }
    c
}

#[test]
fn a_claim_held_at_start_is_matched_by_its_release_during_the_trace() {
    let mut s = Script::xfs_mounted_before();
    s.by(200, "umount").release(DAX0, XFS_MOUNT);
    let c = fold(&s.build());
    assert!(c.leaks().is_empty());
    assert!(c.held_since_start().is_empty());
    assert!(c.findings().unmatched_releases.is_empty());
    let d = c.device_by_name("pmem0").expect("pmem0 known");
    assert_eq!(d.identity.dax_dev, DAX0);
    assert_eq!(d.size_bytes(), PMEM0_BYTES);
    assert_eq!(d.balance.pre_existing, 1);
    assert_eq!(d.balance.releases, 1);
    assert_eq!(d.balance.pre_existing_released, 1);
    assert_eq!(d.balance.claims, 0, "no claim was made during the trace");
    assert_eq!(d.balance.outstanding(), 0);
    let rec = d
        .history
        .iter()
        .next()
        .expect("the held claim is in the history");
    assert!(rec.pre_existing);
    assert_eq!(rec.mount, "xfs on /mnt/x");
    assert_eq!(
        rec.released.as_ref().map(|a| a.comm.as_str()),
        Some("umount")
    );
    // The pagemap is pmem0's from the first event.
    let p = c.pagemap(PGMAP0).expect("pagemap known");
    assert!(p.pre_existing);
    assert_eq!(p.created_ns, None);
    assert_eq!(p.identity.page_count(), Some(PMEM0_PAGES));
    assert_eq!(p.identity.backing, "namespace0.0");
    assert!(p.devices.contains(&d.id));
    assert!(d.pagemaps.contains(&PGMAP0));
    let summary = c.summary();
    assert_eq!(summary.pagemaps[0].devices, ["pmem0 (259:0)"]);
    let state = summary.state_at_start.expect("state at start");
    assert_eq!((state.pagemaps, state.dax_devices, state.mounts), (1, 1, 1));
    assert!(state.unavailable_sources.is_empty());
}

#[test]
fn a_claim_held_throughout_is_pre_existing_state_not_a_leak() {
    let c = fold(&Script::xfs_mounted_before().build());
    assert!(c.leaks().is_empty());
    let held = c.held_since_start();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].claim.holder, XFS_MOUNT);
    assert_eq!(held[0].claim.mount, "xfs on /mnt/x");
    assert_eq!(held[0].identity.disk, "pmem0");
    let d = c.device_by_dax(DAX0).expect("known");
    assert_eq!(d.current_holder().map(|h| h.holder), Some(XFS_MOUNT));
    let mount = d.mount.as_ref().expect("mounted");
    assert!(mount.at_start);
    assert_eq!(mount.label(), "xfs on /mnt/x");
}

#[test]
fn only_one_claim_carries_the_holder_and_holderless_releases_match_the_rest() {
    // 6.1: xfs holds pmem0 (holder) and a dm table holds it too (no holder).
    let mut s = Script::default();
    s.state_dax(DAX0, PMEM0, "pmem0", XFS_MOUNT, 2, true)
        .state_end(0, ALL_SOURCES)
        .release(DAX0, 0)
        .release(DAX0, XFS_MOUNT);
    let c = fold(&s.build());
    assert!(c.findings().unmatched_releases.is_empty());
    assert!(c.leaks().is_empty() && c.held_since_start().is_empty());
    // A third release has nothing left to match.
    s.release(DAX0, 0);
    let c = fold(&s.build());
    assert_eq!(c.findings().unmatched_releases.count, 1);
}

#[test]
fn without_holders_every_claim_found_at_start_is_holderless() {
    // 5.10: no holders; a holder field the kernel does not keep is ignored.
    let mut s = Script::default();
    s.state_dax(DAX0, PMEM0, "pmem0", XFS_MOUNT, 2, false)
        .state_end(0, ALL_SOURCES);
    let c = fold(&s.build());
    let holders: Vec<u64> = c
        .held_since_start()
        .iter()
        .map(|l| l.claim.holder)
        .collect();
    assert_eq!(holders, [0, 0]);
}

#[test]
fn a_release_of_a_device_absent_from_the_state_still_fails() {
    let mut s = Script::xfs_mounted_before();
    s.release(DAXDM, 0);
    let c = fold(&s.build());
    assert_eq!(c.findings().unmatched_releases.count, 1);
    let d = c.device_by_dax(DAXDM).expect("recorded");
    assert!(d.present.is_none(), "not in the state at start");
}

#[test]
fn updates_while_running_add_no_claims_and_an_unmount_clears_the_mount() {
    let mut s = Script::xfs_mounted_before();
    s.state_dax(DAX0, PMEM0, "pmem0", XFS_MOUNT, 1, true)
        .state_mount(PMEM0, "pmem0", "xfs", "/mnt/x", false)
        .state_end(1, ALL_SOURCES);
    let c = fold(&s.build());
    let d = c.device_by_dax(DAX0).expect("known");
    assert_eq!(d.open_claims.len(), 1);
    assert_eq!(d.balance.pre_existing, 1);
    assert!(d.mount.is_none());
    assert_eq!(c.state_at_start().map(|s| s.updates), Some(1));
}

#[test]
fn mounts_and_pagemaps_named_before_their_dax_device_fold_into_it() {
    let mut s = Script::default();
    s.state_mount(PMEM0, "pmem0", "ext4", "/mnt/e", true)
        .state_pagemap(PGMAP0, 0x40000, PMEM0_PAGES, PMEM0, "pmem0", "namespace0.0")
        .state_dax(DAX0, PMEM0, "pmem0", 0, 1, true)
        .state_end(0, ALL_SOURCES);
    let c = fold(&s.build());
    assert_eq!(c.devices().count(), 1);
    let d = c.device_by_dax(DAX0).expect("known");
    assert_eq!(
        d.mount.as_ref().map(Mount::label).as_deref(),
        Some("ext4 on /mnt/e")
    );
    let p = c.pagemap(PGMAP0).expect("pagemap");
    assert_eq!(p.devices.iter().copied().collect::<Vec<_>>(), [d.id]);
}

#[test]
fn a_dm_table_at_start_links_the_dm_device_and_its_member() {
    let mut s = Script::default();
    s.state_dax(DAX0, PMEM0, "pmem0", 0, 1, true)
        .state_dm(DM0, "dm-0", "thin", PMEM0, "pmem0", 0, 1 << 20, true)
        .state_end(0, ALL_SOURCES);
    let c = fold(&s.build());
    let dm = c.device_by_name("dm-0").expect("dm-0 known");
    let pmem = c.device_by_name("pmem0").expect("pmem0 known");
    assert_eq!(dm.dm_name, "thin");
    assert!(dm.members.contains(&pmem.id));
    assert!(pmem.parents.contains(&dm.id));
    let t = &dm.dm_targets[0];
    assert_eq!(
        (t.start_sector, t.sectors, t.member_sector),
        (0, 1 << 20, 2048)
    );
    assert_eq!((t.target.as_str(), t.member), ("linear", pmem.id));
    assert!(t.at_start);
    assert_eq!(c.device_summary(dm).dm_members, ["pmem0 (259:0)"]);
    // The table goes away while running.
    s.state_dm(DM0, "dm-0", "thin", PMEM0, "pmem0", 0, 1 << 20, false)
        .state_end(1, ALL_SOURCES);
    let c = fold(&s.build());
    let dm = c.device_by_name("dm-0").expect("dm-0 known");
    assert!(dm.dm_targets.is_empty() && dm.members.is_empty());
    let pmem = c.device_by_name("pmem0").expect("pmem0 known");
    assert!(pmem.parents.is_empty());
}

#[test]
fn busy_pages_at_start_are_listed_per_pagemap_and_bounded() {
    let mut s = Script::xfs_mounted_before();
    for i in 0..5 {
        s.state_busy(PGMAP0, 0x40100 + 4 - i, PMEM0, 40 + i, i * 8, 3);
    }
    let config = CollectorConfig {
        max_busy_pages: 3,
        ..CollectorConfig::default()
    };
    let c = fold_with(config, &s.build());
    let p = c.pagemap(PGMAP0).expect("pagemap");
    let listed: Vec<(u64, u64, Option<u64>, u64)> = p
        .busy_at_start
        .iter()
        .map(|b| (b.pfn, b.ino, b.index, b.refcount))
        .collect();
    assert_eq!(
        listed,
        [
            (0x40100, 44, Some(32), 3),
            (0x40101, 43, Some(24), 3),
            (0x40102, 42, Some(16), 3)
        ]
    );
    assert_eq!(p.busy_at_start_more, 2);
    assert!(p.busy.is_empty(), "a census is not a break-layouts report");
    let summary = c.pagemap_summary(p);
    assert_eq!(summary.busy_at_start.len(), 3);
    assert_eq!(summary.busy_at_start_more, 2);
}

#[test]
fn a_stuck_wait_on_a_waiter_found_at_attach_names_it() {
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
    let found = s.ts_ns;
    s.stuck_at_attach(
        530,
        "truncate",
        PGMAP0,
        0x409a0,
        PMEM0,
        40,
        found - 3_000_000_000,
    );
    let c = fold(&s.build());
    let stuck = &c.findings().stuck_waits.examples[0];
    assert_eq!(stuck.waiter_tid, 530);
    assert_eq!(
        stuck.waiter.as_ref().map(|a| a.comm.as_str()),
        Some("truncate")
    );
    assert!(stuck.at_attach);
    assert_eq!((stuck.pfn, stuck.ino), (0x409a0, 40));
    assert_eq!(
        stuck.identity.as_ref().map(|i| i.disk.as_str()),
        Some("pmem0")
    );
    let p = c.pagemap(PGMAP0).expect("pagemap");
    assert!(p.busy.get(&0x409a0).is_some_and(|b| b.stuck));
    let w = c.open_waits().next().expect("still asleep");
    assert_eq!(w.begin.ts_ns, found - 3_000_000_000);
    assert_eq!(w.begin.comm.as_str(), "truncate");
}

#[test]
fn a_wait_in_progress_at_attach_that_ends_is_a_lower_bound_wait() {
    let mut s = Script::xfs_mounted_before();
    s.state_wait(
        530, "truncate", PGMAP0, 0x409a0, PMEM0, 40, 2_000_000, false,
    );
    let found = s.ts_ns;
    s.state_end(1, ALL_SOURCES);
    s.state_wait(530, "truncate", PGMAP0, 0x409a0, PMEM0, 40, 0, true);
    let ended = s.ts_ns;
    let c = fold(&s.build());
    assert_eq!(c.open_waits().count(), 0);
    assert!(c.findings().stuck_waits.is_empty());
    let d = c.device_by_name("pmem0").expect("pmem0");
    let longest = d.waits.longest.as_ref().expect("the wait was recorded");
    assert!(longest.lower_bound);
    assert_eq!(longest.latency_ns, ended - (found - 2_000_000));
    assert_eq!(longest.waiter.tid, 530);
    assert_eq!(longest.waiter.comm.as_str(), "truncate");
    assert!(c.pagemap(PGMAP0).is_some_and(|p| p.busy.is_empty()));
}

#[test]
fn a_kernel_wait_on_the_same_thread_later_behaves_normally() {
    let mut s = Script::xfs_mounted_before();
    s.state_wait(
        530, "truncate", PGMAP0, 0x409a0, PMEM0, 40, 2_000_000, false,
    )
    .by(530, "truncate")
    .wait_begin(PMEM0, 41);
    // The state's "ended" for the old wait must not end the kernel's.
    s.state_wait(530, "truncate", PGMAP0, 0x409a0, PMEM0, 40, 0, true);
    let c = fold(&s.build());
    let w = c.open_waits().next().expect("the kernel's wait is open");
    assert_eq!((w.ino, w.at_attach.is_none()), (41, true));
    s.by(530, "truncate").wait_end(PMEM0, 41, 1_500_000, None);
    let c = fold(&s.build());
    assert_eq!(c.open_waits().count(), 0);
    let d = c.device_by_name("pmem0").expect("pmem0");
    assert_eq!(d.waits.latency.count(), 1);
    assert_eq!(d.waits.longest.as_ref().map(|w| w.lower_bound), Some(false));
}

#[test]
fn a_wait_the_probes_saw_begin_keeps_its_true_start() {
    let mut s = Script {
        ts_ns: 20_000_000_000,
        ..Script::default()
    };
    s.by(530, "truncate").wait_begin(PMEM0, 40);
    let begun = s.ts_ns;
    s.state_wait(
        530,
        "truncate",
        PGMAP0,
        0x409a0,
        PMEM0,
        40,
        5_000_000_000,
        false,
    )
    .state_end(0, ALL_SOURCES);
    let c = fold(&s.build());
    let w = c.open_waits().next().expect("waiting");
    assert_eq!(w.begin.ts_ns, begun);
    assert!(w.at_attach.is_none());
}
