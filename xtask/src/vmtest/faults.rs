//! The fault steps of the VM stage. `faults`: `dax-workload faults` on ext4
//! and xfs under `daxtrace record`. `lastdrain`: the same on ext4 while the
//! recorder pauses 10 s after each drain of the ring buffer, so that when
//! recording stops every fault record is still in the ring buffer, and only
//! the last drain at the stop can save it (CI on 7 once lost all fault
//! records of `faults` that way: the stop came before the reader woke).
//!
//! `faults` records with the default (faults counted in the kernel),
//! `lastdrain` with `--fault-events` (a record per fault: what the last
//! drain must save). `lastcount`: `lastdrain` with the default, so the
//! faults fall in the pause after the mount's drain and only the reading
//! of the counts at the stop sees them.
//!
//! Asserted on the trace: every PTE read, PTE write and PMD touch the
//! workload reports is at least one fault on pmem0 (counted or recorded);
//! the default trace carries its faults as `fault-counts` events and no
//! `fault` record, the `--fault-events` one as `fault` records and no
//! `fault-counts`.
use super::Judge;
use super::share::{device, kind_count, read_json, recorded, total_drops};
use serde_json::Value;
use std::path::Path;
use xtask::vm::KernelGen;

pub(super) fn judge(kernel: KernelGen, dir: &Path, j: &mut Judge) {
    j.check("faults: PTE and PMD faults on pmem0", faults(dir, "faults"));
    j.check(
        "lastdrain: a stop drains the ring buffer",
        faults(dir, "lastdrain"),
    );
    // `lastcount` runs on 6.1 and 7 only (vm-test.sh).
    if matches!(kernel, KernelGen::V6_1 | KernelGen::V7) {
        j.check(
            "lastcount: a stop reads the fault counts",
            faults(dir, "lastcount"),
        );
    }
    j.check(
        "faults: counted in the kernel by default (fault-counts, no fault records)",
        recorded(dir, "faults").and_then(|r| carried(&r, Carrier::Counts)),
    );
    j.check(
        "lastdrain: --fault-events records each fault (fault records, no fault-counts)",
        recorded(dir, "lastdrain").and_then(|r| carried(&r, Carrier::Records)),
    );
}

/// How a trace carries its faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Carrier {
    /// `fault-counts` events only (the default).
    Counts,
    /// A `fault` record per fault only (`record --fault-events`).
    Records,
}

/// Whether `report` (of `report --json`) carries its faults as `want` says.
fn carried(report: &Value, want: Carrier) -> Result<String, String> {
    let counts = kind_count(report, "fault-counts");
    let records = kind_count(report, "fault");
    let seen = format!("{counts} fault-counts events, {records} fault records");
    let ok = match want {
        Carrier::Counts => counts > 0 && records == 0,
        Carrier::Records => records > 0 && counts == 0,
    };
    if ok { Ok(seen) } else { Err(seen) }
}

/// The PTE and PMD touches the workload made, over its filesystems.
fn touches(workload: &Value) -> Result<(u64, u64), String> {
    let per_fs = workload["faults"]
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or("the workload reports no faults")?;
    let sum = |keys: &[&str]| -> u64 {
        per_fs
            .iter()
            .map(|fs| {
                keys.iter()
                    .map(|k| fs[*k].as_u64().unwrap_or(0))
                    .sum::<u64>()
            })
            .sum()
    };
    Ok((
        sum(&["pte_read_touches", "pte_write_touches"]),
        sum(&["pmd_touches"]),
    ))
}

fn faults(dir: &Path, step: &str) -> Result<String, String> {
    let report = recorded(dir, step)?;
    let workload = read_json(&dir.join(format!("{step}.stdout")))?;
    let (want_pte, want_pmd) = touches(&workload)?;
    let dev = device(&report, "pmem0").ok_or("no device pmem0 in the report")?;
    let pte = dev["faults"]["pte"].as_u64().unwrap_or(0);
    let pmd = dev["faults"]["pmd"].as_u64().unwrap_or(0);
    let drops = total_drops(&report);
    let seen = format!(
        "pmem0: {pte} PTE, {pmd} PMD faults for {want_pte} PTE and {want_pmd} PMD touches, {drops} drops"
    );
    if pte < want_pte || pmd < want_pmd || pte == 0 || pmd == 0 {
        return Err(seen);
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn touches_add_up_over_filesystems() {
        let w = json!({"faults": [
            {"fs": "ext4", "pte_read_touches": 256, "pte_write_touches": 256, "pmd_touches": 4},
            {"fs": "xfs", "pte_read_touches": 10, "pte_write_touches": 0, "pmd_touches": 1},
        ]});
        assert_eq!(touches(&w), Ok((522, 5)));
        assert!(touches(&json!({"faults": []})).is_err());
        assert!(touches(&json!({})).is_err());
    }

    fn by_kind(kinds: Value) -> Value {
        json!({"summary": {"totals": {"by_kind": kinds}}})
    }

    #[test]
    fn the_default_trace_must_count_and_the_fault_events_one_must_record() {
        let counted = by_kind(json!({"fault-counts": 4, "claim": 2}));
        let recorded = by_kind(json!({"fault": 600}));
        let both = by_kind(json!({"fault": 1, "fault-counts": 4}));
        assert!(carried(&counted, Carrier::Counts).is_ok());
        assert!(carried(&recorded, Carrier::Counts).is_err());
        assert!(
            carried(&both, Carrier::Counts).is_err(),
            "a record per fault too"
        );
        assert!(carried(&recorded, Carrier::Records).is_ok());
        assert!(carried(&counted, Carrier::Records).is_err());
        assert!(
            carried(&both, Carrier::Records).is_err(),
            "the switch did not hold"
        );
        assert!(carried(&by_kind(json!({})), Carrier::Counts).is_err());
    }
}
