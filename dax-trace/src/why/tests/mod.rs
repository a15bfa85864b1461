//! The diagnosis of the target's waiters from a watch: a lost wakeup, a
//! wait blocked on a busy page (named uninterruptible when it is the
//! eviction's), a wait that woke meanwhile, one that ended, and waiters the
//! target does not ask about.
use super::*;
use crate::collector::{Collector, Ownership};
use crate::event::{Event, EventBody};
use crate::testkit::fixture::*;
use dax_trace_common::probe::idx::PIN_USER_PAGES_FAST;

const PFN: u64 = 0x240020;

fn fold(events: &[Event]) -> (Collector, WatchLog) {
    let mut c = Collector::default();
    let mut log = WatchLog::default();
    for e in events {
        c.ingest(e);
        log.observe(e);
    }
    (c, log)
}

fn threads(tids: &[u32]) -> Target {
    Target::Threads {
        pid: tids[0],
        tids: tids.to_vec(),
    }
}

#[test]
fn a_waiter_found_asleep_on_an_idle_page_is_a_lost_wakeup() {
    let mut s = Script {
        ts_ns: 100_000_000_000,
        ..Script::default()
    };
    s.pagemap(PGMAP0, 0x240000, 0x280000);
    s.state_wait(
        151,
        "truncate",
        PGMAP0,
        PFN,
        PMEM0,
        13,
        4_000_000_000,
        false,
    );
    if let Some(e) = s.events.last_mut() {
        // As the kernel reading gives it: the waiter's tid, no process.
        e.pid = 0;
        if let EventBody::StateWait(w) = &mut e.body {
            w.idle = true.into();
            w.refcount = 1;
        }
    }
    s.ts_ns += 3_000_000_000;
    s.fault(PMEM0, false);
    let (c, log) = fold(&s.build());
    let why = diagnose(&c, &log, &threads(&[151]), 1);
    assert_eq!(why.waits.len(), 1, "{why:?}");
    let w = &why.waits[0];
    assert_eq!(w.progress, Progress::LostWakeup);
    assert!(why.stuck());
    assert_eq!((w.pfn, w.refcount, w.index), (Some(PFN), Some(1), Some(7)));
    assert!(w.asleep_at_least);
    assert!(w.asleep_ns >= 7_000_000_000, "{}", w.asleep_ns);
    assert_eq!(w.owners, Ownership::PinnedBeforeAttach);
    assert!(!w.uninterruptible);
    // The state reading does not carry the waiter's process: the target's.
    let target = Target::Threads {
        pid: 150,
        tids: vec![150, 151],
    };
    assert_eq!(diagnose(&c, &log, &target, 1).waits[0].pid, 150);
}

#[test]
fn an_eviction_blocked_by_a_pinned_page_names_the_pinner() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000);
    let since = s.ts_ns;
    s.by(585, "vmsplicer")
        .pin_owner(PGMAP0, PFN, PIN_USER_PAGES_FAST, since, 0)
        .by(160, "rm");
    s.push(EventBody::WaitBegin(crate::event::WaitBegin {
        inode: 0xffff_8880_0c00_0000,
        ino: 14,
        dev: PMEM0,
        api: crate::event::WaitApi::DaxBreakLayoutFinal.into(),
        ..Default::default()
    }));
    s.busy(PGMAP0, PFN, PMEM0, 14)
        .blocked(PGMAP0, PFN, PMEM0, 14, 160);
    let (c, log) = fold(&s.build());
    let why = diagnose(&c, &log, &threads(&[160, 161]), 0);
    assert_eq!(why.waits.len(), 1);
    let w = &why.waits[0];
    assert_eq!(w.progress, Progress::Blocked);
    assert!(w.uninterruptible);
    assert!(why.stuck());
    match &w.owners {
        Ownership::Owners { owners } => assert_eq!(owners[0].tid, 585),
        other => panic!("owners {other:?}"),
    }
}

#[test]
fn a_wait_that_woke_or_ended_is_moving_and_others_are_not_asked_about() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(170, "truncate")
        .wait_begin(PMEM0, 15)
        .busy(PGMAP0, PFN, PMEM0, 15)
        .busy(PGMAP0, PFN + 1, PMEM0, 15)
        .by(180, "punch")
        .wait_begin(PMEM0, 16)
        .busy(PGMAP0, PFN + 2, PMEM0, 16)
        .wait_end(PMEM0, 16, 5_000_000, Some(PFN + 2))
        .by(190, "other")
        .wait_begin(PMEM0, 17)
        .busy(PGMAP0, PFN + 3, PMEM0, 17);
    let (c, log) = fold(&s.build());
    let why = diagnose(&c, &log, &threads(&[170, 180]), 1);
    let progress: Vec<(u32, Progress)> = why
        .waits
        .iter()
        .map(|w| (w.tid, w.progress.clone()))
        .collect();
    assert_eq!(
        progress,
        [
            (170, Progress::Moving { busy_pages_met: 2 }),
            (
                180,
                Progress::Ended {
                    latency_ns: Some(5_000_000)
                }
            ),
        ]
    );
    assert!(!why.stuck());
    // A file target asks about its waiters whoever they are.
    let file = Target::File {
        path: "/mnt/f".into(),
        dev: PMEM0,
        ino: 17,
    };
    let why = diagnose(&c, &log, &file, 1);
    assert_eq!(why.waits.iter().map(|w| w.tid).collect::<Vec<_>>(), [190]);
    assert_eq!(why.waits[0].progress, Progress::Blocked);
}

#[test]
fn suspects_are_listed_for_a_held_page_not_for_a_lost_wakeup() {
    use crate::stacks::StackTable;
    let suspect = Suspect {
        pid: 9,
        tid: 9,
        comm: "holder".into(),
        frames: Vec::new(),
        pipe: Some((4, 1309, 65536)),
    };
    let wait = |progress: Progress| WaitDiagnosis {
        tid: 151,
        pid: 150,
        comm: "truncate".into(),
        dev: PMEM0,
        ino: 13,
        pfn: Some(PFN),
        index: Some(0),
        refcount: Some(1),
        idle_refcount: 1,
        uninterruptible: false,
        asleep_ns: 5_000_000_000,
        asleep_at_least: true,
        progress,
        owners: Ownership::PinnedBeforeAttach,
    };
    let lost = Why {
        waits: vec![wait(Progress::LostWakeup)],
    };
    let text = render::text(
        &lost,
        std::slice::from_ref(&suspect),
        &StackTable::new(),
        3_000_000_000,
    );
    assert!(!text.contains("suspects"), "{text}");
    assert!(!text.contains("pinned before attach"), "{text}");
    let held = Why {
        waits: vec![wait(Progress::Blocked)],
    };
    let text = render::text(&held, &[suspect], &StackTable::new(), 3_000_000_000);
    assert!(
        text.contains("holder[9] fd 4 pipe:[1309], 65536 bytes queued"),
        "{text}"
    );
}
