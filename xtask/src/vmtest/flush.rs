//! virtio-pmem flushes: the `flush` step fsyncs a file on ext4 -o dax over
//! virtio-pmem 20 times under `record`; every fsync asks the host to flush,
//! so the recording must hold at least 20 flushes of pmem0 with their
//! latency, in the report (p50/p99/max), the events and Perfetto. On e820
//! pmem no flush goes to a host: the family is absent, not missing.
use serde_json::Value;
use std::path::Path;
use xtask::vm::PmemKind;

use super::share::{body_type, device, events, read_json, recorded};

/// fsyncs in the step (must match vm-test.sh).
const FSYNCS: u64 = 20;

pub(crate) fn judge(dir: &Path, main: PmemKind) -> Result<String, String> {
    let probes = read_json(&dir.join("probes.json"))?;
    let family = probes["families"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["family"] == "pmem-flush"))
        .ok_or("no pmem-flush family in probes.json")?;
    let attached = family["points"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["status"]["status"] == "attached")
        .count();
    if main != PmemKind::Virtio {
        if attached != 0 {
            return Err(format!(
                "pmem-flush attached on {} pmem: {family}",
                main.as_str()
            ));
        }
        return Ok(format!(
            "{} pmem: no flush function, family absent",
            main.as_str()
        ));
    }
    if attached != 2 {
        return Err(format!(
            "{attached} of 2 pmem-flush points attached: {family}"
        ));
    }
    let report = recorded(dir, "flush")?;
    let dev = device(&report, "pmem0").ok_or("no pmem0 in the flush report")?;
    let f = &dev["flushes"];
    let n = |k: &str| f[k].as_u64().unwrap_or(0);
    let (count, p50, p99, max) = (n("count"), n("p50_ns"), n("p99_ns"), n("max_ns"));
    if count < FSYNCS || f["errors"] != 0 || p50 == 0 || !(p50 <= p99 && p99 <= max) {
        return Err(format!("pmem0 flushes after {FSYNCS} fsyncs: {f}"));
    }
    // pmem0's number comes from the report: the two virtio-pmem disks
    // (pmem0 and the DAX root's) probe in either order, so pmem0 is 259:0
    // on one boot and 259:1 on the next.
    let bdev = dev["identity"]["bdev"]
        .as_str()
        .ok_or_else(|| format!("pmem0 has no bdev in the report: {}", dev["identity"]))?;
    let evs = events(dir, "flush")?;
    let flushes: Vec<&Value> = evs
        .iter()
        .filter(|e| body_type(e) == "pmem-flush")
        .collect();
    let named = flushes.iter().filter(|e| e["body"]["dev"] == bdev).count() as u64;
    if named < FSYNCS {
        return Err(format!(
            "{named} of {} pmem-flush events name pmem0 ({bdev})",
            flushes.len()
        ));
    }
    let trace = read_json(&dir.join("flush.perfetto.json"))?;
    let slices = trace["traceEvents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["ph"] == "B" && e["name"] == "pmem flush")
        .count() as u64;
    // Every flush is a slice, the DAX root's (pmem1 on a virtio root) too.
    if slices != flushes.len() as u64 {
        return Err(format!(
            "{slices} Perfetto flush slices for {} pmem-flush events",
            flushes.len()
        ));
    }
    let text = std::fs::read_to_string(dir.join("flush.report.txt")).map_err(|e| e.to_string())?;
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("flushes ") && l.contains("to the host"))
        .ok_or_else(|| format!("no flush line in the text report:\n{text}"))?;
    Ok(format!(
        "{} ({named} events name pmem0, {bdev})",
        line.trim()
    ))
}

/// The exporter saw flushes on a virtio boot: its histogram has pmem0.
pub(crate) fn serve_histogram(dir: &Path) -> Result<String, String> {
    let path = dir.join("serve.metrics");
    let m = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let count = m
        .lines()
        .find(|l| l.starts_with("daxtrace_pmem_flush_duration_seconds_count{device=\"pmem0\""))
        .ok_or("no daxtrace_pmem_flush_duration_seconds_count for pmem0")?;
    let n: u64 = count
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("unreadable: {count}"))?;
    if n == 0 {
        return Err(format!("no flush counted: {count}"));
    }
    Ok(count.to_string())
}
