//! `daxtrace probes` on the machine running the tests (the 6.18 host: fentry
//! refused with EPERM, no kprobes, tracepoints work). What the binary can
//! attach depends on the machine, so the assertions follow what the machine
//! offers: a point whose kind exists must be attached, a point that is not
//! attached must say why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::Path;

use serde_json::Value;

mod binary;
use binary::daxtrace;

fn points(doc: &Value) -> Vec<&Value> {
    doc["families"]
        .as_array()
        .expect("families")
        .iter()
        .flat_map(|f| f["points"].as_array().expect("points").iter())
        .collect()
}

fn tracefs_event(target: &str) -> bool {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|root| {
            Path::new(root)
                .join("events")
                .join(target)
                .join("format")
                .is_file()
        })
}

#[test]
fn probes_reports_every_family_and_why_points_are_missing() {
    let (code, stdout, stderr) = daxtrace(&["probes", "--json"]);
    let doc: Value = serde_json::from_str(&stdout).expect("JSON report");
    // 3 exactly when claim or release is missing once attached (see
    // coverage_host.rs for what this host lacks).
    let degraded = doc["missing_required"]
        .as_array()
        .is_some_and(|m| !m.is_empty());
    assert_eq!(code, if degraded { 3 } else { 0 }, "stderr: {stderr}");
    let families = doc["families"].as_array().expect("families");
    assert_eq!(
        families.len(),
        dax_trace_common::probe::Family::ALL.len(),
        "every logical probe is listed"
    );
    assert_eq!(points(&doc).len(), dax_trace_common::probe::POINTS.len());
    for p in points(&doc) {
        if let Some(reason) = p["status"].get("reason") {
            assert!(
                !reason.as_str().unwrap_or("").is_empty(),
                "{} has an empty reason",
                p["target"]
            );
        }
    }
    let mode = doc["mode"].as_str().expect("mode");
    if mode != "attached" {
        let why = doc["not_attached_because"].to_string();
        println!("skipping attach assertions: programs not attached here: {why}");
        assert!(
            doc["not_attached_because"]
                .as_array()
                .is_some_and(|w| !w.is_empty())
        );
        return;
    }
    // Attached for real: every existing tracepoint of the table is attached.
    for p in points(&doc) {
        let target = p["target"].as_str().expect("target");
        if target.contains('/') && tracefs_event(target) {
            assert_eq!(p["status"]["status"], "attached", "{target}: {p}");
            assert_eq!(p["status"]["kind"], "tracepoint", "{target}");
        }
    }
    // Without a kprobe PMU, a function that fentry could not take says both.
    if !Path::new("/sys/bus/event_source/devices/kprobe/type").exists() {
        for p in points(&doc) {
            if p["status"]["status"] == "missing"
                && let Some(reason) = p["status"]["reason"].as_str()
                && reason.contains("fentry failed")
            {
                assert!(reason.contains("kprobe"), "{reason}");
            }
        }
    }
}

#[test]
fn plan_only_touches_nothing_and_still_plans() {
    let (code, stdout, stderr) = daxtrace(&["probes", "--plan-only", "--json"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(doc["mode"], "plan");
    for p in points(&doc) {
        let status = p["status"]["status"].as_str().expect("status");
        assert!(
            ["planned", "skipped", "missing"].contains(&status),
            "{status}"
        );
    }
    // The host has BTF and tracefs in this test bed; the stuck-wait scanner
    // only needs perf events, so it is always planned for root.
    let text = daxtrace(&["probes", "--plan-only"]).1;
    assert!(
        text.contains("stuck-wait: planned: cpu-clock (perf_event)") || !is_root(),
        "{text}"
    );
}

#[test]
fn usage_errors_exit_3() {
    let (code, _, stderr) = daxtrace(&["probes", "--no-such-flag"]);
    assert_eq!(code, 3, "{stderr}");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|u| u.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
