//! The diagnosis of refused trampolines on fake sysfs trees, one per cause.
use std::fs;

use super::*;
use crate::session::probe_report::{FamilyReport, PointReport};

/// A fake host: securityfs, tracefs, sysctl and kallsyms under one temp dir.
struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["security", "tracing/events", "sys"] {
            fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        fs::write(dir.path().join("tracing/available_filter_functions"), "f\n").expect("write");
        fs::write(dir.path().join("sys/ftrace_enabled"), "1\n").expect("write");
        fs::write(
            dir.path().join("kallsyms"),
            "ffffffff81000000 T _stext\nffffffff81000010 T register_fprobe\n",
        )
        .expect("write");
        fs::write(dir.path().join("kprobe_type"), "6\n").expect("write");
        Self { dir }
    }

    fn write(&self, rel: &str, text: &str) {
        fs::write(self.dir.path().join(rel), text).expect("write");
    }

    fn host(&self) -> TrampolineHost {
        let root = self.dir.path();
        TrampolineHost {
            security: root.join("security"),
            tracefs: Some(root.join("tracing")),
            sysctl_kernel: root.join("sys"),
            kprobe_pmu: root.join("kprobe_type"),
            kallsyms: root.join("kallsyms"),
            raw_tracepoint_loads: Some(true),
            tp_btf_loads: Some(false),
        }
    }
}

const EPERM: &str = "load: Operation not permitted (os error 1)";

#[test]
fn confidentiality_lockdown_leads() {
    let fake = Fake::new();
    fake.write("security/lockdown", "none integrity [confidentiality]\n");
    fake.write("security/lsm", "lockdown,capability,bpf\n");
    let d = diagnose(&fake.host(), EPERM);
    assert_eq!(d.refused, "EPERM");
    assert!(
        d.causes[0].contains("lockdown is in confidentiality mode"),
        "{d:?}"
    );
    assert!(d.causes[1].contains("BPF LSM"), "{d:?}");
}

#[test]
fn integrity_lockdown_is_not_blamed_but_the_bpf_lsm_is() {
    let fake = Fake::new();
    fake.write("security/lockdown", "none [integrity] confidentiality\n");
    fake.write("security/lsm", "lockdown,capability,landlock,bpf\n");
    let d = diagnose(&fake.host(), EPERM);
    assert!(d.causes[0].starts_with("the BPF LSM is active"), "{d:?}");
    assert!(
        d.causes
            .iter()
            .any(|c| c == "lockdown integrity (does not refuse trampolines)"),
        "{d:?}"
    );
}

#[test]
fn selinux_is_named() {
    let fake = Fake::new();
    fake.write("security/lockdown", "[none] integrity confidentiality\n");
    fake.write("security/lsm", "capability,selinux\n");
    let d = diagnose(&fake.host(), EPERM);
    assert!(d.causes[0].starts_with("SELinux is active"), "{d:?}");
}

#[test]
fn a_kernel_without_the_function_tracer() {
    let fake = Fake::new();
    fake.write("security/lockdown", "[none] integrity confidentiality\n");
    fake.write("security/lsm", "capability\n");
    fs::remove_file(fake.dir.path().join("tracing/available_filter_functions")).expect("rm");
    let d = diagnose(&fake.host(), "load: Invalid argument (os error 22)");
    assert_eq!(d.refused, "EINVAL");
    assert!(d.causes[0].contains("no function tracer"), "{d:?}");
}

#[test]
fn ftrace_closed_to_the_process_and_switched_off() {
    let fake = Fake::new();
    fake.write("security/lockdown", "[none] integrity confidentiality\n");
    fake.write("security/lsm", "capability\n");
    // A list that cannot be read (a directory reads EISDIR, as root too).
    let list = fake.dir.path().join("tracing/available_filter_functions");
    fs::remove_file(&list).expect("rm");
    fs::create_dir(&list).expect("mkdir");
    fake.write("sys/ftrace_enabled", "0\n");
    let d = diagnose(&fake.host(), EPERM);
    assert!(
        d.causes[0].starts_with("ftrace is closed to this process"),
        "{d:?}"
    );
    assert!(d.causes[1].contains("kernel.ftrace_enabled is 0"), "{d:?}");
}

#[test]
fn no_securityfs_says_so_and_eperm_still_gets_a_cause() {
    let fake = Fake::new();
    let d = diagnose(&fake.host(), EPERM);
    assert!(
        d.causes[0].starts_with("EPERM although privileged"),
        "{d:?}"
    );
    assert!(d.causes[1].contains("securityfs is not mounted"), "{d:?}");
}

#[test]
fn fallbacks_follow_the_kernel() {
    let fake = Fake::new();
    let line = diagnose(&fake.host(), EPERM).line();
    assert!(
        line.starts_with("trampolines (fentry/fexit) refused (EPERM): "),
        "{line}"
    );
    assert!(
        line.ends_with(
            "fallbacks here: tracepoints yes, raw tracepoints yes, tp_btf no (a trivial program does not load), kprobe-multi yes, kprobes yes"
        ),
        "{line}"
    );
    fs::remove_file(fake.dir.path().join("kprobe_type")).expect("rm");
    fake.write(
        "kallsyms",
        "ffffffff81000000 T _stext\nffffffff81000010 T register_fprobe_ips_x\n",
    );
    let line = diagnose(&fake.host(), EPERM).line();
    assert!(
        line.contains("kprobe-multi no (no fprobe: CONFIG_FPROBE)"),
        "{line}"
    );
    assert!(
        line.contains("kprobes no (no kprobe PMU: CONFIG_KPROBES)"),
        "{line}"
    );
}

fn report_with(status: PointStatus) -> ProbeReport {
    ProbeReport {
        families: vec![FamilyReport {
            family: "claim".into(),
            points: vec![PointReport {
                point: 3,
                target: "fs_dax_get_by_bdev".into(),
                module: None,
                status,
            }],
        }],
        ..ProbeReport::default()
    }
}

#[test]
fn annotate_adds_one_line_only_when_fentry_was_refused() {
    let fake = Fake::new();
    let mut report = report_with(PointStatus::Missing {
        reason: format!("fentry failed: {EPERM}; kprobe: the kernel has no kprobe support"),
    });
    annotate(&mut report, || fake.host());
    annotate(&mut report, || fake.host());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].starts_with("trampolines (fentry/fexit) refused (EPERM)"));

    let mut fine = report_with(PointStatus::Attached {
        kind: crate::session::probe_report::AttachKind::Fentry,
        fallback_from: None,
    });
    annotate(&mut fine, || fake.host());
    assert!(fine.problems.is_empty());
}
