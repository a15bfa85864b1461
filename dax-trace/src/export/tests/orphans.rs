//! Orphaned pages in Perfetto: an instant on the thread that let the page
//! go, a slice on the page's own track until it went idle; a blocked
//! eviction wait is an instant on its waiter.
use super::perfetto_of;
use crate::testkit::fixture::{PGMAP0, PMEM0, Script};

#[test]
fn an_orphaned_page_is_a_slice_from_its_release_to_its_idle() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(160, "rm")
        .orphaned(PGMAP0, 0x240030, PMEM0, 14);
    let orphaned_ns = s.ts_ns;
    s.ts_ns += 1_200_000_000;
    s.by(0, "swapper/0")
        .orphan_idle(0x240030, PMEM0, 14, orphaned_ns)
        .by(170, "umount")
        .blocked(PGMAP0, 0x240040, PMEM0, 15, 170);
    let events = perfetto_of(&s.build());
    let named = |name: &str| events.iter().find(|e| e["name"] == name).cloned();
    let instant = named("page let go while busy").expect("instant");
    assert_eq!(instant["ph"], "i");
    assert_eq!(instant["args"]["pfn"], "0x240030");
    let begin = named("orphan pfn 0x240030 busy").expect("slice begin");
    assert_eq!(begin["ph"], "B");
    let end = events
        .iter()
        .find(|e| e["ph"] == "E" && e["tid"] == begin["tid"] && e["pid"] == begin["pid"])
        .expect("slice end on the page's track");
    assert_eq!(end["args"]["busy_after_ns"], 1_201_000_000u64);
    let blocked = named("blocked wait (uninterruptible, page busy)").expect("blocked");
    assert_eq!(blocked["args"]["pfn"], "0x240040");
}
