//! Choosing between KVM and TCG.
use std::path::Path;

/// The QEMU accelerator of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    Kvm,
    Tcg,
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
    /// `-accel ... -cpu ...` for QEMU.
    pub fn qemu_args(self) -> [&'static str; 4] {
        match self {
            Self::Kvm => ["-accel", "kvm", "-cpu", "host"],
            Self::Tcg => ["-accel", "tcg,thread=multi", "-cpu", "max"],
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
