//! The `dma` step of the VM stage: `dax-workload dma-truncate` under
//! `daxtrace record` truncates DAX files while their pages are pinned for
//! DMA. Asserted on the trace: a wait span, the busy page and its idle
//! transition on the same pfn, the file index of each busy page, a wait
//! span for every case's waiter, and a stuck wait exactly when the
//! workload saw the lost wakeup.
use super::share::{body_type, events, read_json, recorded, total_drops};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

pub(super) fn lost_wakeup(dir: &Path) -> Result<bool, String> {
    let v = read_json(&dir.join("dma.stdout"))?;
    v["lost_wakeup"]
        .as_bool()
        .ok_or_else(|| "dma.stdout has no lost_wakeup".to_string())
}

pub(super) fn dma(dir: &Path) -> Result<String, String> {
    let report = recorded(dir, "dma")?;
    let evs = events(dir, "dma")?;
    let waits: Vec<u64> = evs
        .iter()
        .filter(|e| body_type(e) == "wait-end")
        .filter_map(|e| e["body"]["latency_ns"].as_u64())
        .collect();
    if !waits.iter().any(|&l| l > 0) {
        return Err(format!(
            "no wait span with latency > 0 ({} wait-end)",
            waits.len()
        ));
    }
    let pfns = |t: &str| -> BTreeSet<u64> {
        evs.iter()
            .filter(|e| body_type(e) == t)
            .filter_map(|e| e["body"]["pfn"].as_u64())
            .collect()
    };
    let busy = pfns("busy-page");
    let idle = pfns("page-idle");
    let both = busy.intersection(&idle).count();
    if both == 0 {
        return Err(format!(
            "no idle transition for a busy pfn ({} busy pfns, {} idle pfns)",
            busy.len(),
            idle.len()
        ));
    }
    let drops = total_drops(&report);
    if drops != 0 {
        return Err(format!("{drops} events dropped"));
    }
    let max = waits.iter().max().copied().unwrap_or(0);
    Ok(format!(
        "{} waits (max {:.1} ms), {} busy pfns, {both} of them idled, 0 drops",
        waits.len(),
        max as f64 / 1e6,
        busy.len()
    ))
}

/// Pages dma-truncate pins at the start of each file (must match the
/// workload's PIN_LEN / PAGE_SIZE).
pub(super) const DMA_PINNED_PAGES: u64 = 16;

/// Every busy page of the DMA recording names its index in the file, and
/// that index lies in the pinned range at the start of the file.
pub(super) fn dma_busy_index(dir: &Path) -> Result<String, String> {
    let evs = events(dir, "dma")?;
    let busy: Vec<&Value> = evs.iter().filter(|e| body_type(e) == "busy-page").collect();
    if busy.is_empty() {
        return Err("no busy-page event".into());
    }
    let missing = busy.iter().filter(|e| e["body"]["index"].is_null()).count();
    if missing > 0 {
        return Err(format!(
            "{missing} of {} busy-page events without an index",
            busy.len()
        ));
    }
    let indexes: BTreeSet<u64> = busy
        .iter()
        .filter_map(|e| e["body"]["index"].as_u64())
        .collect();
    if let Some(bad) = indexes.iter().find(|&&i| i >= DMA_PINNED_PAGES) {
        return Err(format!(
            "busy page at index {bad}, outside the {DMA_PINNED_PAGES} pinned pages ({indexes:?})"
        ));
    }
    Ok(format!(
        "{} busy-page events, indexes {indexes:?}",
        busy.len()
    ))
}

/// Every dma-truncate case (each pin, each operation, each filesystem): the
/// waiting thread the workload names has a wait span with a latency, and a
/// stuck wait names it exactly when that case lost its wakeup.
pub(super) fn dma_cases(dir: &Path) -> Result<String, String> {
    let summary = read_json(&dir.join("dma.stdout"))?;
    let cases = summary["cases"]
        .as_array()
        .ok_or("no cases in dma.stdout")?;
    let evs = events(dir, "dma")?;
    let mut problems = Vec::new();
    let mut lost = 0;
    for case in cases {
        let name = format!("{}/{}/{}", case["fs"], case["pin"], case["op"]).replace('"', "");
        let Some(tid) = case["op_tid"].as_u64() else {
            problems.push(format!("{name}: no op_tid"));
            continue;
        };
        let waited = evs.iter().any(|e| {
            body_type(e) == "wait-end"
                && e["tid"].as_u64() == Some(tid)
                && e["body"]["latency_ns"].as_u64().is_some_and(|l| l > 0)
        });
        if !waited {
            problems.push(format!("{name}: no wait span for tid {tid}"));
        }
        let stuck = evs
            .iter()
            .any(|e| body_type(e) == "stuck-wait" && e["body"]["waiter_tid"].as_u64() == Some(tid));
        let lost_here = case["lost_wakeup"] == Value::Bool(true);
        lost += usize::from(lost_here);
        if stuck != lost_here {
            problems.push(format!(
                "{name}: lost wakeup {lost_here}, stuck wait reported {stuck}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "{} cases each with a wait span; {lost} lost wakeups, {lost} stuck waits on their waiters",
            cases.len()
        ))
    } else {
        Err(problems.join("; "))
    }
}

pub(super) fn stuck_waits(dir: &Path, want: bool) -> Result<String, String> {
    let evs = events(dir, "dma")?;
    let stuck = evs.iter().filter(|e| body_type(e) == "stuck-wait").count();
    match (want, stuck) {
        (true, 0) => Err("the workload lost a wakeup but no stuck wait was reported".into()),
        (false, n) if n > 0 => Err(format!("{n} stuck waits reported, none expected")),
        (_, n) => Ok(format!("{n} stuck-wait events")),
    }
}
