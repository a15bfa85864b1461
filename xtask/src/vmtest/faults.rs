//! The fault steps of the VM stage. `faults`: `dax-workload faults` on ext4
//! and xfs under `daxtrace record`. `lastdrain`: the same on ext4 while the
//! recorder pauses 10 s after each drain of the ring buffer, so that when
//! recording stops every fault record is still in the ring buffer, and only
//! the last drain at the stop can save it (CI on 7 once lost all fault
//! records of `faults` that way: the stop came before the reader woke).
//!
//! Asserted on the trace: every PTE read, PTE write and PMD touch the
//! workload reports is at least one fault record on pmem0.
use super::Judge;
use super::share::{device, read_json, recorded, total_drops};
use serde_json::Value;
use std::path::Path;

pub(super) fn judge(dir: &Path, j: &mut Judge) {
    j.check("faults: PTE and PMD faults on pmem0", faults(dir, "faults"));
    j.check(
        "lastdrain: a stop drains the ring buffer",
        faults(dir, "lastdrain"),
    );
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
}
