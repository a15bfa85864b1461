//! Fleet scale (issue 25): `dax-workload pin-heavy` holds 50,000 DAX pages
//! at once (vmsplice into ~200 pipes, O_DIRECT readers beside them) while a
//! truncate waits on the oldest of them. Two recordings, 6.1 and 7 only
//! (vm-test.sh):
//! - `heavy`, the default limits: nothing lost from the owner table, and
//!   the truncate's busy page names its holder, 50,000 pins later;
//! - `heavysmall`, `--max-pinned-pages 4096`: the table evicts, the trace
//!   counts it (`summary.losses["owner-evicted"]`), and the oldest page's
//!   holder is the one forgotten. No verdict rests on owners: check passes.
use serde_json::Value;
use std::path::Path;

use super::Judge;
use super::share::{check_outcome, events, read_json, recorded};

/// The owner-table size `heavysmall` asks for (vm-test.sh).
const SMALL_TABLE: u64 = 4096;

pub(super) fn judge(dir: &Path, j: &mut Judge) {
    j.check(
        "heavy: 50,000 pages held, every owner kept",
        step(dir, "heavy", Table::Default),
    );
    j.check("heavy: check passes", check_outcome(dir, "heavy", "pass"));
    j.check(
        "heavysmall: a 4096-page table's evictions are counted",
        step(dir, "heavysmall", Table::Small),
    );
    j.check(
        "heavysmall: check passes (no verdict rests on owners)",
        check_outcome(dir, "heavysmall", "pass"),
    );
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    Default,
    Small,
}

fn step(dir: &Path, name: &str, table: Table) -> Result<String, String> {
    let report = recorded(dir, name)?;
    let summary = read_json(&dir.join(format!("{name}.stdout")))?;
    let evs = events(dir, name)?;
    let header = header(dir, name)?;
    judge_run(&summary["pin_heavy"], &report, &header, &evs, table)
}

/// The export's header line (its `probes.limits`).
fn header(dir: &Path, name: &str) -> Result<Value, String> {
    let path = dir.join(format!("{name}.jsonl"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let line = text.lines().next().ok_or("an empty export")?;
    serde_json::from_str(line).map_err(|e| format!("{}: {e}", path.display()))
}

fn limit(header: &Value, what: &str) -> Option<u64> {
    header["probes"]["limits"]
        .as_array()?
        .iter()
        .find(|l| l[0] == what)
        .and_then(|l| l[1].as_u64())
}

fn judge_run(
    run: &Value,
    report: &Value,
    header: &Value,
    evs: &[Value],
    table: Table,
) -> Result<String, String> {
    let held = run["pages_held"].as_u64().unwrap_or(0);
    let first_pfn = run["first_pfn"].as_u64().unwrap_or(0);
    let holder = run["holder_tid"].as_u64().unwrap_or(0);
    if held < 50_000 || first_pfn == 0 || holder == 0 || run["truncate_done"] != true {
        return Err(format!("the workload did not hold its pages: {run}"));
    }
    let kept = limit(header, "pinned pages with owners kept").ok_or_else(|| {
        format!(
            "no owner-table limit in the header: {}",
            header["probes"]["limits"]
        )
    })?;
    let evicted = report["summary"]["losses"]["owner-evicted"]
        .as_u64()
        .unwrap_or(0);
    let named = evs.iter().any(|e| {
        e["body"]["type"] == "pin-owner" && e["body"]["pfn"] == first_pfn && e["tid"] == holder
    });
    let busy_met = evs
        .iter()
        .any(|e| e["body"]["type"] == "busy-page" && e["body"]["pfn"] == first_pfn);
    if !busy_met {
        return Err(format!(
            "the truncate never met pfn {first_pfn:#x} busy (losses {})",
            report["summary"]["losses"]
        ));
    }
    let facts = format!(
        "{held} pages held by tid {holder}; table keeps {kept}; owner-evicted {evicted}; \
         oldest page {first_pfn:#x} owner named: {named}"
    );
    match table {
        Table::Default if kept < held => Err(format!("the default table is too small: {facts}")),
        Table::Default if evicted != 0 || !named => Err(facts),
        Table::Small if kept != SMALL_TABLE => {
            Err(format!("--max-pinned-pages not taken: {facts}"))
        }
        // Every page past the table's size (and its per-CPU headroom, 128
        // a CPU, at most 16 CPUs here) pushed one out.
        Table::Small if evicted + SMALL_TABLE + 128 * 16 < held || named => Err(facts),
        _ => Ok(facts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PFN: u64 = 0x10_8400;
    const HOLDER: u64 = 812;

    fn run() -> Value {
        json!({"pages_held": 50_000, "first_pfn": PFN, "holder_tid": HOLDER, "truncate_done": true})
    }

    fn header(kept: u64) -> Value {
        json!({"probes": {"limits": [["pinned pages with owners kept", kept], ["possible CPUs", 2]]}})
    }

    fn report(evicted: Option<u64>) -> Value {
        match evicted {
            Some(n) => json!({"summary": {"losses": {"owner-evicted": n}}}),
            None => json!({"summary": {"losses": {}}}),
        }
    }

    fn events(owner_named: bool) -> Vec<Value> {
        let mut evs = vec![json!({"tid": 900, "body": {"type": "busy-page", "pfn": PFN}})];
        if owner_named {
            evs.push(json!({"tid": HOLDER, "body": {"type": "pin-owner", "pfn": PFN}}));
        }
        evs
    }

    #[test]
    fn the_default_table_keeps_the_oldest_holder() {
        let ok = judge_run(
            &run(),
            &report(None),
            &header(131_072),
            &events(true),
            Table::Default,
        );
        assert!(ok.is_ok(), "{ok:?}");
        let forgotten = judge_run(
            &run(),
            &report(None),
            &header(131_072),
            &events(false),
            Table::Default,
        );
        assert!(forgotten.is_err(), "a nameless oldest page fails");
        let lost = judge_run(
            &run(),
            &report(Some(3)),
            &header(131_072),
            &events(true),
            Table::Default,
        );
        assert!(lost.is_err(), "any eviction fails the default run");
        let small = judge_run(
            &run(),
            &report(None),
            &header(8192),
            &events(true),
            Table::Default,
        );
        assert!(small.is_err(), "an 8192-page default cannot hold 50,000");
    }

    #[test]
    fn a_small_table_must_count_what_it_forgot() {
        let ok = judge_run(
            &run(),
            &report(Some(45_800)),
            &header(SMALL_TABLE),
            &events(false),
            Table::Small,
        );
        assert!(ok.is_ok(), "{ok:?}");
        let silent = judge_run(
            &run(),
            &report(None),
            &header(SMALL_TABLE),
            &events(false),
            Table::Small,
        );
        assert!(silent.is_err(), "evictions not counted");
        let no_busy = judge_run(
            &run(),
            &report(Some(45_800)),
            &header(SMALL_TABLE),
            &[],
            Table::Small,
        );
        assert!(no_busy.is_err(), "the truncate must meet the page");
    }
}
