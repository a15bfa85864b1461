//! The deployment files (deploy/, .dockerignore) against what daxtrace
//! needs: the unit's device cgroup lets /dev/mapper/control through and
//! systemd accepts the unit as written; the Dockerfile copies the binary the
//! musl build makes and the DaemonSet runs its image with the host's mount
//! table and the dm control device; no rule or panel depends on a job name
//! and the CPU panel is in CPU-seconds per second. promtool runs the alert
//! tests (serve_prometheus.rs); `cargo xtask image` builds the image.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `Key=value` lines of the unit, in order.
fn unit_settings(unit: &str) -> Vec<(&str, &str)> {
    unit.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect()
}

#[test]
fn the_unit_keeps_dm_control_open_through_its_device_cgroup() {
    let unit = read("deploy/systemd/daxtrace.service");
    let settings = unit_settings(&unit);
    let has = |k: &str, v: &str| settings.iter().any(|(key, val)| *key == k && *val == v);
    let closes = has("ProtectClock", "yes")
        || has("PrivateDevices", "yes")
        || has("DevicePolicy", "closed")
        || has("DevicePolicy", "strict");
    if closes {
        assert!(
            has("DeviceAllow", "/dev/mapper/control rw"),
            "the unit closes the device cgroup without DeviceAllow=/dev/mapper/control rw"
        );
    }
    let bounding = settings
        .iter()
        .find(|(k, _)| *k == "CapabilityBoundingSet")
        .map(|(_, v)| *v)
        .expect("a bounding set");
    // Programs, attachment, and the dm ioctls (DM_TABLE_STATUS).
    for cap in ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN"] {
        assert!(bounding.split_whitespace().any(|c| c == cap), "{cap}");
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

#[test]
fn systemd_accepts_the_unit_as_written() {
    if !have("systemd-analyze") {
        println!("skipping: no systemd-analyze");
        return;
    }
    // The unit's ExecStart binary must exist for verify: point it at this build.
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = read("deploy/systemd/daxtrace.service").replace(
        "ExecStart=/usr/local/bin/daxtrace ",
        &format!("ExecStart={} ", env!("CARGO_BIN_EXE_daxtrace")),
    );
    let path = dir.path().join("daxtrace.service");
    std::fs::write(&path, unit).expect("write");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // A setting systemd ignores is only a warning: none allowed.
    assert!(stderr.trim().is_empty(), "{stderr}");
}

/// (source, destination) of the Dockerfile's COPY lines.
fn copies(dockerfile: &str) -> Vec<(String, String)> {
    dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .map(|rest| {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            (parts[0].to_string(), parts[1].to_string())
        })
        .collect()
}

#[test]
fn the_dockerfile_copies_the_musl_binary_the_daemonset_runs() {
    let dockerfile = read("deploy/container/Dockerfile");
    let copies = copies(&dockerfile);
    assert_eq!(copies.len(), 1, "{copies:?}");
    let (source, dest) = &copies[0];
    // What `cargo build --release --target x86_64-unknown-linux-musl` (and
    // xtask's guest build) writes.
    assert_eq!(source, "target/x86_64-unknown-linux-musl/release/daxtrace");
    assert!(
        dockerfile.contains(&format!("ENTRYPOINT [\"{dest}\"]")),
        "{dockerfile}"
    );
    // The context is the workspace root: .dockerignore lets the binary in.
    let ignore = read(".dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == format!("!{source}")),
        "{ignore}"
    );
    // When the binary was built, it is a static executable.
    let built = root().join(source);
    if built.is_file() {
        let head = std::fs::read(&built).expect("binary");
        assert_eq!(&head[..4], b"\x7fELF");
    }
    let daemonset = read("deploy/kubernetes/daxtrace-daemonset.yaml");
    let image = format!("image: daxtrace:{}", env!("CARGO_PKG_VERSION"));
    assert!(daemonset.contains(&image), "{image} in the DaemonSet");
    assert!(
        !daemonset.contains("command:"),
        "the DaemonSet runs the image's ENTRYPOINT"
    );
    assert!(daemonset.contains("args: [\"serve\","), "{daemonset}");
}

#[test]
fn the_daemonset_reads_the_host_mounts_and_reaches_dm_control() {
    let daemonset = read("deploy/kubernetes/daxtrace-daemonset.yaml");
    let lines: Vec<&str> = daemonset.lines().map(str::trim).collect();
    assert!(lines.contains(&"hostPID: true"), "host PID namespace");
    let env = lines
        .iter()
        .position(|l| *l == "- name: DAXTRACE_MOUNTINFO")
        .expect("DAXTRACE_MOUNTINFO set");
    assert_eq!(lines[env + 1], "value: /proc/1/mountinfo");
    let mount = lines
        .iter()
        .position(|l| *l == "mountPath: /dev/mapper/control")
        .expect("dm control mounted");
    assert_eq!(lines[mount - 1], "- name: dm-control");
    let volume = lines
        .iter()
        .rposition(|l| *l == "- name: dm-control")
        .expect("dm-control volume");
    assert_eq!(
        &lines[volume + 1..volume + 4],
        ["hostPath:", "path: /dev/mapper/control", "type: CharDevice"]
    );
    assert!(
        daemonset.contains("\"SYS_ADMIN\""),
        "dm ioctls need CAP_SYS_ADMIN"
    );
}

#[test]
fn no_rule_or_panel_names_a_job_and_cpu_is_in_seconds() {
    let rules = read("deploy/prometheus/daxtrace-alerts.yml");
    assert!(!rules.contains("job=\""), "a rule selects a job by name");
    assert!(rules.contains("absent(daxtrace_build_info)"), "{rules}");
    assert!(
        rules.contains("daxtrace_probe_family_attached == 0"),
        "{rules}"
    );
    let dashboard: Value =
        serde_json::from_str(&read("deploy/grafana/daxtrace-dashboard.json")).expect("JSON");
    let mut cpu_panels = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        let exprs: Vec<&str> = panel["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["expr"].as_str())
            .collect();
        let unit = panel["fieldConfig"]["defaults"]["unit"].as_str();
        for e in &exprs {
            assert!(!e.contains("job=\""), "{}: {e}", panel["title"]);
        }
        if exprs
            .iter()
            .any(|e| e.contains("process_cpu_seconds_total"))
        {
            cpu_panels += 1;
            // CPU-seconds per second: a fraction of one CPU, in one unit.
            assert!(
                exprs
                    .iter()
                    .all(|e| e.contains("rate(process_cpu_seconds_total")),
                "{}: CPU shares its panel with {exprs:?}",
                panel["title"]
            );
            assert_eq!(unit, Some("percentunit"), "{}", panel["title"]);
        }
        if exprs.iter().any(|e| e.contains("_bytes")) {
            assert_eq!(unit, Some("bytes"), "{}", panel["title"]);
        }
    }
    assert_eq!(cpu_panels, 1);
}
