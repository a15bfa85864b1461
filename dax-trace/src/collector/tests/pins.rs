//! Page owners through the collector: fixture event sequences, then the
//! owners model and the phrases that name them.
use super::super::pins_view::{busy_page_line, ownership_phrase, refused_line};
use super::super::{Collector, CollectorConfig, Ownership};
use crate::stacks::{StackFrame, StackRecord, StackTable};
use crate::testkit::fixture::{PGMAP0, PMEM0, Script};
use dax_trace_common::probe::idx::{GET_DEV_PAGEMAP, PIN_USER_PAGES_FAST};

const PFN: u64 = 0x48200;

fn fold(s: &Script) -> Collector {
    fold_with(s, CollectorConfig::default())
}

fn fold_with(s: &Script, config: CollectorConfig) -> Collector {
    let mut c = Collector::new(config);
    for e in s.build() {
        c.ingest(&e);
    }
    c
}

fn frame(sym: &str, module: Option<&str>) -> StackFrame {
    StackFrame {
        addr: 0xffff_ffff_8123_0000,
        symbol: Some(sym.to_string()),
        offset: 0x1c,
        module: module.map(str::to_string),
    }
}

fn dio_stack() -> StackTable {
    let t = StackTable::new();
    t.insert(StackRecord {
        id: 7,
        frames: vec![
            frame("pin_user_pages_fast", None),
            frame("iov_iter_extract_pages", None),
            frame("bio_iov_iter_get_pages", None),
            frame("iomap_dio_bio_iter", None),
            frame("ext4_dio_read_iter", Some("ext4")),
        ],
    });
    t
}

/// fio (tid 585) pins PFN at 10 s; a truncate finds the page busy 3.2 s later.
fn fio_pins() -> Script {
    fio_pins_at(PIN_USER_PAGES_FAST, 7)
}

/// The same, the owner seen at `point` with kernel stack `stack`.
fn fio_pins_at(point: u16, stack: u32) -> Script {
    let mut s = Script {
        ts_ns: 13_200_000_000 - 2_000_000,
        ..Script::default()
    };
    s.pagemap(PGMAP0, 0x40000, 0x60000);
    s.by(700, "truncate").busy(PGMAP0, PFN, PMEM0, 12);
    s.by(585, "fio")
        .pin_owner(PGMAP0, PFN, point, 10_000_000_000, stack);
    s
}

#[test]
fn a_busy_page_names_its_owner_with_age_entry_point_and_stack() {
    let c = fold(&fio_pins());
    let Ownership::Owners { owners } = c.ownership(PFN) else {
        panic!("owners expected: {:?}", c.ownership(PFN));
    };
    assert_eq!(owners.len(), 1);
    let o = &owners[0];
    assert_eq!((o.pid, o.tid, o.comm.as_str()), (585, 585, "fio"));
    assert_eq!(o.entry, "pin_user_pages_fast");
    assert!(o.pin && o.is_open());
    let summary = c.pins_summary();
    assert_eq!(summary.open_owners.len(), 1);
    assert_eq!(summary.busy_pages.len(), 1);
    let stacks = dio_stack();
    assert_eq!(
        busy_page_line(&summary.busy_pages[0], Some(&stacks)),
        "pfn 0x48200 ino 12 pinned 3.200 s by fio[585] via pin_user_pages_fast <- iov_iter_extract_pages <- bio_iov_iter_get_pages <- iomap_dio_bio_iter ... [ext4]"
    );
    // Without the table, the entry point alone.
    assert_eq!(
        busy_page_line(&summary.busy_pages[0], None),
        "pfn 0x48200 ino 12 pinned 3.200 s by fio[585] via pin_user_pages_fast"
    );
    assert_eq!(
        summary.stack_ids(),
        vec![dax_trace_common::field::StackId(7)]
    );
}

/// Before 6.15 the owner comes from the pagemap lookup inside gup: the
/// line names the exported gup function of its stack, not the lookup.
#[test]
fn an_owner_seen_at_the_pagemap_lookup_names_its_gup_entry_point() {
    let c = fold(&fio_pins_at(GET_DEV_PAGEMAP, 8));
    let summary = c.pins_summary();
    let t = StackTable::new();
    t.insert(StackRecord {
        id: 8,
        frames: vec![
            frame("get_dev_pagemap", None),
            frame("internal_get_user_pages_fast", None),
            frame("get_user_pages_fast", None),
            frame("iov_iter_get_pages2", None),
            frame("bio_iov_iter_get_pages", None),
            frame("iomap_dio_bio_iter", None),
            frame("ext4_dio_read_iter", Some("ext4")),
        ],
    });
    assert_eq!(
        busy_page_line(&summary.busy_pages[0], Some(&t)),
        "pfn 0x48200 ino 12 pinned 3.200 s by fio[585] via get_user_pages_fast <- iov_iter_get_pages2 <- bio_iov_iter_get_pages <- iomap_dio_bio_iter ... [ext4]"
    );
    // Without a stack, the hooked function itself.
    assert_eq!(
        busy_page_line(&summary.busy_pages[0], None),
        "pfn 0x48200 ino 12 pinned 3.200 s by fio[585] via get_dev_pagemap"
    );
}

#[test]
fn a_release_closes_only_its_owner_and_the_page_keeps_the_last_ones() {
    let mut s = fio_pins();
    s.by(586, "fio")
        .pin_owner(PGMAP0, PFN, PIN_USER_PAGES_FAST, 11_000_000_000, 0);
    s.by(0, "swapper/1")
        .pin_release(PFN, 585, 10_000_000_000, false);
    let c = fold(&s);
    let Ownership::Owners { owners } = c.ownership(PFN) else {
        panic!("owners expected");
    };
    assert_eq!(owners.iter().map(|o| o.tid).collect::<Vec<_>>(), vec![586]);
    assert_eq!(c.pins().releases, 1);
    assert_eq!(c.pins().releases_unmatched, 0);
    let page = c.pins().page(PFN).expect("page kept");
    assert_eq!(page.closed.len(), 1);
    assert_eq!(page.closed[0].tid, 585);
    assert!(!page.closed[0].released.as_ref().expect("released").by_idle);
}

#[test]
fn a_stuck_wait_names_the_owner_whose_pin_was_dropped() {
    // The lost wakeup: the page goes idle (every owner closes), the waiter
    // sleeps on: the stuck wait must still name fio.
    let mut s = fio_pins();
    s.by(587, "fio")
        .pin_owner(PGMAP0, PFN, PIN_USER_PAGES_FAST, 12_000_000_000, 0);
    s.by(700, "truncate").wait_begin(PMEM0, 12);
    s.by(0, "swapper/0").idle(PGMAP0, PFN);
    s.ts_ns += 999_000_000;
    s.stuck(PGMAP0, PFN, PMEM0, 12, 700);
    let c = fold(&s);
    let stuck = &c.findings().stuck_waits.examples[0];
    let Ownership::Owners { owners } = &stuck.owners else {
        panic!("the stuck wait names owners: {:?}", stuck.owners);
    };
    assert_eq!(owners.len(), 2);
    assert!(owners.iter().all(|o| !o.is_open()));
    assert!(
        owners
            .iter()
            .all(|o| o.released.as_ref().is_some_and(|r| r.by_idle))
    );
    let phrase = ownership_phrase(&stuck.owners, stuck.reported_ns, Some(&dio_stack()));
    assert!(
        phrase.starts_with(
            "pinned by fio[587] via pin_user_pages_fast for 1.204 s, released 1.000 s before (page went idle); pinned by fio[585] via pin_user_pages_fast <- iov_iter_extract_pages"
        ),
        "{phrase}"
    );
    // Nothing holds it any more.
    assert!(c.pins_summary().open_owners.is_empty());
}

#[test]
fn a_release_by_idle_closes_every_owner_of_the_page() {
    let mut s = fio_pins();
    s.by(586, "fio")
        .pin_owner(PGMAP0, PFN, PIN_USER_PAGES_FAST, 11_000_000_000, 0);
    s.by(0, "kworker/0:1")
        .pin_release(PFN, 585, 10_000_000_000, true);
    let c = fold(&s);
    assert!(c.pins().open_owners().is_empty());
    assert_eq!(c.pins().page(PFN).map(|p| p.closed.len()), Some(2));
}

#[test]
fn a_page_busy_at_start_with_no_owner_was_pinned_before_attach() {
    let mut s = Script::xfs_mounted_at_start();
    s.state_busy(PGMAP0, 0x40010, PMEM0, 77, 0, 3)
        .state_end(0, crate::testkit::fixture_state::ALL_SOURCES);
    s.by(700, "truncate").busy(PGMAP0, 0x40010, PMEM0, 77);
    s.busy(PGMAP0, 0x40020, PMEM0, 78);
    // Before any owner report, a page with none is not known to be unpinned.
    let c = fold(&s);
    assert_eq!(c.ownership(0x40020), Ownership::NotTraced);
    assert_eq!(
        busy_page_line(&c.pins_summary().busy_pages[1], None),
        "pfn 0x40020 ino 78"
    );
    assert!(!c.summary().pins.traced);
    // Owners are traced once any is reported (another page's here).
    s.by(585, "fio")
        .pin_owner(PGMAP0, 0x40030, PIN_USER_PAGES_FAST, 1, 0);
    let c = fold(&s);
    assert_eq!(c.ownership(0x40010), Ownership::PinnedBeforeAttach);
    assert_eq!(c.ownership(0x40020), Ownership::Unknown);
    let lines: Vec<String> = c
        .pins_summary()
        .busy_pages
        .iter()
        .map(|b| busy_page_line(b, None))
        .collect();
    assert_eq!(
        lines,
        vec![
            "pfn 0x40010 ino 77 pinned before attach".to_string(),
            "pfn 0x40020 ino 78 owner unknown (not pinned through a traced gup entry point since attach)".to_string(),
        ]
    );
}

#[test]
fn refused_long_term_pins_are_counted_per_process_and_file() {
    let mut s = Script::default();
    s.by(612, "fio_uring")
        .refused_pin("/mnt/pmem0/buf", 16, 9)
        .refused_pin("/mnt/pmem0/buf", 16, 9)
        .refused_pin("/mnt/pmem0/other", 1, 0);
    s.by(613, "ib_write_bw").refused_pin("", 256, 0);
    let c = fold(&s);
    let refused = c.pins().refused();
    assert_eq!(refused.len(), 3);
    assert_eq!(
        refused
            .iter()
            .map(|r| (r.pid, r.path.as_str(), r.count))
            .collect::<Vec<_>>(),
        vec![
            (612, "/mnt/pmem0/buf", 2),
            (612, "/mnt/pmem0/other", 1),
            (613, "", 1)
        ]
    );
    assert_eq!(c.pins().refused_total(), 4);
    assert_eq!(
        refused_line(&refused[0], None),
        "fio_uring[612] asked 2 times to pin 16 pages of /mnt/pmem0/buf long term via pin_user_pages_fast: refused (EOPNOTSUPP, FS-DAX memory cannot be pinned long term)"
    );
    assert!(refused_line(&refused[2], None).contains("256 pages of memory of an unknown file"));
}

#[test]
fn a_refused_pin_the_kernel_named_shows_its_inode_and_device() {
    use dax_trace_common::payload::path_from;
    let mut s = Script::default();
    s.by(700, "fio")
        .refused_pin_named("/mnt/dax/ringbuf", path_from::MOUNTED, 12)
        .refused_pin_named("/jobs/ringbuf", path_from::FS_ROOT, 13)
        .refused_pin_named("/deep/ringbuf", path_from::TAIL, 14)
        .refused_pin_named("", path_from::MAPS, 15);
    let c = fold(&s);
    let lines: Vec<String> = c
        .pins()
        .refused()
        .iter()
        .map(|r| refused_line(r, None))
        .collect();
    assert!(
        lines[0].contains("16 pages of /mnt/dax/ringbuf (inode 12 on 259:0) long term"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("of /jobs/ringbuf in the filesystem on 259:0 (inode 13) long term"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("of …/deep/ringbuf in the filesystem on 259:0 (inode 14)"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains("of the file of inode 15 on 259:0 long term"),
        "{}",
        lines[3]
    );
    let first = &c.pins().refused()[0];
    assert_eq!(
        (first.ino, first.dev.to_string()),
        (12, "259:0".to_string())
    );
}

#[test]
fn owner_pages_are_bounded_and_pages_with_open_owners_stay() {
    let config = CollectorConfig {
        max_busy_pages: 2,
        ..CollectorConfig::default()
    };
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x40000, 0x60000);
    s.by(1, "a")
        .pin_owner(PGMAP0, 0x40001, PIN_USER_PAGES_FAST, 1, 0);
    s.by(2, "b")
        .pin_owner(PGMAP0, 0x40002, PIN_USER_PAGES_FAST, 1, 0);
    s.by(0, "swapper/0").pin_release(0x40002, 2, 1, false);
    s.by(3, "c")
        .pin_owner(PGMAP0, 0x40003, PIN_USER_PAGES_FAST, 1, 0);
    let c = fold_with(&s, config);
    assert_eq!(c.pins().pages_evicted, 1);
    assert!(
        c.pins().page(0x40002).is_none(),
        "the closed page went first"
    );
    assert!(c.pins().page(0x40001).is_some());
    assert!(c.pins().page(0x40003).is_some());
}

#[test]
fn a_release_of_an_unknown_owner_is_counted_not_invented() {
    let mut s = Script::default();
    s.by(0, "swapper/0").pin_release(PFN, 585, 1, false);
    let c = fold(&s);
    assert_eq!(c.pins().releases_unmatched, 1);
    assert_eq!(c.ownership(PFN), Ownership::Unknown);
}

#[test]
fn the_pin_kinds_have_the_sizes_docs_trace_format_gives() {
    use crate::event::{Claim, PinOwner, PinRelease, RefusedPin};
    assert_eq!(std::mem::size_of::<PinOwner>(), 48);
    assert_eq!(std::mem::size_of::<PinRelease>(), 40);
    assert_eq!(std::mem::size_of::<RefusedPin>(), 176);
    assert_eq!(9 + 40 + std::mem::size_of::<RefusedPin>(), 225);
    // Framing (CRC, length, tag) and the 40-byte event header around it.
    assert_eq!(9 + 40 + std::mem::size_of::<Claim>(), 137);
}
