//! The VM stage of `cargo xtask test`: per kernel generation, boot the guest
//! once, run `xtask/guest/vm-test.sh` in it (the scenarios under `daxtrace
//! record`, then report/check/export of each trace), and judge the files it
//! leaves in the shared directory here, on the host.
//!
//! What is asserted per generation (issues 2-5): pmem present and DAX active
//! on ext4 and xfs, on pmem and on dm-linear (the workload's own statx
//! checks); the claim and release probes attached; exactly N claims and N
//! releases per filesystem over N mount cycles, on pmem0, with a non-NULL
//! holder for xfs from 6.1; the dm device's claims and releases balanced and
//! its dax access fanned out to the member; a DMA-vs-truncate wait with a
//! latency, a busy page and an idle transition of the same pfn, no drops; a
//! stuck wait exactly where the kernel loses the wakeup (the workload's own
//! observation decides, not the kernel version); `check` failing, naming
//! pmem0, when a filesystem stays mounted past the end of a recording; and a
//! memory failure injected on ext4 and xfs, seen at the poisoned pfn and
//! notified to the holder on pmem0 (see `memory_failure`); the owners of
//! pinned pages named, a refused long-term pin, modules in the stacks
//! (see `pins`).
use crate::run::workspace_root;
use anyhow::{Context as _, bail};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use xtask::vm::{self, KernelGen, VmRequest};

mod dm;
mod dma;
mod faults;
mod memory_failure;
mod pins;
mod state_at_start;
mod top;

/// Mount cycles per filesystem in the `cycles` step (must match vm-test.sh).
const CYCLES: u64 = 3;

/// One judged assertion.
struct Verdict {
    name: String,
    ok: bool,
    detail: String,
}

/// The outcome of one generation.
pub struct GenResult {
    pub kernel: KernelGen,
    pub release: String,
    pub boot: Duration,
    pub command: Duration,
    verdicts: Vec<Verdict>,
}

impl GenResult {
    pub fn ok(&self) -> bool {
        self.verdicts.iter().all(|v| v.ok)
    }
}

/// Runs the VM stage on `kernel`; `Err` only when the guest could not run.
/// `with_top`: also the dashboard test and the benchmark harness smoke (one
/// kernel is enough for them).
pub fn run_generation(kernel: KernelGen, with_top: bool) -> anyhow::Result<GenResult> {
    let root = workspace_root();
    let share = root.join("target/vmtest").join(kernel.as_str());
    if share.exists() {
        std::fs::remove_dir_all(&share).with_context(|| format!("clearing {}", share.display()))?;
    }
    std::fs::create_dir_all(&share).with_context(|| format!("creating {}", share.display()))?;
    std::fs::copy(
        root.join("xtask/guest/vm-test.sh"),
        share.join("vm-test.sh"),
    )
    .context("copying the guest script into the share")?;
    let mut command = vec!["env".to_string()];
    if with_top {
        command.push("DAXTRACE_VMTEST_TOP=1".to_string());
        command.push("DAXTRACE_VMTEST_BENCH=1".to_string());
        crate::bench::copy_guest_scripts(&share)
            .context("copying the bench scripts into the share")?;
    }
    // The exporter's live step runs where the issue asks for it: 6.1 (lost
    // wakeup) and 7 (the newest generation).
    let with_serve = matches!(kernel, KernelGen::V6_1 | KernelGen::V7);
    if with_serve {
        command.push("DAXTRACE_VMTEST_SERVE=1".to_string());
    }
    command.extend(["bash".to_string(), "/mnt/host/vm-test.sh".to_string()]);
    let mut req = VmRequest::new(kernel, command);
    req.share = Some(share.clone());
    // fio and bpftrace of the bench smoke run from the host's /usr.
    req.host_usr = with_top;
    // The bench smoke of the 6.1 boot runs nine configurations a round
    // (three bpftrace sessions among them): give that boot more time.
    req.timeout = Duration::from_secs(if with_top { 2400 } else { 1800 });
    req.echo_output = true;
    let outcome = vm::run(&req).with_context(|| format!("booting Debian {kernel}"))?;
    if outcome.exit_code != 0 {
        bail!(
            "the guest script failed on {kernel} (exit {}); files in {}",
            outcome.exit_code,
            share.display()
        );
    }
    let mut verdicts = judge_share(kernel, &share, with_top, &outcome.kernel_release);
    for alert in &outcome.kernel_alerts {
        verdicts.push(Verdict {
            name: "kernel stays healthy".into(),
            ok: false,
            detail: alert.clone(),
        });
    }
    Ok(GenResult {
        kernel,
        release: outcome.kernel_release,
        boot: outcome.boot_time,
        command: outcome.command_time,
        verdicts,
    })
}

/// Judges the files the last VM run on `kernel` left in its share again,
/// without booting (`cargo xtask test --vm-only --rejudge`): for changing a
/// judge. The console's kernel alerts are not kept, so they are not judged.
pub fn rejudge_generation(kernel: KernelGen, with_top: bool) -> anyhow::Result<GenResult> {
    let share = workspace_root().join("target/vmtest").join(kernel.as_str());
    let release_path = share.join("kernel-release");
    let release = std::fs::read_to_string(&release_path)
        .with_context(|| format!("reading {} (no earlier VM run?)", release_path.display()))?
        .trim()
        .to_string();
    let verdicts = judge_share(kernel, &share, with_top, &release);
    Ok(GenResult {
        kernel,
        release,
        boot: Duration::ZERO,
        command: Duration::ZERO,
        verdicts,
    })
}

/// Every verdict on a share the guest script filled.
fn judge_share(kernel: KernelGen, share: &Path, with_top: bool, release: &str) -> Vec<Verdict> {
    let with_serve = matches!(kernel, KernelGen::V6_1 | KernelGen::V7);
    let mut verdicts = judge(kernel, share);
    if with_top {
        verdicts.push(top::judge_top(share));
        let smoke = crate::bench::smoke::judge(kernel, release, share);
        verdicts.push(Verdict {
            name: "bench smoke: every workload, every config".into(),
            ok: smoke.is_ok(),
            detail: smoke.unwrap_or_else(|e| e),
        });
    }
    if with_serve {
        for (name, result) in crate::vmtest_serve::judge(share) {
            let (ok, detail) = match result {
                Ok(d) => (true, d),
                Err(d) => (false, d),
            };
            verdicts.push(Verdict {
                name: name.to_string(),
                ok,
                detail,
            });
        }
    }
    verdicts
}

/// Renders results as the table printed at the end and written to a file.
pub fn render(results: &[GenResult]) -> String {
    let mut out = String::new();
    for r in results {
        let _ = writeln!(
            out,
            "Debian {} ({}): boot {:.1}s, tests {:.1}s: {}",
            r.kernel,
            r.release,
            r.boot.as_secs_f64(),
            r.command.as_secs_f64(),
            if r.ok() { "ok" } else { "FAILED" }
        );
        for v in &r.verdicts {
            let _ = writeln!(
                out,
                "  {} {:<44} {}",
                if v.ok { "ok  " } else { "FAIL" },
                v.name,
                v.detail
            );
        }
    }
    out
}

pub(crate) fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // A whole JSON document, or the workload's one summary line at the end.
    serde_json::from_str(&text).or_else(|whole| {
        text.lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .ok_or_else(|| format!("{}: {whole}", path.display()))
            .and_then(|l| serde_json::from_str(l).map_err(|e| format!("{}: {e}", path.display())))
    })
}

pub(crate) fn read_rc(dir: &Path, step: &str) -> Result<i64, String> {
    let path = dir.join(format!("{step}.rc"));
    std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .trim()
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))
}

struct Judge {
    verdicts: Vec<Verdict>,
}

impl Judge {
    fn check(&mut self, name: &str, result: Result<String, String>) {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.verdicts.push(Verdict {
            name: name.to_string(),
            ok,
            detail,
        });
    }
}

fn judge(kernel: KernelGen, dir: &Path) -> Vec<Verdict> {
    let mut j = Judge {
        verdicts: Vec::new(),
    };
    j.check("smoke: pmem0 DAX on ext4/xfs, pmem and dm", smoke(dir));
    j.check("probes: claim and release attached", probes(dir));
    j.check(
        "cycles: exact claims/releases on pmem0",
        cycles(kernel, dir),
    );
    j.check("cycles: check passes", check_outcome(dir, "cycles", "pass"));
    j.check("dm: dm device balanced, member fan-out", dm::dm(dir));
    j.check("dm: check passes", check_outcome(dir, "dm", "pass"));
    let lost = dma::lost_wakeup(dir);
    j.check("dma: wait span, busy page, idle same pfn", dma::dma(dir));
    j.check(
        "loss: tiny ring drops counted, inconclusive",
        crate::loss_test::judge(dir),
    );
    match lost {
        Ok(true) => {
            j.check(
                "dma: lost wakeup reported stuck",
                dma::stuck_waits(dir, true),
            );
            j.check(
                "dma: check fails on the stuck wait",
                check_outcome(dir, "dma", "fail"),
            );
        }
        Ok(false) => {
            j.check(
                "dma: no stuck wait without a lost wakeup",
                dma::stuck_waits(dir, false),
            );
            j.check("dma: check passes", check_outcome(dir, "dma", "pass"));
        }
        Err(e) => j.check("dma: workload summary", Err(e)),
    }
    j.check(
        "dma: busy pages carry their file index",
        dma::dma_busy_index(dir),
    );
    j.check("dm: member pmem0 taken and dropped", dm::dm_member(dir));
    j.check(
        "dm: Perfetto shows membership and dm pages",
        dm::dm_perfetto(dir),
    );
    j.check(
        "dma: every case's waiter has a wait span",
        dma::dma_cases(dir),
    );
    faults::judge(dir, &mut j);
    j.check("leak: check fails naming pmem0", leak(dir));
    j.check(
        "pgmap: nd_pmem rebind destroys and creates FS_DAX pagemap",
        pgmap(dir),
    );
    memory_failure::judge(kernel, dir, &mut j);
    state_at_start::judge(kernel, dir, &mut j);
    pins::judge(dir, &mut j);
    j.verdicts
}

fn smoke(dir: &Path) -> Result<String, String> {
    let rc = read_rc(dir, "smoke")?;
    let v = read_json(&dir.join("smoke.json"))?;
    if rc != 0 || v["ok"] != Value::Bool(true) {
        return Err(format!(
            "dax-workload smoke exit {rc}: {}",
            failed_checks(&v)
        ));
    }
    let n = v["checks"].as_array().map_or(0, Vec::len);
    Ok(format!("{n} checks held"))
}

fn failed_checks(v: &Value) -> String {
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

fn probes(dir: &Path) -> Result<String, String> {
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

/// The report's device entry for `disk`.
fn device<'a>(report: &'a Value, disk: &str) -> Option<&'a Value> {
    report["summary"]["devices"]
        .as_array()?
        .iter()
        .find(|d| d["identity"]["disk"] == Value::String(disk.to_string()))
}

fn balance(dev: &Value) -> (u64, u64) {
    (
        dev["balance"]["claims"].as_u64().unwrap_or(0),
        dev["balance"]["releases"].as_u64().unwrap_or(0),
    )
}

fn recorded(dir: &Path, step: &str) -> Result<Value, String> {
    let rc = read_rc(dir, step)?;
    if rc != 0 {
        let err = std::fs::read_to_string(dir.join(format!("{step}.stderr"))).unwrap_or_default();
        let tail: Vec<&str> = err.lines().rev().take(3).collect();
        return Err(format!("workload exit {rc}: {}", tail.join(" | ")));
    }
    let rec_rc = read_rc(dir, &format!("{step}.record"))?;
    if rec_rc != 0 {
        let err =
            std::fs::read_to_string(dir.join(format!("{step}.record.err"))).unwrap_or_default();
        return Err(format!("daxtrace record exit {rec_rc}: {}", err.trim()));
    }
    read_json(&dir.join(format!("{step}.report.json")))
}

fn cycles(kernel: KernelGen, dir: &Path) -> Result<String, String> {
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

fn check_outcome(dir: &Path, step: &str, want: &str) -> Result<String, String> {
    let v = read_json(&dir.join(format!("{step}.check.json")))?;
    let rc = read_rc(dir, &format!("{step}.check"))?;
    let outcome = v["outcome"].as_str().unwrap_or("?");
    let want_rc = match want {
        "pass" => 0,
        "fail" => 1,
        _ => 2,
    };
    if outcome != want || rc != want_rc {
        let bad: Vec<String> = v["assertions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["status"] != Value::String("pass".into()))
            .filter(|a| a["status"] != Value::String("skipped".into()))
            .map(|a| format!("{} {}: {}", a["id"], a["status"], a["details"]))
            .collect();
        return Err(format!(
            "outcome {outcome} (exit {rc}), want {want}: {}",
            bad.join("; ")
        ));
    }
    Ok(format!("{outcome}, exit {rc}"))
}

/// Ring-buffer drops over every point, from `report --json`.
fn total_drops(report: &Value) -> u64 {
    report["summary"]["drops"]["per_point"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
}

fn kind_count(report: &Value, kind: &str) -> u64 {
    report["summary"]["totals"]["by_kind"][kind]
        .as_u64()
        .unwrap_or(0)
}

pub(crate) fn events(dir: &Path, step: &str) -> Result<Vec<Value>, String> {
    let path = dir.join(format!("{step}.jsonl"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

fn body_type(ev: &Value) -> &str {
    ev["body"]["type"].as_str().unwrap_or("")
}

fn pgmap(dir: &Path) -> Result<String, String> {
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

fn leak(dir: &Path) -> Result<String, String> {
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

/// Where the VM stage writes its result table.
pub fn results_path() -> PathBuf {
    workspace_root().join("target/vmtest/results.txt")
}
