//! What this process and this kernel allow: privileges (euid, CAP_BPF,
//! CAP_PERFMON, CAP_SYS_ADMIN from `capget`), tracefs, the kprobe PMU, BTF.
use std::path::{Path, PathBuf};

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The kprobe PMU: present when the kernel has CONFIG_KPROBES (and perf kprobes).
pub const KPROBE_PMU: &str = "/sys/bus/event_source/devices/kprobe/type";
/// vmlinux BTF.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Facilities of this machine relevant to attaching probes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facilities {
    pub euid: u32,
    pub cap_bpf: bool,
    pub cap_perfmon: bool,
    pub cap_sys_admin: bool,
    /// Where tracefs is mounted, if it is.
    pub tracefs: Option<PathBuf>,
    pub kprobe_pmu: bool,
    pub vmlinux_btf: bool,
}

impl Facilities {
    /// Probes the running system.
    pub fn detect() -> Self {
        let caps = effective_caps();
        Self {
            // SAFETY: geteuid has no preconditions and cannot fail.
            euid: unsafe { libc::geteuid() },
            cap_bpf: caps.is_some_and(|c| has(c, CAP_BPF)),
            cap_perfmon: caps.is_some_and(|c| has(c, CAP_PERFMON)),
            cap_sys_admin: caps.is_some_and(|c| has(c, CAP_SYS_ADMIN)),
            tracefs: super::tracefs::find_mount(),
            kprobe_pmu: Path::new(KPROBE_PMU).is_file(),
            vmlinux_btf: Path::new(VMLINUX_BTF).is_file(),
        }
    }

    /// Everything present, for tests and fixtures.
    pub fn all(tracefs: Option<PathBuf>) -> Self {
        Self {
            euid: 0,
            cap_bpf: true,
            cap_perfmon: true,
            cap_sys_admin: true,
            tracefs,
            kprobe_pmu: true,
            vmlinux_btf: true,
        }
    }

    /// May load BPF programs: CAP_BPF (5.8+) or CAP_SYS_ADMIN.
    pub fn can_bpf(&self) -> bool {
        self.cap_bpf || self.cap_sys_admin
    }

    /// May attach tracing programs: CAP_PERFMON (5.8+) or CAP_SYS_ADMIN.
    pub fn can_perfmon(&self) -> bool {
        self.cap_perfmon || self.cap_sys_admin
    }

    /// Sentences naming each missing facility and what it costs.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.can_bpf() {
            out.push(format!(
                "no CAP_BPF (euid {}): loading eBPF programs needs root or CAP_BPF + CAP_PERFMON",
                self.euid
            ));
        }
        if !self.can_perfmon() {
            out.push(
                "no CAP_PERFMON: attaching kprobes, tracepoints and perf events needs root or CAP_PERFMON"
                    .to_string(),
            );
        }
        if !self.vmlinux_btf {
            out.push(format!(
                "no kernel BTF ({VMLINUX_BTF} missing; needs CONFIG_DEBUG_INFO_BTF): struct offsets cannot be read and fentry is impossible"
            ));
        }
        if self.tracefs.is_none() {
            out.push(
                "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing): tracepoints and the kprobe-able function list are unavailable"
                    .to_string(),
            );
        }
        if !self.kprobe_pmu {
            out.push(format!(
                "no kprobe support ({KPROBE_PMU} missing; needs CONFIG_KPROBES): module functions cannot be probed"
            ));
        }
        out
    }
}

fn has(caps: u64, cap: u32) -> bool {
    caps & (1u64 << cap) != 0
}

/// Effective capability set of this process (64 bits), `None` if capget fails.
fn effective_caps() -> Option<u64> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget with version 3 writes two Data structs; both pointers are
    // valid for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    };
    (rc == 0).then(|| data[0].effective as u64 | ((data[1].effective as u64) << 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capget_agrees_with_proc_status() {
        let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
        let hex = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .expect("CapEff line")
            .trim();
        let from_proc = u64::from_str_radix(hex, 16).expect("hex");
        assert_eq!(effective_caps(), Some(from_proc));
    }

    #[test]
    fn missing_facilities_are_each_named() {
        let f = Facilities {
            euid: 1000,
            cap_bpf: false,
            cap_perfmon: false,
            cap_sys_admin: false,
            tracefs: None,
            kprobe_pmu: false,
            vmlinux_btf: false,
        };
        let text = f.problems().join("\n");
        for word in ["CAP_BPF", "CAP_PERFMON", "BTF", "tracefs", "kprobe"] {
            assert!(text.contains(word), "{word} missing from {text}");
        }
        assert!(Facilities::all(Some("/t".into())).problems().is_empty());
    }
}
