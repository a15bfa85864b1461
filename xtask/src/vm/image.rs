//! An unpacked kernel: the type the fetcher (`kernel`) makes and the module
//! resolver and initramfs builder read, in a module of its own so neither
//! depends on the other for it.
use std::path::PathBuf;

use super::generation::KernelGen;

/// An unpacked kernel ready to boot.
#[derive(Clone, Debug)]
pub struct KernelImage {
    pub generation: KernelGen,
    /// `uname -r` of the kernel.
    pub release: String,
    /// The bzImage (`vmlinuz`) QEMU boots.
    pub image: PathBuf,
    /// `D` such that `D/lib/modules/<release>` holds the modules (`modprobe -d D`).
    pub module_base: PathBuf,
}

impl KernelImage {
    pub fn modules_dir(&self) -> PathBuf {
        self.module_base.join("lib/modules").join(&self.release)
    }
}
