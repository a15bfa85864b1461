//! The `evict` step of the VM stage: `dax-workload evict-dma` under
//! `daxtrace record` unlinks or unmounts DAX files while their pages are
//! pinned (O_DIRECT from a slow device, vmsplice into a pipe), and again
//! after the pin ended (the control). Before 6.15 the kernel lets the pages
//! go at once: each case must give a `page-orphaned` by the evicting thread,
//! its owner, an `orphan-idle` when the DMA ended, and a failing check. From
//! 6.15 the eviction waits: each case must give a wait span by the evicting
//! thread (`dax-break-layout-final`), no orphan, and a passing check. The
//! controls give neither.
use super::share::{body_type, events, read_json, recorded};
use serde_json::Value;
use std::path::Path;

/// One case of the workload's summary.
struct Case<'a> {
    name: String,
    json: &'a Value,
}

impl Case<'_> {
    fn u64(&self, field: &str) -> Option<u64> {
        self.json[field].as_u64()
    }

    fn during(&self) -> bool {
        self.json["when"] == "during"
    }

    fn dev(&self) -> Option<&str> {
        self.json["dev"].as_str()
    }

    /// The event concerns this case's file: its inode on its device, from
    /// the pin's start to 100 ms after both the pin and the eviction ended
    /// (every case makes a fresh filesystem, so inode numbers repeat from
    /// case to case; the next case's pin starts about 100 ms later).
    fn file_of(&self, ev: &Value) -> bool {
        ev["body"]["ino"].as_u64() == self.u64("file_ino")
            && self
                .dev()
                .is_none_or(|d| ev["body"]["dev"].as_str() == Some(d))
            && self.during_case(ev)
    }

    /// `ev` happened while this case ran.
    fn during_case(&self, ev: &Value) -> bool {
        let (Some(start), Some(ts)) = (self.u64("pin_start_monotonic_ns"), ev["ts_ns"].as_u64())
        else {
            return false;
        };
        let last_ms = self
            .u64("op_end_ms")
            .unwrap_or(0)
            .max(self.u64("pin_end_ms").unwrap_or(0));
        ts >= start && ts <= start + (last_ms + 100) * 1_000_000
    }
}

fn cases(summary: &Value) -> Result<Vec<Case<'_>>, String> {
    let cases = summary["evictions"]
        .as_array()
        .ok_or("no evictions in the workload's summary")?;
    Ok(cases
        .iter()
        .map(|c| Case {
            name: format!("{}/{}/{}/{}", c["fs"], c["pin"], c["op"], c["when"]).replace('"', ""),
            json: c,
        })
        .collect())
}

/// Whether the kernel waits at eviction (6.15+), as the workload found it.
pub(super) fn waits_on_evict(dir: &Path) -> Result<bool, String> {
    read_json(&dir.join("evict.stdout"))?["waits_on_evict"]
        .as_bool()
        .ok_or_else(|| "evict.stdout has no waits_on_evict".to_string())
}

/// Before 6.15: every pinned case's page is let go by the evicting thread
/// while busy, with its owner named, and goes idle when the pin ends; the
/// controls let nothing go.
pub(super) fn orphaned(dir: &Path) -> Result<String, String> {
    recorded(dir, "evict")?;
    let summary = read_json(&dir.join("evict.stdout"))?;
    let evs = events(dir, "evict")?;
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    for case in cases(&summary)? {
        let orphans: Vec<&Value> = evs
            .iter()
            .filter(|e| body_type(e) == "page-orphaned" && case.file_of(e))
            .collect();
        if !case.during() {
            if !orphans.is_empty() {
                problems.push(format!(
                    "{}: {} orphaned pages in the control",
                    case.name,
                    orphans.len()
                ));
            }
            continue;
        }
        let evictor = case.u64("evictor_tid");
        let Some(first) = orphans.first() else {
            problems.push(format!(
                "{}: no page-orphaned for inode {:?}",
                case.name,
                case.u64("file_ino")
            ));
            continue;
        };
        if first["tid"].as_u64() != evictor {
            problems.push(format!(
                "{}: orphaned by tid {} ({}), the evictor is {evictor:?}",
                case.name, first["tid"], first["comm"]
            ));
        }
        let pfn = first["body"]["pfn"].as_u64();
        let owner = evs.iter().any(|e| {
            body_type(e) == "pin-owner"
                && e["body"]["pfn"].as_u64() == pfn
                && e["tid"].as_u64() == case.u64("pin_tid")
        });
        if !owner {
            problems.push(format!(
                "{}: no pin-owner of pfn {pfn:?} naming the pinning thread {:?}",
                case.name,
                case.u64("pin_tid")
            ));
        }
        let idle = evs.iter().find(|e| {
            body_type(e) == "orphan-idle"
                && e["body"]["page"] == first["body"]["page"]
                && e["body"]["orphaned_ns"] == first["ts_ns"]
        });
        let after_ms = idle.and_then(|i| {
            Some(
                (i["ts_ns"]
                    .as_u64()?
                    .saturating_sub(first["ts_ns"].as_u64()?))
                    / 1_000_000,
            )
        });
        match after_ms {
            Some(ms) => lines.push(format!(
                "{} orphaned by tid {evictor:?}, busy {ms} ms after",
                case.name
            )),
            None => problems.push(format!(
                "{}: pfn {pfn:?} never went idle in the trace",
                case.name
            )),
        }
    }
    if problems.is_empty() {
        Ok(lines.join("; "))
    } else {
        Err(problems.join("; "))
    }
}

/// Before 6.15: check fails, and only on `no-orphaned-busy-pages`, whose
/// lines name both the evicting and the pinning thread.
pub(super) fn check_fails_naming_both(dir: &Path) -> Result<String, String> {
    let v = read_json(&dir.join("evict.check.json"))?;
    let summary = read_json(&dir.join("evict.stdout"))?;
    if v["outcome"] != "fail" {
        return Err(format!("outcome {}, want fail", v["outcome"]));
    }
    let failing: Vec<&str> = v["assertions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["status"] == "fail")
        .filter_map(|a| a["id"].as_str())
        .collect();
    if failing != ["no-orphaned-busy-pages"] {
        return Err(format!(
            "failing assertions {failing:?}, want only no-orphaned-busy-pages"
        ));
    }
    let details: Vec<&str> = v["assertions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["id"] == "no-orphaned-busy-pages")
        .flat_map(|a| a["details"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    for case in cases(&summary)?.iter().filter(|c| c.during()) {
        let (Some(evictor), Some(pinner)) = (case.u64("evictor_tid"), case.u64("pin_tid")) else {
            return Err(format!("{}: no evictor_tid or pin_tid", case.name));
        };
        let named = details
            .iter()
            .any(|d| d.contains(&format!("/{evictor}]")) || d.contains(&format!("[{evictor}]")));
        let pinned = details
            .iter()
            .any(|d| d.contains(&format!("/{pinner}]")) || d.contains(&format!("[{pinner}]")));
        if !named || !pinned {
            return Err(format!(
                "{}: no line names evictor {evictor} ({named}) and pinner {pinner} ({pinned}): {details:?}",
                case.name
            ));
        }
    }
    Ok(format!(
        "{} lines; e.g. {}",
        details.len(),
        details.first().unwrap_or(&"")
    ))
}

/// From 6.15: every pinned case's evicting thread has a wait span of the
/// eviction API ending after the pin ended; the controls wait for nothing;
/// no page is orphaned.
pub(super) fn evict_waits(dir: &Path) -> Result<String, String> {
    recorded(dir, "evict")?;
    let summary = read_json(&dir.join("evict.stdout"))?;
    let evs = events(dir, "evict")?;
    let orphans = evs
        .iter()
        .filter(|e| body_type(e) == "page-orphaned")
        .count();
    let mut problems = Vec::new();
    if orphans > 0 {
        problems.push(format!(
            "{orphans} page-orphaned events on a kernel that waits"
        ));
    }
    let mut lines = Vec::new();
    for case in cases(&summary)? {
        let evictor = case.u64("evictor_tid");
        let waits: Vec<&Value> = evs
            .iter()
            .filter(|e| {
                body_type(e) == "wait-end"
                    && e["tid"].as_u64() == evictor
                    && e["body"]["api"] == "dax-break-layout-final"
                    && case.during_case(e)
            })
            .collect();
        // The wait ends when the pin does: not before the pin's end as the
        // workload saw it (less 50 ms: the workload notes the end after the
        // read returns; the kernel wakes the waiter as the page goes idle).
        let pin_end_ns = case
            .u64("pin_start_monotonic_ns")
            .zip(case.u64("pin_end_ms"))
            .map(|(start, ms)| start + ms * 1_000_000);
        let ended_ns = |w: &Value| w["ts_ns"].as_u64();
        match (case.during(), waits.first()) {
            (true, None) => problems.push(format!(
                "{}: no eviction wait by tid {evictor:?}",
                case.name
            )),
            (true, Some(w))
                if pin_end_ns
                    .zip(ended_ns(w))
                    .is_none_or(|(end, ts)| ts + 50_000_000 < end) =>
            {
                problems.push(format!(
                    "{}: the eviction wait ended at {:?} ns, before the pin ended at {pin_end_ns:?}",
                    case.name,
                    ended_ns(w)
                ))
            }
            (true, Some(w)) => lines.push(format!(
                "{} waited {} ms, ended {} ms after the pin",
                case.name,
                w["body"]["latency_ns"].as_u64().unwrap_or(0) / 1_000_000,
                ended_ns(w)
                    .zip(pin_end_ns)
                    .map_or(0, |(ts, end)| ts.saturating_sub(end) / 1_000_000)
            )),
            (false, Some(_)) => problems.push(format!("{}: a wait span in the control", case.name)),
            (false, None) => {}
        }
    }
    if problems.is_empty() {
        Ok(lines.join("; "))
    } else {
        Err(problems.join("; "))
    }
}

/// From 6.15: the vmsplice cases' eviction waits outlast the stuck
/// threshold on a page the pipe holds: a `blocked-wait` on the evictor,
/// and the report names the vmsplicing thread as the page's owner.
pub(super) fn blocked_by_pipe(dir: &Path) -> Result<String, String> {
    let summary = read_json(&dir.join("evict.stdout"))?;
    let report = read_json(&dir.join("evict.report.json"))?;
    let evs = events(dir, "evict")?;
    let blocked = report["summary"]["blocked_wait_list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut lines = Vec::new();
    for case in cases(&summary)?
        .iter()
        .filter(|c| c.during() && c.json["pin"] == "vmsplice")
    {
        let evictor = case.u64("evictor_tid");
        let pinner = case.u64("pin_tid");
        if !evs
            .iter()
            .any(|e| body_type(e) == "blocked-wait" && e["body"]["waiter_tid"].as_u64() == evictor)
        {
            return Err(format!(
                "{}: no blocked-wait for the evictor {evictor:?}",
                case.name
            ));
        }
        let named = blocked.iter().any(|b| {
            b["waiter_tid"].as_u64() == evictor
                && b["owners"]["owners"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|o| o["tid"].as_u64() == pinner)
        });
        if !named {
            return Err(format!(
                "{}: the report's blocked wait of {evictor:?} does not name the vmsplicer {pinner:?}: {blocked:?}",
                case.name
            ));
        }
        lines.push(format!(
            "{}: evictor {evictor:?} blocked, pipe owner {pinner:?} named",
            case.name
        ));
    }
    if lines.is_empty() {
        return Err("no vmsplice case during the pin".into());
    }
    Ok(lines.join("; "))
}

/// The kernel's own warning of the hazard (`WARN_ON_ONCE` in
/// `dax_disassociate_entry`, before 6.15): expected once per boot from this
/// step, so not a sign of a sick kernel.
pub(super) fn is_expected_warning(console_line: &str) -> bool {
    console_line.contains("WARNING:") && console_line.contains("dax_disassociate_entry")
}

/// From 6.15: an unlink asleep in its eviction wait before daxtrace
/// attached is found by the state at start as uninterruptible, reported
/// blocked on its busy page, and seen to end when the pipe is drained.
pub(super) fn prestate_evict(dir: &Path) -> Result<String, String> {
    let rc = super::share::read_rc(dir, "prestate-evict")?;
    if rc != 0 {
        return Err(format!("workload exit {rc}"));
    }
    let summary = read_json(&dir.join("prestate-evict.stdout"))?;
    let case = cases(&summary)?
        .into_iter()
        .next()
        .ok_or("no eviction case")?;
    let evictor = case.u64("evictor_tid");
    let evs = events(dir, "prestate-evict")?;
    let found = evs
        .iter()
        .find(|e| {
            body_type(e) == "state-wait"
                && e["body"]["waiter_tid"].as_u64() == evictor
                && e["body"]["ended"] == false
        })
        .ok_or_else(|| format!("no state-wait for the evictor {evictor:?}"))?;
    if found["body"]["uninterruptible"] != true {
        return Err(format!(
            "the evictor's state-wait is not uninterruptible: {found}"
        ));
    }
    let blocked = evs
        .iter()
        .find(|e| body_type(e) == "blocked-wait" && e["body"]["waiter_tid"].as_u64() == evictor)
        .ok_or_else(|| format!("no blocked-wait for the evictor {evictor:?}"))?;
    let ended = evs.iter().any(|e| {
        body_type(e) == "state-wait"
            && e["body"]["waiter_tid"].as_u64() == evictor
            && e["body"]["ended"] == true
    });
    if !ended {
        return Err("the evictor's wait was not seen to end".into());
    }
    Ok(format!(
        "evictor {evictor:?} found asleep {} ms (uninterruptible), blocked on pfn {}, end seen",
        found["body"]["slept_ns"].as_u64().unwrap_or(0) / 1_000_000,
        blocked["body"]["pfn"]
    ))
}
