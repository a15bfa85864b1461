//! `cargo xtask bench census`: what the census of busy pages at attach
//! costs per GiB of FS-DAX pmem. Per kernel one VM boot runs `daxtrace
//! state --json` ROUNDS times over the test bed's 512 MiB pmem0 (no time
//! budget to speak of, so every page is read) and the `state-end` of each
//! reading gives its time and page count. Under TCG the figures are an upper
//! bound (every reader run is an emulated syscall); nothing is asserted.
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Serialize;
use serde_json::Value;
use xtask::vm::{self, KernelGen, VmRequest};

use crate::run::workspace_root;

#[derive(clap::Args, Debug, Clone)]
pub struct CensusArgs {
    /// Kernel generations.
    #[arg(long, value_delimiter = ',', default_values = ["5.10", "6.1", "6.12", "7"])]
    pub kernels: Vec<KernelGen>,
    /// Readings per kernel.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub rounds: u32,
    /// Do not rebuild the guest binaries.
    #[arg(long)]
    pub no_build: bool,
}

/// One kernel's figures.
#[derive(Debug, Serialize)]
pub struct CensusRow {
    pub kernel: String,
    pub release: String,
    pub rounds: usize,
    /// Pages in FS-DAX pagemaps, all read.
    pub pages: u64,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Median time per GiB of FS-DAX memory (4 KiB pages).
    pub ms_per_gib: f64,
}

const GIB_PAGES: f64 = (1u64 << 30) as f64 / 4096.0;

pub fn run(args: &CensusArgs) -> anyhow::Result<()> {
    let bench = workspace_root().join("target/bench");
    let mut rows = Vec::new();
    for &kernel in &args.kernels {
        let share = bench.join(format!("census-{}", kernel.as_str()));
        if share.exists() {
            std::fs::remove_dir_all(&share)
                .with_context(|| format!("clearing {}", share.display()))?;
        }
        std::fs::create_dir_all(&share)?;
        let script = format!(
            "for i in $(seq {n}); do daxtrace state --json --census-budget 600s \
             >/mnt/host/state-$i.jsonl 2>/mnt/host/state-$i.err || exit 1; done",
            n = args.rounds
        );
        let mut req = VmRequest::new(kernel, vec!["bash".into(), "-c".into(), script]);
        req.share = Some(share.clone());
        req.timeout = std::time::Duration::from_secs(600 + 120 * u64::from(args.rounds));
        req.build_guest_binaries = !args.no_build;
        let outcome = vm::run(&req).with_context(|| format!("booting Debian {kernel}"))?;
        if outcome.exit_code != 0 {
            bail!(
                "daxtrace state failed on {kernel} (exit {}); files in {}",
                outcome.exit_code,
                share.display()
            );
        }
        rows.push(row(kernel, &outcome.kernel_release, &share, args.rounds)?);
    }
    let table = render(&rows);
    println!("{table}");
    let path = bench.join("census.json");
    std::fs::write(&path, serde_json::to_string_pretty(&rows)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "xtask bench: {} rows written to {}",
        rows.len(),
        path.display()
    );
    Ok(())
}

/// The `state-end` of one reading: (elapsed ms, pages scanned, pages total).
fn reading(path: &Path) -> anyhow::Result<(f64, u64, u64)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    for line in text.lines() {
        let v: Value =
            serde_json::from_str(line).with_context(|| format!("{}: {line}", path.display()))?;
        if v["body"]["type"] == "state-end" {
            let b = &v["body"];
            return Ok((
                b["elapsed_ns"].as_u64().unwrap_or(0) as f64 / 1e6,
                b["pages_scanned"].as_u64().unwrap_or(0),
                b["pages_total"].as_u64().unwrap_or(0),
            ));
        }
    }
    bail!("{}: no state-end", path.display())
}

fn row(kernel: KernelGen, release: &str, share: &Path, rounds: u32) -> anyhow::Result<CensusRow> {
    let mut ms = Vec::new();
    let mut pages = 0;
    for i in 1..=rounds {
        let (t, scanned, total) = reading(&share.join(format!("state-{i}.jsonl")))?;
        if scanned != total || total == 0 {
            bail!("{kernel} round {i}: census read {scanned} of {total} pages");
        }
        pages = total;
        ms.push(t);
    }
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    Ok(CensusRow {
        kernel: kernel.as_str().to_string(),
        release: release.to_string(),
        rounds: ms.len(),
        pages,
        median_ms: median,
        min_ms: ms[0],
        max_ms: ms[ms.len() - 1],
        ms_per_gib: median * GIB_PAGES / pages as f64,
    })
}

pub fn render(rows: &[CensusRow]) -> String {
    let mut out = String::from(
        "| kernel | release | FS-DAX pages | rounds | median ms | min..max ms | ms per GiB |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {:.1}..{:.1} | {:.1} |\n",
            r.kernel, r.release, r.pages, r.rounds, r.median_ms, r.min_ms, r.max_ms, r.ms_per_gib
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_takes_the_median_and_scales_to_a_gib() {
        let dir = tempfile::tempdir().expect("tmp");
        for (i, ns) in [(1, 300_000_000u64), (2, 100_000_000), (3, 200_000_000)] {
            std::fs::write(
                dir.path().join(format!("state-{i}.jsonl")),
                format!(
                    "{{\"body\":{{\"type\":\"state-pagemap\"}}}}\n{{\"body\":{{\"type\":\"state-end\",\"elapsed_ns\":{ns},\"pages_scanned\":131072,\"pages_total\":131072}}}}\n{{\"problems\":[]}}\n"
                ),
            )
            .expect("write");
        }
        let r = row(KernelGen::V6_1, "6.1.0", dir.path(), 3).expect("row");
        assert_eq!((r.median_ms, r.min_ms, r.max_ms), (200.0, 100.0, 300.0));
        assert!((r.ms_per_gib - 400.0).abs() < 1e-9, "{}", r.ms_per_gib);
        assert!(render(&[r]).contains("| 6.1 | 6.1.0 | 131072 | 3 | 200.0 |"));
    }
}
