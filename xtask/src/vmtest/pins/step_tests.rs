//! The stack verdicts, the export reader and the whole step on hand-made
//! files.
use super::super::Judge;
use super::fixture::*;
use super::judge;
use super::stacks::{claim_modules, stuck_reader};
use serde_json::{Value, json};
use std::path::Path;

#[test]
fn claim_stacks_must_name_each_module() {
    let cycles = trace(vec![
        stacks()[2].clone(),
        stacks()[3].clone(),
        claim(EXT4_STACK),
        claim(XFS_STACK),
    ]);
    let dm = trace(vec![stacks()[4].clone(), claim(DM_STACK)]);
    let ok = claim_modules(&cycles, &dm).expect("all three");
    assert!(
        ok.contains("__ext4_fill_super [ext4]") && ok.contains("[dm_mod]"),
        "{ok}"
    );
    let dm_without = trace(vec![claim(DM_STACK)]);
    let err = claim_modules(&cycles, &dm_without).expect_err("dm stack not exported");
    assert!(
        err.starts_with("no claim stack through [dm_mod] ("),
        "{err}"
    );
    let ext4_only = trace(vec![stacks()[2].clone(), claim(EXT4_STACK)]);
    assert!(
        claim_modules(&ext4_only, &dm)
            .expect_err("no xfs")
            .contains("[xfs]")
    );
}

#[test]
fn a_stuck_wait_is_named_by_the_reader_of_its_page() {
    let dma = json!({"cases": [
        {"fs": "ext4", "pin": "odirect", "op": "truncate", "op_tid": 572, "pin_tid": 571, "lost_wakeup": true},
        {"fs": "ext4", "pin": "vmsplice", "op": "truncate", "op_tid": 580, "pin_tid": 555, "lost_wakeup": false},
    ]});
    let named = trace(vec![
        stuck(572, 0x48200),
        owner(555, 571, "odirect-read", 0x48200, DIO_STACK),
    ]);
    let ok = stuck_reader(&[(&dma, &named)]).expect("named");
    assert!(ok.contains("by tid 571 (odirect-read)"), "{ok}");
    let other = trace(vec![
        stuck(572, 0x48200),
        owner(555, 570, "truncate", 0x48200, DIO_STACK),
    ]);
    assert!(
        stuck_reader(&[(&dma, &other)]).is_err(),
        "the owner is another thread"
    );
    let elsewhere = trace(vec![
        stuck(572, 0x48200),
        owner(555, 571, "odirect-read", 0x48201, DIO_STACK),
    ]);
    assert!(
        stuck_reader(&[(&dma, &elsewhere)]).is_err(),
        "the owner of another page"
    );
    let unreported = trace(vec![owner(555, 571, "odirect-read", 0x48200, DIO_STACK)]);
    let err = stuck_reader(&[(&dma, &unreported)]).expect_err("no stuck wait");
    assert!(err.contains("no stuck-wait"), "{err}");
    // The pins step's own O_DIRECT case, and no lost wakeup anywhere.
    let mut pins = summary();
    pins["pins"][0]["lost_wakeup"] = json!(true);
    let t = trace(vec![
        stuck(102, DIO_PFN),
        owner(DAX_PID, DIO_TID, "dio-pinner", DIO_PFN, DIO_STACK),
    ]);
    assert!(
        stuck_reader(&[(&pins, &t)])
            .expect("pins case")
            .contains("dio-pinner")
    );
    let calm = stuck_reader(&[(&summary(), &trace(good_events()))]).expect("nothing lost");
    assert!(calm.contains("no lost wakeup"), "{calm}");
}

#[test]
fn stack_lines_are_kept_apart_from_events() {
    let t = trace(good_events());
    assert_eq!(t.stacks.len(), 5);
    assert!(t.events.iter().all(|e| e["type"] != "stack"));
    let frames = &t.stacks[&DIO_STACK];
    assert_eq!(frames[3].function(), "__blkdev_direct_IO_simple");
    assert_eq!(
        t.stacks[&EXT4_STACK][1].display(),
        "__ext4_fill_super [ext4]"
    );
}

/// A share directory as the guest leaves it after the pins, cycles, dm and
/// dma steps; `pins_lines` is the pins step's export.
fn share(pins_lines: &[Value]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: String| {
        std::fs::write(dir.path().join(name), text).expect("write fixture");
    };
    let jsonl = |lines: &[Value]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    write("pins.rc", "0\n".into());
    write("pins.record.rc", "0\n".into());
    write("pins.report.json", "{}".into());
    write("pins.stdout", format!("{}\n", summary()));
    write("pins.jsonl", jsonl(pins_lines));
    let s = stacks();
    write(
        "cycles.jsonl",
        jsonl(&[
            s[2].clone(),
            claim(EXT4_STACK),
            s[3].clone(),
            claim(XFS_STACK),
        ]),
    );
    write("dm.jsonl", jsonl(&[s[4].clone(), claim(DM_STACK)]));
    write(
        "dma.stdout",
        format!("{}\n", json!({"cases": [], "lost_wakeup": false})),
    );
    write("dma.jsonl", String::new());
    dir
}

fn verdicts(dir: &Path) -> Vec<(String, bool, String)> {
    let mut j = Judge {
        verdicts: Vec::new(),
    };
    judge(dir, &mut j);
    j.verdicts
        .into_iter()
        .map(|v| (v.name, v.ok, v.detail))
        .collect()
}

#[test]
fn the_step_is_judged_from_the_files_the_guest_leaves() {
    let dir = share(&good_events());
    let all = verdicts(dir.path());
    assert_eq!(all.len(), 8);
    for (name, ok, detail) in &all {
        assert!(ok, "{name}: {detail}");
    }
    // The kernel side recorded no owner: every owner verdict fails, the
    // refused pin and the claim stacks still hold.
    let dir = share(&edited(|l| l["body"]["type"] == "pin-owner", Vec::new()).events);
    std::fs::write(
        dir.path().join("pins.kallsyms"),
        "ffffffff81b32580 T bio_iov_iter_get_pages\n",
    )
    .expect("kallsyms");
    let failed: Vec<(String, String)> = verdicts(dir.path())
        .into_iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(name, _, detail)| (name, detail))
        .collect();
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "pins: O_DIRECT owner dio-pinner, dio stack",
            "pins: vmsplice owner, vmsplice stack",
            "pins: two processes, two owners of a page",
            "pins: no pin record for O_DIRECT to anon",
        ]
    );
    assert!(
        failed[0].1.contains("\"bio_iov_iter_get_pages\""),
        "{}",
        failed[0].1
    );
    // A workload that failed is reported as such.
    std::fs::write(dir.path().join("pins.rc"), "1\n").expect("rc");
    let all = verdicts(dir.path());
    assert!(!all[0].1, "{:?}", all[0]);
}
