//! The `prestate-*` steps of the VM stage: what existed before
//! daxtrace attached must be in the trace's state at start, and `check`
//! must judge only what happened during the trace.
//! - ext4 mounted before, unmounted during: pmem0 named with its 512 MiB
//!   and mount point, its claim held at start, check passes;
//! - xfs mounted before and left mounted: held throughout (with its holder
//!   on 6.1+), check passes;
//! - dm-linear over pmem0 made and mounted before: its target at start
//!   (member, offset, length), its removal as an update, check passes;
//! - a truncate waiting on pages pinned by a slow O_DIRECT read: the census
//!   lists the pinned pages with the file's inode and offsets, the waiter is
//!   found asleep with its tid and comm; on 6.1 the wakeup is lost and a
//!   live check started after it fails on that wait within 2 s of attach,
//!   elsewhere the wait ends and check passes.
use super::Judge;
use super::share::{body_type, check_outcome, events, read_json, read_rc, recorded};
use serde_json::Value;
use std::path::Path;
use xtask::vm::KernelGen;

/// pmem0 in the test bed: `memmap=512M!1G`.
const PMEM_BYTES: u64 = 512 << 20;

pub(super) fn judge(kernel: KernelGen, dir: &Path, j: &mut Judge) {
    j.check(
        "prestate: ext4 mounted before, unmounted during",
        mounted_before(dir, "prestate-ext4", "ext4", "/tmp/pre-ext4", None),
    );
    j.check(
        "prestate: ext4 check passes",
        check_outcome(dir, "prestate-ext4", "pass"),
    );
    let holder = (kernel != KernelGen::V5_10).then_some(true);
    j.check(
        "prestate: xfs held throughout",
        mounted_before(dir, "prestate-xfs", "xfs", "/tmp/pre-xfs", holder),
    );
    j.check(
        "prestate: xfs check passes",
        check_outcome(dir, "prestate-xfs", "pass"),
    );
    j.check("prestate: dm-linear topology at start", dm_topology(dir));
    j.check(
        "prestate: dm check passes",
        check_outcome(dir, "prestate-dm", "pass"),
    );
    j.check("prestate: census lists the pinned pages", census(dir));
    j.check("prestate: waiter found asleep at attach", waiter(dir));
    if kernel == KernelGen::V6_1 {
        j.check(
            "prestate: live check fails on the stuck wait",
            live_stuck(dir),
        );
        j.check(
            "why: the lost wakeup is stuck, on an idle page",
            super::why::why_stuck(
                dir,
                "why-lost",
                &[
                    "STUCK: asleep on a page that is idle",
                    "idle at 1: idle",
                    "interruptible",
                ],
            ),
        );
    } else {
        j.check("prestate: the wait found at attach ends", wait_ended(dir));
        j.check(
            "prestate: dma check passes",
            check_outcome(dir, "prestate-dma", "pass"),
        );
    }
}

fn of_type<'a>(evs: &'a [Value], ty: &str) -> Vec<&'a Value> {
    evs.iter().filter(|e| body_type(e) == ty).collect()
}

fn state_end(evs: &[Value]) -> Result<&Value, String> {
    evs.iter()
        .find(|e| body_type(e) == "state-end" && e["body"]["reason"] == 0)
        .ok_or_else(|| "no state at start (state-end) in the trace".to_string())
}

fn mounted_before(
    dir: &Path,
    step: &str,
    fstype: &str,
    mount_point: &str,
    want_holder: Option<bool>,
) -> Result<String, String> {
    let report = recorded(dir, step)?;
    let evs = events(dir, step)?;
    state_end(&evs)?;
    let dev = of_type(&evs, "state-dax-device")
        .into_iter()
        .find(|e| e["body"]["disk"] == "pmem0")
        .ok_or("no state-dax-device for pmem0")?;
    let b = &dev["body"];
    let claims = b["claims"].as_u64().unwrap_or(0);
    let size = b["size_bytes"].as_u64().unwrap_or(0);
    // One mount, one claim: nothing else holds pmem0 in these steps.
    if claims != 1 || size != PMEM_BYTES {
        return Err(format!(
            "pmem0 at start: {claims} claims, {size} bytes: {b}"
        ));
    }
    if want_holder == Some(true) && b["holder"].as_u64().unwrap_or(0) == 0 {
        return Err(format!("xfs holds pmem0 but no holder at start: {b}"));
    }
    let mount = of_type(&evs, "state-mount")
        .into_iter()
        .find(|e| e["body"]["mount_point"] == mount_point && e["body"]["mounted"] == true)
        .ok_or_else(|| format!("no state-mount for {mount_point}"))?;
    if mount["body"]["fstype"] != fstype || mount["body"]["dax"] != true {
        return Err(format!("mount at start: {}", mount["body"]));
    }
    let text = report.to_string();
    for want in ["pmem0", mount_point] {
        if !text.contains(want) {
            return Err(format!("report --json does not name {want}"));
        }
    }
    let releases = of_type(&evs, "release").len();
    Ok(format!(
        "pmem0 512 MiB, {claims} claim(s) held at start, {fstype} on {mount_point}; {releases} release(s) during"
    ))
}

fn dm_topology(dir: &Path) -> Result<String, String> {
    recorded(dir, "prestate-dm")?;
    let evs = events(dir, "prestate-dm")?;
    state_end(&evs)?;
    let targets = of_type(&evs, "state-dm-target");
    let at_start = targets
        .iter()
        .find(|e| e["body"]["dm_name"] == "prelin" && e["body"]["present"] == true)
        .ok_or("no state-dm-target for prelin at start")?;
    let t = &at_start["body"];
    let sectors = t["sectors"].as_u64().unwrap_or(0);
    if t["member_disk"] != "pmem0"
        || t["target"] != "linear"
        || t["member_sector"] != 0
        || sectors != PMEM_BYTES / 512
    {
        return Err(format!("prelin at start: {t}"));
    }
    let removed = targets
        .iter()
        .any(|e| e["body"]["dm_name"] == "prelin" && e["body"]["present"] == false);
    if !removed {
        return Err("the removal of prelin during the trace is not an update".into());
    }
    Ok(format!(
        "{} ({}) linear over pmem0 at 0, {sectors} sectors; removal seen",
        t["dm_name"], t["dm_disk"]
    ))
}

/// The case the `prestate-dma` workload ran.
fn dma_case(dir: &Path) -> Result<Value, String> {
    let v = read_json(&dir.join("prestate-dma.stdout"))?;
    v["cases"]
        .as_array()
        .and_then(|c| c.first())
        .cloned()
        .ok_or_else(|| "no case in prestate-dma.stdout".to_string())
}

fn census(dir: &Path) -> Result<String, String> {
    let case = dma_case(dir)?;
    let ino = case["file_ino"]
        .as_u64()
        .filter(|&i| i != 0)
        .ok_or("no file_ino")?;
    let evs = events(dir, "prestate-dma")?;
    let end = state_end(&evs)?;
    let busy: Vec<&Value> = of_type(&evs, "state-busy-page")
        .into_iter()
        .filter(|e| e["body"]["ino"].as_u64() == Some(ino))
        .collect();
    let mut indexes: Vec<u64> = busy
        .iter()
        .filter_map(|e| e["body"]["index"].as_u64())
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    let pinned = case["pages_pinned"].as_u64().unwrap_or(16);
    let want: Vec<u64> = (0..pinned).collect();
    if indexes != want {
        return Err(format!(
            "census of ino {ino}: indexes {indexes:?}, want {want:?}; {}",
            end["body"]
        ));
    }
    let b = &end["body"];
    Ok(format!(
        "ino {ino}: {} busy pages at indexes 0..{pinned}; census {}/{} pages in {} ms",
        busy.len(),
        b["pages_scanned"],
        b["pages_total"],
        b["elapsed_ns"].as_u64().unwrap_or(0) / 1_000_000
    ))
}

fn waiter(dir: &Path) -> Result<String, String> {
    let case = dma_case(dir)?;
    let tid = case["op_tid"].as_u64().ok_or("no op_tid")?;
    let evs = events(dir, "prestate-dma")?;
    let w = of_type(&evs, "state-wait")
        .into_iter()
        .find(|e| e["body"]["waiter_tid"].as_u64() == Some(tid) && e["body"]["ended"] == false)
        .ok_or_else(|| format!("no state-wait for the truncating thread {tid}"))?;
    let b = &w["body"];
    if w["tid"].as_u64() != Some(tid) || w["comm"].as_str().is_none_or(str::is_empty) {
        return Err(format!(
            "waiter header: tid {} comm {}",
            w["tid"], w["comm"]
        ));
    }
    if b["ino"].as_u64() != case["file_ino"].as_u64() || b["index"].as_u64().is_none_or(|i| i >= 16)
    {
        return Err(format!("waiter's page: {b}"));
    }
    Ok(format!(
        "tid {tid} ({}) asleep on pfn {:#x} (ino {}, index {}) for at least {} ms",
        w["comm"].as_str().unwrap_or("?"),
        b["pfn"].as_u64().unwrap_or(0),
        b["ino"],
        b["index"],
        b["slept_ns"].as_u64().unwrap_or(0) / 1_000_000
    ))
}

fn wait_ended(dir: &Path) -> Result<String, String> {
    let case = dma_case(dir)?;
    let tid = case["op_tid"].as_u64().ok_or("no op_tid")?;
    let evs = events(dir, "prestate-dma")?;
    let ended = of_type(&evs, "state-wait")
        .into_iter()
        .any(|e| e["body"]["waiter_tid"].as_u64() == Some(tid) && e["body"]["ended"] == true);
    if !ended {
        return Err(format!("no ended state-wait for tid {tid}"));
    }
    if let Some(s) = of_type(&evs, "stuck-wait").first() {
        return Err(format!("a stuck wait without a lost wakeup: {}", s["body"]));
    }
    Ok(format!("tid {tid}'s wait ended, no stuck wait"))
}

fn live_stuck(dir: &Path) -> Result<String, String> {
    let case = dma_case(dir)?;
    if case["lost_wakeup"] != true {
        return Err("the workload saw no lost wakeup this time".into());
    }
    let tid = case["op_tid"].as_u64().ok_or("no op_tid")?;
    let rc = read_rc(dir, "prestate-live.check")?;
    let check = read_json(&dir.join("prestate-live.check.json"))?;
    if rc != 1 || check["outcome"] != "fail" {
        return Err(format!(
            "live check exit {rc}, outcome {}",
            check["outcome"]
        ));
    }
    let text = check.to_string();
    if !text.contains(&tid.to_string()) {
        return Err(format!("the failing check does not name tid {tid}"));
    }
    let evs = events(dir, "prestate-live")?;
    let attach = state_end(&evs)?["ts_ns"].as_u64().unwrap_or(0);
    let stuck = of_type(&evs, "stuck-wait")
        .into_iter()
        .find(|e| e["body"]["waiter_tid"].as_u64() == Some(tid))
        .ok_or_else(|| format!("no stuck-wait for tid {tid} in the recording beside it"))?;
    let after_ms = stuck["ts_ns"].as_u64().unwrap_or(0).saturating_sub(attach) / 1_000_000;
    if after_ms > 2_000 {
        return Err(format!(
            "stuck wait flagged {after_ms} ms after attach (> 2 s)"
        ));
    }
    Ok(format!(
        "check fails naming tid {tid} ({}), pfn {:#x}, ino {}; flagged {after_ms} ms after attach",
        stuck["comm"].as_str().unwrap_or("?"),
        stuck["body"]["pfn"].as_u64().unwrap_or(0),
        stuck["body"]["ino"]
    ))
}
