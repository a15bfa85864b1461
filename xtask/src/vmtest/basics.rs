//! The basic judges of a generation's VM run: the workload's smoke, the
//! probes that attached, exact mount cycles, the pagemap rebind and the leak
//! `check` must fail on. The scenarios with more to say have a module each.
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use xtask::vm::{KernelGen, PmemKind};

use super::share::{balance, body_type, device, events, read_json, read_rc, recorded};

/// Mount cycles per filesystem in the `cycles` step (must match vm-test.sh).
const CYCLES: u64 = 3;

/// The workload's smoke held, with MAP_SYNC accepted on e820 pmem and
/// refused on virtio-pmem (not synchronous), on pmem and dm-linear alike.
pub(super) fn smoke(dir: &Path, main: PmemKind) -> Result<String, String> {
    let rc = read_rc(dir, "smoke")?;
    let v = read_json(&dir.join("smoke.json"))?;
    if rc != 0 || v["ok"] != Value::Bool(true) {
        return Err(format!(
            "dax-workload smoke exit {rc}: {}",
            failed_checks(&v)
        ));
    }
    let want = if main == PmemKind::Virtio {
        "MAP_SYNC refused (not synchronous)"
    } else {
        "MAP_SYNC mmap"
    };
    let checks = v["checks"].as_array().map_or(&[][..], Vec::as_slice);
    let map_sync = checks
        .iter()
        .filter(|c| c["name"].as_str().is_some_and(|n| n.ends_with(want)))
        .count();
    // ext4 and xfs, each on pmem0 and on dm-linear over it.
    if map_sync != 4 {
        return Err(format!(
            "{map_sync} of 4 checks are `{want}` on {} pmem",
            main.as_str()
        ));
    }
    Ok(format!("{} checks held, 4 of them `{want}`", checks.len()))
}

pub(super) fn failed_checks(v: &Value) -> String {
    let failed: Vec<String> = v["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["ok"] != Value::Bool(true))
        .map(|c| format!("{}: {}", c["name"], c["detail"]))
        .collect();
    if failed.is_empty() {
        v["error"].to_string()
    } else {
        failed.join("; ")
    }
}

pub(super) fn probes(dir: &Path) -> Result<String, String> {
    let rc = read_rc(dir, "probes")?;
    let v = read_json(&dir.join("probes.json"))?;
    if rc != 0 {
        return Err(format!("daxtrace probes exit {rc}"));
    }
    let families = v["families"]
        .as_array()
        .ok_or("no families in probes.json")?;
    let attached: BTreeSet<String> = families
        .iter()
        .filter(|f| {
            f["points"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["status"]["status"] == Value::String("attached".into()))
        })
        .filter_map(|f| f["family"].as_str().map(str::to_string))
        .collect();
    for needed in ["claim", "release", "layout-wait", "fault"] {
        if !attached.contains(needed) {
            return Err(format!(
                "family {needed} not attached (attached: {attached:?})"
            ));
        }
    }
    Ok(format!(
        "{} of {} families attached",
        attached.len(),
        families.len()
    ))
}

pub(super) fn cycles(kernel: KernelGen, dir: &Path) -> Result<String, String> {
    let report = recorded(dir, "cycles")?;
    let dev = device(&report, "pmem0").ok_or("no device pmem0 in the report")?;
    let (claims, releases) = balance(dev);
    let want = 2 * CYCLES;
    if claims != want || releases != want {
        return Err(format!(
            "pmem0: {claims} claims, {releases} releases; want {want} each (ext4 + xfs x {CYCLES})"
        ));
    }
    let with_holder = dev["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["holder"].as_u64().is_some_and(|x| x != 0))
        .count() as u64;
    if kernel != KernelGen::V5_10 && with_holder < CYCLES {
        return Err(format!(
            "only {with_holder} claims with a holder; xfs passes one on {kernel}"
        ));
    }
    Ok(format!(
        "pmem0: {claims} claims, {releases} releases, {with_holder} with a holder"
    ))
}

pub(super) fn pgmap(dir: &Path) -> Result<String, String> {
    let rc = read_rc(dir, "pgmap")?;
    if rc != 0 {
        return Err(format!("rebinding nd_pmem failed (exit {rc})"));
    }
    let evs = events(dir, "pgmap")?;
    let destroyed = evs
        .iter()
        .filter(|e| body_type(e) == "pagemap-destroy")
        .count();
    let created: Vec<&Value> = evs
        .iter()
        .filter(|e| body_type(e) == "pagemap-create")
        .filter(|e| e["body"]["fs_dax"] == Value::Bool(true))
        .collect();
    let Some(c) = created.first() else {
        return Err(format!(
            "no FS_DAX pagemap-create ({destroyed} pagemap-destroy)"
        ));
    };
    let (start, end) = (
        c["body"]["pfn_start"].as_u64().unwrap_or(0),
        c["body"]["pfn_end"].as_u64().unwrap_or(0),
    );
    if destroyed == 0 || end <= start {
        return Err(format!(
            "{destroyed} pagemap-destroy, FS_DAX pfns {start:#x}..{end:#x}"
        ));
    }
    Ok(format!(
        "{destroyed} destroyed; FS_DAX type {} pfns {start:#x}..{end:#x}",
        c["body"]["memory_type"]
    ))
}

pub(super) fn leak(dir: &Path) -> Result<String, String> {
    let rc = read_rc(dir, "leak.check")?;
    let text = std::fs::read_to_string(dir.join("leak.check.json")).map_err(|e| e.to_string())?;
    if rc != 1 {
        return Err(format!("check exit {rc}, want 1"));
    }
    if !text.contains("pmem0") {
        return Err("the failure does not name pmem0".into());
    }
    Ok("check exit 1 naming pmem0".into())
}
