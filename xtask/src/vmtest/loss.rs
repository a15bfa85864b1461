//! The loss test of the VM stage: `daxtrace record --fault-events
//! --ring-buffer-bytes 4096` around `dax-workload faults --passes N` pushes
//! fault records (one per fault, not the default in-kernel counts) faster
//! than userspace drains a one-page ring buffer. Judged here: the kernel's drops
//! are counted per point and reach the trace (summary and `drops` events),
//! every fault is accounted for (recorded or counted as dropped), `check`
//! says inconclusive (exit 2), and the recorder, the workload and the
//! readers of the trace still work.
use std::collections::BTreeMap;
use std::path::Path;

use dax_trace_common::probe::{Family, POINTS};
use serde_json::Value;

use super::share::{events, read_json, read_rc};

/// `--passes` of the loss step (must match vm-test.sh).
pub const LOSS_PASSES: u64 = 40;
/// 4 KiB pages of the faults scenario's PTE file, each read then written per pass.
const PTE_PAGES: u64 = 256;

fn is_fault_point(point: &str) -> bool {
    point
        .parse::<usize>()
        .ok()
        .and_then(|i| POINTS.get(i))
        .is_some_and(|p| p.family == Family::Fault)
}

pub fn judge(dir: &Path) -> Result<String, String> {
    let mut problems = Vec::new();
    for (step, want) in [("loss", 0), ("loss.record", 0), ("loss.check", 2)] {
        match read_rc(dir, step) {
            Ok(rc) if rc == want => {}
            Ok(rc) => problems.push(format!("{step} exit {rc}, want {want}")),
            Err(e) => problems.push(e),
        }
    }
    let report = read_json(&dir.join("loss.report.json"))?;
    if report["end"] != Value::String("complete".into()) {
        problems.push(format!("trace end {}, want complete", report["end"]));
    }
    let per_point: BTreeMap<String, u64> = report["summary"]["drops"]["per_point"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let fault_drops: u64 = per_point
        .iter()
        .filter(|(p, _)| is_fault_point(p))
        .map(|(_, n)| n)
        .sum();
    let fault_events = report["summary"]["totals"]["by_kind"]["fault"]
        .as_u64()
        .unwrap_or(0);
    if fault_drops == 0 {
        problems.push(format!("no drops counted at a fault point ({per_point:?})"));
    }
    // Every touch faults at least once: recorded + dropped covers them all.
    let touches = 2 * PTE_PAGES * LOSS_PASSES;
    if fault_events + fault_drops < touches {
        problems.push(format!(
            "{fault_events} fault events + {fault_drops} dropped < {touches} touches"
        ));
    }
    if fault_events == 0 {
        problems.push("no fault event survived".into());
    }
    // The `drops` events carry running totals per point: the last of each
    // point is the summary's figure.
    let mut last_total: BTreeMap<String, u64> = BTreeMap::new();
    for ev in events(dir, "loss")? {
        if ev["body"]["type"] == Value::String("drops".into()) {
            let point = ev["body"]["point"].to_string();
            last_total.insert(point, ev["body"]["total"].as_u64().unwrap_or(0));
        }
    }
    let nonzero: BTreeMap<String, u64> = per_point.into_iter().filter(|(_, n)| *n > 0).collect();
    if last_total != nonzero {
        problems.push(format!(
            "drops events {last_total:?} differ from the summary {nonzero:?}"
        ));
    }
    let check = read_json(&dir.join("loss.check.json"))?;
    let drops_assertion = check["assertions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["id"] == Value::String("no-dropped-events".into()));
    match drops_assertion {
        Some(a) if a["status"] == Value::String("inconclusive".into()) => {}
        other => problems.push(format!("no-dropped-events assertion: {other:?}")),
    }
    if check["outcome"] != Value::String("inconclusive".into()) {
        problems.push(format!("check outcome {}", check["outcome"]));
    }
    if problems.is_empty() {
        Ok(format!(
            "{fault_events} fault events kept, {fault_drops} dropped at fault points, check inconclusive"
        ))
    } else {
        Err(problems.join("; "))
    }
}
