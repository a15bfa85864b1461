//! The `pins` step of the VM stage ("who pinned it"):
//! `dax-workload pin-owners` under `daxtrace record`, judged from its JSONL
//! export and the workload's own record of each case (pids, tids, comms,
//! inode, pfn):
//! - the O_DIRECT pin of the thread `dio-pinner` is a `pin-owner` with that
//!   thread's pid, tid and comm on a page of the file, with a kernel stack
//!   through the direct-I/O path;
//! - the vmsplice pin of `splice-pinner` likewise, its stack through vmsplice;
//! - two processes vmsplicing the same page are two owners of one pfn;
//! - IORING_REGISTER_BUFFERS over the DAX mapping, by a child process that
//!   exits at once after the refusal, is a `refused-pin` naming the process,
//!   the thread and the file: its path, inode and device as the kernel read
//!   them at the refusal (`path_from` 2), not from /proc afterwards;
//! - O_DIRECT into anonymous memory (the control, its own process) leaves no
//!   pin record at all, while the owners above were recorded;
//! - the claim stacks of the `cycles` and `dm` steps name their modules
//!   (ext4_fill_super in ext4, xfs, dm_mod);
//! - a wait the kernel leaves stuck (a lost wakeup, Debian 6.1) is on a page
//!   whose owner is the thread whose read pinned it (`dma` and `pins` steps).
mod owners;
mod stacks;
mod trace;

use super::Judge;
use super::share::{body_type, read_json, recorded};
use owners::{control, odirect_owner, refused_uring, two_owners, vmsplice_owner};
use serde_json::Value;
use stacks::{claim_modules, stuck_reader};
use std::collections::BTreeSet;
use std::path::Path;
use trace::Trace;

/// Whether a function is on the direct-I/O path between the read and the
/// gup call: the block device's own (`blkdev_direct_IO`,
/// `__blkdev_direct_IO_simple`/`_async`), the old direct-io
/// (`__blockdev_direct_IO`), iomap's (`iomap_dio_rw`, `__iomap_dio_rw`,
/// `iomap_dio_bio_iter`/`_actor`) and the bio helper they share
/// (`bio_iov_iter_get_pages` and its variants). Which of them are out of
/// line differs per kernel, hence families, not a list. Not
/// `iov_iter_get_pages*` / `iov_iter_extract_pages`: vmsplice goes through
/// those too.
fn is_dio_function(name: &str) -> bool {
    let name = name.trim_start_matches('_');
    name.starts_with("bio_iov_iter_get_pages")
        || name.starts_with("iomap_dio_")
        || name.contains("blkdev_direct_IO")
        || name.contains("blockdev_direct_IO")
}

/// EOPNOTSUPP, the kernel's answer to a long-term pin of FS-DAX memory.
const EOPNOTSUPP: i64 = 95;

pub(super) fn judge(dir: &Path, j: &mut Judge) {
    j.check("pins: workload cases held", workload(dir));
    let loaded =
        read_json(&dir.join("pins.stdout")).and_then(|s| Ok((s, Trace::load(dir, "pins")?)));
    let on_pins = |f: fn(&Value, &Trace) -> Result<String, String>| match &loaded {
        Ok((summary, trace)) => f(summary, trace),
        Err(e) => Err(e.clone()),
    };
    j.check(
        "pins: O_DIRECT owner dio-pinner, dio stack",
        on_pins(odirect_owner).map_err(|e| format!("{e}; {}", kallsyms_note(dir))),
    );
    j.check(
        "pins: vmsplice owner, vmsplice stack",
        on_pins(vmsplice_owner),
    );
    j.check(
        "pins: two processes, two owners of a page",
        on_pins(two_owners),
    );
    j.check(
        "pins: io_uring buffers a refused pin",
        on_pins(refused_uring),
    );
    j.check("pins: no pin record for O_DIRECT to anon", on_pins(control));
    j.check(
        "pins: claim stacks name ext4, xfs, dm_mod",
        Trace::load(dir, "cycles")
            .and_then(|cycles| Ok((cycles, Trace::load(dir, "dm")?)))
            .and_then(|(cycles, dm)| claim_modules(&cycles, &dm)),
    );
    // dma-truncate's cases, and this step's own O_DIRECT case when it loaded.
    let stuck = read_json(&dir.join("dma.stdout"))
        .and_then(|dma| Ok((dma, Trace::load(dir, "dma")?)))
        .and_then(|(dma, dma_trace)| {
            let mut steps = vec![(&dma, &dma_trace)];
            if let Ok((pins, pins_trace)) = &loaded {
                steps.push((pins, pins_trace));
            }
            stuck_reader(&steps)
        });
    j.check("pins: stuck wait's page names its reader", stuck);
}

fn workload(dir: &Path) -> Result<String, String> {
    recorded(dir, "pins")?;
    let summary = read_json(&dir.join("pins.stdout"))?;
    let pins = summary["pins"].as_array().ok_or("no pins in pins.stdout")?;
    let cases: Vec<String> = pins
        .iter()
        .map(|p| format!("{}/{}", p["fs"], p["case"]).replace('"', ""))
        .collect();
    Ok(format!(
        "{} cases ({}), lost wakeup {}",
        pins.len(),
        cases.join(", "),
        summary["lost_wakeup"]
    ))
}

/// A task as the workload recorded it.
#[derive(Debug)]
struct Task {
    pid: u64,
    tid: u64,
    comm: String,
}

fn case<'a>(summary: &'a Value, name: &str) -> Result<&'a Value, String> {
    summary["pins"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["case"] == name)
        .ok_or_else(|| format!("no `{name}` case in the workload's pins"))
}

fn tasks(case: &Value) -> Result<Vec<Task>, String> {
    let tasks: Vec<Task> = case["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some(Task {
                pid: t["pid"].as_u64()?,
                tid: t["tid"].as_u64()?,
                comm: t["comm"].as_str()?.to_string(),
            })
        })
        .collect();
    if tasks.is_empty() {
        return Err(format!("the `{}` case names no task: {case}", case["case"]));
    }
    Ok(tasks)
}

/// The pfns of the case's file: its first page as the workload mapped it,
/// and every busy page the trace saw with the file's inode.
fn file_pfns(trace: &Trace, case: &Value) -> BTreeSet<u64> {
    let ino = case["file_ino"].as_u64().filter(|&i| i != 0);
    trace
        .of_type("busy-page")
        .filter(|e| ino.is_some() && e["body"]["ino"].as_u64() == ino)
        .filter_map(|e| e["body"]["pfn"].as_u64())
        .chain(case["pfn"].as_u64().filter(|&p| p != 0))
        .collect()
}

fn is_task(ev: &Value, t: &Task) -> bool {
    ev["pid"].as_u64() == Some(t.pid) && ev["tid"].as_u64() == Some(t.tid)
}

/// Every pin-owner event: `pid/tid comm @pfn`, for failure details.
fn owners_seen(trace: &Trace) -> String {
    let all: Vec<String> = trace
        .of_type("pin-owner")
        .map(|e| {
            format!(
                "{}/{} {} @{:#x}",
                e["pid"],
                e["tid"],
                e["comm"].as_str().unwrap_or("?"),
                e["body"]["pfn"].as_u64().unwrap_or(0)
            )
        })
        .collect();
    if all.is_empty() {
        "no pin-owner event at all".to_string()
    } else {
        format!("{} pin-owner events: {}", all.len(), all.join(", "))
    }
}

/// Which direct-I/O functions the guest's kallsyms has (the step saves the
/// lines naming them in pins.kallsyms): for a failure's detail.
fn kallsyms_note(dir: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(dir.join("pins.kallsyms")) else {
        return "no pins.kallsyms".to_string();
    };
    let present: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|name| is_dio_function(name.split('.').next().unwrap_or("")))
        .collect();
    format!("guest kallsyms has {present:?}")
}

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod owner_tests;
#[cfg(test)]
mod step_tests;
