//! Why the kernel refuses fentry/fexit (BPF trampolines), in one line a user
//! can act on, with the attach kinds this kernel still allows.
//!
//! A refused trampoline silently costs most probe families when kprobes are
//! missing too, so the cause is looked for in a fixed order, the first that
//! applies leading: kernel lockdown, the active LSMs (the BPF LSM, SELinux,
//! AppArmor), a kernel without the function tracer, ftrace switched off by
//! sysctl or closed to this process, then the errno of the refused load.
//! Every input is a path in [`TrampolineHost`], so fake sysfs trees test it.
use std::path::{Path, PathBuf};

use crate::session::probe_report::{PointStatus, ProbeReport};

/// Where the facts come from (the host's paths, or a fake tree in tests).
#[derive(Clone, Debug)]
pub struct TrampolineHost {
    /// securityfs (`/sys/kernel/security`): `lockdown`, `lsm`.
    pub security: PathBuf,
    /// tracefs mount (`/sys/kernel/tracing`), `None` when not mounted.
    pub tracefs: Option<PathBuf>,
    /// `/proc/sys/kernel`: `ftrace_enabled`.
    pub sysctl_kernel: PathBuf,
    /// The kprobe PMU's `type` file.
    pub kprobe_pmu: PathBuf,
    /// `/proc/kallsyms`, searched for `register_fprobe` (kprobe-multi).
    pub kallsyms: PathBuf,
    /// Whether a raw tracepoint program loads here (`None`: not tried).
    pub raw_tracepoint_loads: Option<bool>,
    /// Whether a trivial tp_btf program loads here.
    pub tp_btf_loads: Option<bool>,
}

/// Loads a trivial program of `kind`: `Some(false)` when refused.
fn loads(kind: aya::programs::ProgramType) -> Option<bool> {
    match aya::sys::is_program_supported(kind) {
        Ok(yes) => Some(yes),
        Err(aya::programs::ProgramError::SyscallError(e))
            if e.io_error.raw_os_error() == Some(libc::EPERM) =>
        {
            Some(false)
        }
        Err(_) => None,
    }
}

impl TrampolineHost {
    /// The running system; tries loading trivial raw tracepoint and tp_btf
    /// programs.
    pub fn detect(tracefs: Option<PathBuf>) -> Self {
        use aya::programs::ProgramType;
        Self {
            security: PathBuf::from("/sys/kernel/security"),
            tracefs,
            sysctl_kernel: PathBuf::from("/proc/sys/kernel"),
            kprobe_pmu: PathBuf::from(super::facilities::KPROBE_PMU),
            kallsyms: PathBuf::from("/proc/kallsyms"),
            raw_tracepoint_loads: loads(ProgramType::RawTracePoint),
            tp_btf_loads: super::trial_load::tp_btf_loads(Path::new(
                super::facilities::VMLINUX_BTF,
            )),
        }
    }
}

/// The diagnosis: the likely cause first, then the other findings, then the
/// attach kinds this kernel allows instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub refused: String,
    pub causes: Vec<String>,
    pub fallbacks: Vec<String>,
}

/// The prefix of the diagnosis in a report's problems.
pub const PREFIX: &str = "trampolines (fentry/fexit) refused";

impl Diagnosis {
    /// One line: `trampolines (fentry/fexit) refused (EPERM): cause; ...;
    /// fallbacks here: ...`.
    pub fn line(&self) -> String {
        let causes = if self.causes.is_empty() {
            "cause not found".to_string()
        } else {
            self.causes.join("; ")
        };
        let fallbacks = if self.fallbacks.is_empty() {
            "none".to_string()
        } else {
            self.fallbacks.join(", ")
        };
        format!(
            "{PREFIX} ({}): {causes}; fallbacks here: {fallbacks}",
            self.refused
        )
    }
}

/// The errno name in a load failure's text ("Operation not permitted (os
/// error 1)" reads EPERM), or the text itself.
fn errno_of(reason: &str) -> String {
    const NAMES: [(&str, &str); 6] = [
        ("(os error 1)", "EPERM"),
        ("(os error 13)", "EACCES"),
        ("(os error 22)", "EINVAL"),
        ("(os error 95)", "EOPNOTSUPP"),
        ("(os error 524)", "ENOTSUPP"),
        ("(os error 16)", "EBUSY"),
    ];
    NAMES
        .iter()
        .find(|(code, _)| reason.contains(code))
        .map_or_else(|| reason.trim().to_string(), |(_, name)| name.to_string())
}

/// The first fentry failure of `report` (the text after "fentry failed: "),
/// `None` when no point tried fentry and failed.
pub fn refused_load(report: &ProbeReport) -> Option<String> {
    report
        .families
        .iter()
        .flat_map(|f| &f.points)
        .find_map(|p| {
            let text = match &p.status {
                PointStatus::Missing { reason } => reason.as_str(),
                PointStatus::Attached {
                    fallback_from: Some(why),
                    ..
                } => why.as_str(),
                _ => return None,
            };
            let rest = text.split("fentry failed: ").nth(1)?;
            Some(rest.split(';').next().unwrap_or(rest).to_string())
        })
}

fn read(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// The bracketed mode of `lockdown` ("none [integrity] confidentiality").
fn lockdown_mode(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(&text[start..end])
}

fn security_causes(host: &TrampolineHost, causes: &mut Vec<String>, notes: &mut Vec<String>) {
    match read(&host.security.join("lockdown")) {
        Ok(text) => match lockdown_mode(&text) {
            Some("confidentiality") => causes.push(
                "kernel lockdown is in confidentiality mode, which refuses tracing programs that read kernel memory"
                    .to_string(),
            ),
            Some(mode) => notes.push(format!("lockdown {mode} (does not refuse trampolines)")),
            None => {}
        },
        Err(_) => notes.push(format!(
            "lockdown and LSMs unknown: securityfs is not mounted at {} (mount -t securityfs none {})",
            host.security.display(),
            host.security.display()
        )),
    }
    let Ok(lsms) = read(&host.security.join("lsm")) else {
        return;
    };
    let active: Vec<&str> = lsms.trim().split(',').map(str::trim).collect();
    if active.contains(&"bpf") {
        causes.push(
            "the BPF LSM is active: a BPF LSM program may refuse tracing loads (list them with bpftool prog show)"
                .to_string(),
        );
    }
    if active.contains(&"selinux") {
        causes.push(
            "SELinux is active: its policy may deny bpf and perfmon (look for avc denials in the audit log)"
                .to_string(),
        );
    }
    if active.contains(&"apparmor") {
        notes.push("AppArmor is active: a profile may deny bpf".to_string());
    }
}

fn ftrace_causes(host: &TrampolineHost, causes: &mut Vec<String>) {
    let Some(tracefs) = &host.tracefs else {
        causes.push("tracefs is not mounted: whether ftrace exists is unknown".to_string());
        return;
    };
    let functions = tracefs.join("available_filter_functions");
    if !functions.exists() {
        causes.push(
            "the kernel has no function tracer (no available_filter_functions: CONFIG_FUNCTION_TRACER and CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS), so no trampoline can exist"
                .to_string(),
        );
    } else if let Err(err) = read_a_little(&functions) {
        causes.push(format!(
            "ftrace is closed to this process (reading available_filter_functions: {}): an LSM or lockdown refuses it",
            errno_of(&err.to_string())
        ));
    }
    if read(&host.sysctl_kernel.join("ftrace_enabled")).is_ok_and(|v| v.trim() == "0") {
        causes.push(
            "sysctl kernel.ftrace_enabled is 0, which disables function tracing and trampolines"
                .to_string(),
        );
    }
}

/// Opens `path` and reads a few bytes (the function list is long).
fn read_a_little(path: &Path) -> std::io::Result<()> {
    use std::io::Read as _;
    let mut buf = [0u8; 64];
    std::fs::File::open(path)?.read(&mut buf).map(|_| ())
}

/// Whether kallsyms names `symbol` (a whole word).
fn kallsyms_has(kallsyms: &Path, symbol: &str) -> bool {
    read(kallsyms).is_ok_and(|text| {
        text.lines()
            .any(|l| l.split_whitespace().nth(2) == Some(symbol))
    })
}

fn fallbacks(host: &TrampolineHost) -> Vec<String> {
    let mut out = Vec::new();
    let tracepoints = host
        .tracefs
        .as_ref()
        .is_some_and(|t| t.join("events").is_dir());
    out.push(if tracepoints {
        "tracepoints yes".to_string()
    } else {
        "tracepoints no (tracefs events not readable)".to_string()
    });
    out.push(match host.raw_tracepoint_loads {
        Some(true) => "raw tracepoints yes".to_string(),
        Some(false) => "raw tracepoints no (a trivial program does not load)".to_string(),
        None => "raw tracepoints untried".to_string(),
    });
    out.push(match host.tp_btf_loads {
        Some(true) => "tp_btf yes".to_string(),
        Some(false) => "tp_btf no (a trivial program does not load)".to_string(),
        None => "tp_btf untried".to_string(),
    });
    out.push(if kallsyms_has(&host.kallsyms, "register_fprobe") {
        "kprobe-multi yes".to_string()
    } else {
        "kprobe-multi no (no fprobe: CONFIG_FPROBE)".to_string()
    });
    out.push(if host.kprobe_pmu.is_file() {
        "kprobes yes".to_string()
    } else {
        "kprobes no (no kprobe PMU: CONFIG_KPROBES)".to_string()
    });
    out
}

/// Diagnoses a refused trampoline load (`refused`: the loader's error text).
pub fn diagnose(host: &TrampolineHost, refused: &str) -> Diagnosis {
    let mut causes = Vec::new();
    let mut notes = Vec::new();
    security_causes(host, &mut causes, &mut notes);
    ftrace_causes(host, &mut causes);
    let errno = errno_of(refused);
    if causes.is_empty() && errno == "EPERM" {
        causes.push(
            "EPERM although privileged: a security module or lockdown refuses it".to_string(),
        );
    }
    causes.extend(notes);
    Diagnosis {
        refused: errno,
        causes,
        fallbacks: fallbacks(host),
    }
}

/// Adds the diagnosis to `report`'s problems (and the log) when a point's
/// fentry was refused; nothing otherwise.
pub fn annotate(report: &mut ProbeReport, host: impl FnOnce() -> TrampolineHost) {
    let Some(refused) = refused_load(report) else {
        return;
    };
    if report.problems.iter().any(|p| p.starts_with(PREFIX)) {
        return;
    }
    let line = diagnose(&host(), &refused).line();
    log::warn!("{line}");
    report.problems.push(line);
}

#[cfg(test)]
mod tests;
