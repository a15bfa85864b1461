//! `no-orphaned-busy-pages`: a page its file let go while busy fails the
//! check, names who let it go and who held it, and says how long it stayed
//! busy; a loss at the point makes it inconclusive instead.
use super::super::*;
use crate::testkit::fixture::*;
use dax_trace_common::probe::idx::{DAX_DISASSOCIATE_ENTRY, PIN_USER_PAGES_FAST};

const PFN: u64 = 0x240030;

fn judge_script(s: &Script) -> Verdict {
    let opts = CheckOptions::default();
    let mut c = Collector::new(opts.collector_config());
    for e in s.build() {
        c.ingest(&e);
    }
    judge(&c, &opts, "fixture.dxt")
}

fn assertion<'a>(v: &'a Verdict, id: &str) -> &'a Assertion {
    v.assertions
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("no assertion {id}"))
}

/// odirect-read (585) pins a page; rm (160) unlinks the file, which drops
/// the page from it while busy; the read completes 1.2 s later.
fn evicted_under_dma() -> Script {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000);
    let since = s.ts_ns;
    s.by(585, "odirect-read")
        .pin_owner(PGMAP0, PFN, PIN_USER_PAGES_FAST, since, 0)
        .by(160, "rm")
        .orphaned(PGMAP0, PFN, PMEM0, 14);
    let orphaned_ns = s.ts_ns;
    s.ts_ns += 1_200_000_000;
    s.by(0, "swapper/0")
        .orphan_idle(PFN, PMEM0, 14, orphaned_ns);
    s
}

#[test]
fn a_page_let_go_while_pinned_fails_naming_both_threads_and_the_dma_after() {
    let v = judge_script(&evicted_under_dma());
    let a = assertion(&v, "no-orphaned-busy-pages");
    assert_eq!(a.status, Status::Fail, "{a:?}");
    assert_eq!(v.outcome, Outcome::Fail);
    let line = &a.details[0];
    assert!(line.contains("rm[160]"), "{line}");
    assert!(line.contains("odirect-read"), "{line}");
    assert!(line.contains("pfn 0x240030"), "{line}");
    assert!(line.contains("inode 14 pgoff 0"), "{line}");
    assert!(line.contains("stayed busy 1.20"), "{line}");
}

#[test]
fn a_page_still_busy_at_the_end_says_so() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(160, "umount")
        .orphaned(PGMAP0, PFN, PMEM0, 14);
    let v = judge_script(&s);
    let a = assertion(&v, "no-orphaned-busy-pages");
    assert_eq!(a.status, Status::Fail);
    assert!(
        a.details[0].contains("still busy at the end"),
        "{:?}",
        a.details
    );
}

#[test]
fn no_orphan_passes_a_lost_one_is_inconclusive_and_a_seen_one_still_fails() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000);
    assert_eq!(
        assertion(&judge_script(&s), "no-orphaned-busy-pages").status,
        Status::Pass
    );
    let mut lost = Script::default();
    lost.pagemap(PGMAP0, 0x240000, 0x280000)
        .drops(DAX_DISASSOCIATE_ENTRY, 3);
    let a = assertion(&judge_script(&lost), "no-orphaned-busy-pages").clone();
    assert_eq!(a.status, Status::Inconclusive, "{a:?}");
    let mut full = Script::default();
    full.pagemap(PGMAP0, 0x240000, 0x280000).losses(
        DAX_DISASSOCIATE_ENTRY,
        dax_trace_common::Loss::MapFull,
        1,
    );
    let a = assertion(&judge_script(&full), "no-orphaned-busy-pages").clone();
    assert_eq!(a.status, Status::Inconclusive, "{a:?}");
    s.by(160, "rm").orphaned(PGMAP0, PFN, PMEM0, 14);
    s.drops(DAX_DISASSOCIATE_ENTRY, 3);
    let a = assertion(&judge_script(&s), "no-orphaned-busy-pages").clone();
    assert_eq!(a.status, Status::Fail, "{a:?}");
}

#[test]
fn a_blocked_eviction_wait_is_not_a_failure() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(160, "rm")
        .blocked(PGMAP0, PFN, PMEM0, 14, 160);
    let v = judge_script(&s);
    assert_ne!(v.outcome, Outcome::Fail, "{v:?}");
}
