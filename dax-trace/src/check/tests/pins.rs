//! check names page owners in its failure lines and reports refused
//! long-term pins as notices, never as failures.
use super::super::*;
use crate::stacks::{StackFrame, StackRecord, StackTable};
use crate::testkit::fixture::*;
use dax_trace_common::probe::idx::PIN_USER_PAGES_FAST;

const PFN: u64 = 0x240020;

fn judge_script(s: &Script, opts: &CheckOptions, stacks: Option<&StackTable>) -> Verdict {
    let mut c = Collector::new(opts.collector_config());
    for e in s.build() {
        c.ingest(&e);
    }
    judge_with_stacks(&c, opts, "fixture.dxt", stacks)
}

fn details<'a>(v: &'a Verdict, id: &str) -> &'a [String] {
    v.assertions
        .iter()
        .find(|a| a.id == id)
        .map_or(&[], |a| a.details.as_slice())
}

/// fio (585) pins a page by O_DIRECT; a truncate (151) waits on it; the
/// page goes idle but the waiter is never woken.
fn lost_wakeup() -> Script {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(151, "truncate")
        .wait_begin(PMEM0, 13)
        .busy(PGMAP0, PFN, PMEM0, 13);
    let since = s.ts_ns - 500_000_000;
    s.by(585, "fio")
        .pin_owner(PGMAP0, PFN, PIN_USER_PAGES_FAST, since, 4)
        .by(0, "swapper/0")
        .idle(PGMAP0, PFN);
    s.ts_ns += 2_000_000_000;
    s.stuck(PGMAP0, PFN, PMEM0, 13, 151);
    s
}

#[test]
fn a_stuck_wait_names_the_thread_whose_pin_made_it_wait() {
    let stacks = StackTable::new();
    stacks.insert(StackRecord {
        id: 4,
        frames: [
            "pin_user_pages_fast",
            "iov_iter_extract_pages",
            "ext4_dio_read_iter",
        ]
        .iter()
        .map(|f| StackFrame {
            addr: 0xffff_ffff_8100_0000,
            symbol: Some(f.to_string()),
            offset: 0x10,
            module: None,
        })
        .collect(),
    });
    let v = judge_script(&lost_wakeup(), &CheckOptions::default(), Some(&stacks));
    assert_eq!(v.outcome, Outcome::Fail);
    let lines = details(&v, "no-stuck-waits");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with(
            "; page pinned by fio[585] via pin_user_pages_fast <- iov_iter_extract_pages <- ext4_dio_read_iter for 502.000 ms, released 2.001 s before (page went idle)"
        ),
        "{}",
        lines[0]
    );
}

#[test]
fn a_slow_wait_names_the_owner_of_its_busy_page() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(150, "truncate")
        .wait_begin(PMEM0, 12)
        .busy(PGMAP0, PFN, PMEM0, 12);
    let since = s.ts_ns;
    s.by(585, "fio")
        .pin_owner(PGMAP0, PFN, PIN_USER_PAGES_FAST, since, 0);
    s.by(150, "truncate")
        .wait_end(PMEM0, 12, 45_000_000, Some(PFN));
    let opts = CheckOptions {
        max_wait_ns: Some(10_000_000),
        ..CheckOptions::default()
    };
    let v = judge_script(&s, &opts, None);
    let lines = details(&v, "max-wait");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with("busy pfn 0x240020 pinned 2.000 ms by fio[585] via pin_user_pages_fast"),
        "{}",
        lines[0]
    );
}

#[test]
fn refused_long_term_pins_are_notices_and_the_run_still_passes() {
    let mut s = Script::default();
    s.pagemap(PGMAP0, 0x240000, 0x280000)
        .by(612, "fio_uring")
        .refused_pin("/mnt/pmem0/buf", 16, 0)
        .refused_pin("/mnt/pmem0/buf", 16, 0);
    let v = judge_script(&s, &CheckOptions::default(), None);
    assert_eq!(v.outcome, Outcome::Pass);
    assert_eq!(v.notices.len(), 1);
    assert!(
        v.notices[0].starts_with(
            "fio_uring[612] asked 2 times to pin 16 pages of /mnt/pmem0/buf long term"
        )
    );
    let text = render::text(&v);
    assert!(
        text.contains("  notices (not failures)\n      - fio_uring[612]"),
        "{text}"
    );
    let junit = render::junit(&v);
    assert!(junit.contains("notice: fio_uring[612]"), "{junit}");
    let json: serde_json::Value = serde_json::from_str(&render::json(&v)).expect("json");
    assert_eq!(json["notices"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_leaked_claim_and_an_unmatched_release_name_their_kernel_stacks() {
    use crate::event::{Claim, ClaimApi, EventBody, Release};
    use dax_trace_common::field::StackId;
    let stacks = StackTable::new();
    for (id, names) in [
        (
            11,
            ["fs_dax_get_by_bdev", "ext4_fill_super", "get_tree_bdev"],
        ),
        (12, ["fs_put_dax", "xfs_free_buftarg", "xfs_unmountfs"]),
    ] {
        stacks.insert(StackRecord {
            id,
            frames: names
                .iter()
                .map(|f| StackFrame {
                    addr: 0xffff_ffff_c000_0000,
                    symbol: Some(f.to_string()),
                    offset: 0x40,
                    module: f.starts_with("ext4").then(|| "ext4".to_string()),
                })
                .collect(),
        });
    }
    let mut s = Script::default();
    s.by(420, "mount").push(EventBody::Claim(Claim {
        dax_dev: DAX0,
        holder: 0,
        bdev: PMEM0,
        disk: "pmem0".into(),
        granted: true.into(),
        api: ClaimApi::FsDaxGetByBdev.into(),
        stack: StackId(11),
        ..Default::default()
    }));
    s.by(423, "umount").push(EventBody::Release(Release {
        dax_dev: DAXDM,
        holder: XFS_MOUNT,
        api: ClaimApi::FsPutDax.into(),
        holder_before: XFS_MOUNT,
        stack: StackId(12),
        ..Default::default()
    }));
    let v = judge_script(&s, &CheckOptions::default(), Some(&stacks));
    let leak = &details(&v, "claims-released")[0];
    assert!(
        leak.ends_with(
            "never released; stack fs_dax_get_by_bdev <- ext4_fill_super <- get_tree_bdev [ext4]"
        ),
        "{leak}"
    );
    let unmatched = &details(&v, "no-release-without-claim")[0];
    assert!(
        unmatched.ends_with("; stack fs_put_dax <- xfs_free_buftarg <- xfs_unmountfs"),
        "{unmatched}"
    );
    // Without the stack records, the lines are as before.
    let v = judge_script(&s, &CheckOptions::default(), None);
    assert!(details(&v, "claims-released")[0].ends_with("never released"));
}
