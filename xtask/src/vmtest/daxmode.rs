//! The `daxmode` step of the VM stage: is DAX in effect where a mount asked
//! for it? ext4 with 1 KiB blocks asked for DAX three ways (`dax`,
//! `dax=always`, `dax=inode`: the kernel refuses DAX below the page size,
//! by failing the mount or by mounting without it), ext4 `dax=never`, and
//! the control, 4 KiB blocks with `dax=always`. Per case, `state --json`
//! must sample the mount's file with the mode asked, the live
//! `check --expect-dax` must pass only for the control, and the trace
//! recorded around all of them must tell the same in report and check. A
//! refused mount must be absent everywhere.
use super::Judge;
use super::share::{read_json, read_rc};
use serde_json::Value;
use std::path::Path;

/// One case: its name, the mode code the options ask for, and whether DAX
/// must be in effect when it mounts.
struct Case {
    name: &'static str,
    asked: u64,
    dax: bool,
}

const CASES: [Case; 5] = [
    Case {
        name: "1k-dax",
        asked: 1,
        dax: false,
    },
    Case {
        name: "1k-always",
        asked: 2,
        dax: false,
    },
    Case {
        name: "1k-inode",
        asked: 3,
        dax: false,
    },
    Case {
        name: "4k-never",
        asked: 4,
        dax: false,
    },
    Case {
        name: "4k-always",
        asked: 2,
        dax: true,
    },
];

pub(super) fn judge(dir: &Path, j: &mut Judge) {
    let report = read_json(&dir.join("daxmode.report.json"));
    for case in &CASES {
        j.check(
            &format!(
                "daxmode: {} says DAX {}",
                case.name,
                if case.dax { "on" } else { "off" }
            ),
            judge_case(dir, case, report.as_ref()),
        );
    }
}

/// The `state-dax-mode` of `mount_point` among `state --json`'s lines.
fn state_sample(dir: &Path, name: &str, mount_point: &str) -> Result<Value, String> {
    let path = dir.join(format!("daxmode-{name}.state.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["body"]["type"] == "state-dax-mode" && e["body"]["mount_point"] == mount_point)
        .map(|e| e["body"].clone())
        .ok_or_else(|| format!("state --json has no state-dax-mode for {mount_point}: {text}"))
}

/// The kernel's lines about the mount, for the detail (refusal or fallback).
fn kernel_says(dir: &Path, name: &str) -> String {
    let text =
        std::fs::read_to_string(dir.join(format!("daxmode-{name}.dmesg"))).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("DAX") || l.contains("blocksize"))
        .map(|l| l.split_once("] ").map_or(l, |(_, r)| r).trim())
        .collect();
    if lines.is_empty() {
        "no kernel line".to_string()
    } else {
        lines.join(" | ")
    }
}

/// `check --expect-dax`'s own assertion in `STEP.check.json`, with the
/// exit code: must be `pass` and 0 when DAX is on, `fail` and 1 when off.
fn expect_dax(dir: &Path, step: &str, dax: bool) -> Result<String, String> {
    let v = read_json(&dir.join(format!("{step}.check.json")))?;
    let rc = read_rc(dir, &format!("{step}.check"))?;
    let a = v["assertions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["id"] == "dax-in-effect")
        .ok_or_else(|| format!("{step}: no dax-in-effect assertion (exit {rc})"))?;
    let (want, want_rc) = if dax { ("pass", 0) } else { ("fail", 1) };
    let details = a["details"].to_string();
    if a["status"] != want || rc != want_rc {
        return Err(format!(
            "{step}: dax-in-effect {} (exit {rc}), want {want}: {details}",
            a["status"]
        ));
    }
    Ok(format!("{want} {details}"))
}

fn judge_case(dir: &Path, case: &Case, report: Result<&Value, &String>) -> Result<String, String> {
    let mount_point = format!("/tmp/daxmode-{}", case.name);
    let mounted = read_rc(dir, &format!("daxmode-{}.mount", case.name))? == 0;
    let kernel = kernel_says(dir, case.name);
    let trace = expect_dax(dir, &format!("daxmode-{}-trace", case.name), case.dax)?;
    let report = report.map_err(|e| format!("report: {e}"))?;
    let in_report = report["dax_modes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["mount_point"] == mount_point.as_str());
    if !mounted {
        if case.dax {
            return Err(format!("the control did not mount: {kernel}"));
        }
        if let Some(m) = in_report {
            return Err(format!("a refused mount in the report: {m}"));
        }
        if !trace.contains("not mounted on a DAX-capable device") {
            return Err(format!("check of the trace: {trace}"));
        }
        return Ok(format!("mount refused ({kernel}); absent from the trace"));
    }
    let s = state_sample(dir, case.name, &mount_point)?;
    let (sampled, dax_files) = (
        s["sampled"].as_u64().unwrap_or(0),
        s["dax_files"].as_u64().unwrap_or(0),
    );
    let want_dax = if case.dax { sampled } else { 0 };
    if s["asked"] != case.asked || s["reported"] != true || sampled == 0 || dax_files != want_dax {
        return Err(format!("state --json: {s}"));
    }
    let live = expect_dax(dir, &format!("daxmode-{}", case.name), case.dax)?;
    let m = in_report
        .ok_or_else(|| format!("report --json has no dax_modes entry for {mount_point}"))?;
    let want_effect = if case.dax {
        "in-effect"
    } else {
        "not-in-effect"
    };
    if m["mode"]["effect"] != want_effect {
        return Err(format!("report: {m}"));
    }
    Ok(format!(
        "mounted ({kernel}); state: {dax_files} of {sampled} file(s) DAX; live check {live}; trace check {trace}"
    ))
}
