//! Choosing between KVM and TCG.
use std::path::Path;

/// The QEMU accelerator of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    Kvm,
    /// Multi-threaded TCG: the fastest emulation, but guest time follows the
    /// host's, so throughput ratios scatter with host load.
    Tcg,
    /// QEMU's instruction clock (`-icount shift=0,sleep=off`) on
    /// single-threaded TCG with one vCPU: guest time advances one nanosecond
    /// per guest instruction, so a guest-measured rate counts instructions
    /// and host load drops out. QEMU refuses icount with MTTCG.
    Icount,
}

/// KVM is used only when the CPU has hardware virtualisation (vmx/svm) and the
/// host's KVM is not the nested "PVM" flavour (module kvm_pvm), which cannot run
/// Debian kernels.
pub fn kvm_usable(cpuinfo: &str, loaded_modules: &str, dev_kvm_opens: bool) -> bool {
    let hw_virt = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
    let pvm = loaded_modules
        .lines()
        .any(|l| l.split_whitespace().next() == Some("kvm_pvm"));
    hw_virt && !pvm && dev_kvm_opens
}

/// Probe this host.
pub fn detect() -> Accel {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let mut modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    if Path::new("/sys/module/kvm_pvm").exists() {
        modules.push_str("\nkvm_pvm 0 0 - Live\n");
    }
    let dev_kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if kvm_usable(&cpuinfo, &modules, dev_kvm) {
        Accel::Kvm
    } else {
        Accel::Tcg
    }
}

impl Accel {
    /// `-accel ... -cpu ...` (and `-icount ...`) for QEMU.
    pub fn qemu_args(self) -> &'static [&'static str] {
        match self {
            Self::Kvm => &["-accel", "kvm", "-cpu", "host"],
            Self::Tcg => &["-accel", "tcg,thread=multi", "-cpu", "max"],
            Self::Icount => &[
                "-accel",
                "tcg,thread=single",
                "-icount",
                "shift=0,sleep=off",
                "-cpu",
                "max",
            ],
        }
    }

    /// The vCPUs a run gets when `wanted` are asked for. Under the
    /// instruction clock one: with `-smp 2` a 6.1 guest sat at "x86: Booting
    /// SMP configuration" for 7 minutes (../shared/toolchain.md), and one
    /// vCPU is what makes a run's instruction count deterministic.
    pub fn cpus(self, wanted: u32) -> u32 {
        match self {
            Self::Icount => 1,
            _ => wanted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VMX: &str = "processor\t: 0\nflags\t\t: fpu vme vmx sse2\n";
    const PLAIN: &str = "processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor\n";

    #[test]
    fn kvm_needs_hardware_virtualisation() {
        assert!(kvm_usable(VMX, "", true));
        assert!(!kvm_usable(PLAIN, "", true));
        assert!(kvm_usable("flags : svm\n", "", true));
    }

    #[test]
    fn nested_pvm_kvm_is_refused() {
        assert!(!kvm_usable(
            VMX,
            "kvm_pvm 1234 0 - Live 0x0\nkvm 1 1 kvm_pvm\n",
            true
        ));
        assert!(kvm_usable(
            VMX,
            "kvm_intel 1 0 - Live\nkvm 1 1 kvm_intel\n",
            true
        ));
    }

    #[test]
    fn unopenable_dev_kvm_means_tcg() {
        assert!(!kvm_usable(VMX, "", false));
    }
}
