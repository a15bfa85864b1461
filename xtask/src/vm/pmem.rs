//! The kinds of persistent memory a test-bed guest can have, the modules each
//! needs, and the devices of one run (the main one the scenarios use, and an
//! optional second one /init mounts as a DAX root before anything else runs).

/// Where a pmem device comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PmemKind {
    /// `memmap=512M!1G`: legacy e820 pmem, fsdax at once (nd_e820).
    Memmap,
    /// QEMU's emulated NVDIMM (ACPI NFIT), made fsdax by ndctl in the guest.
    Nvdimm,
    /// `virtio-pmem-pci` backed by a host file (virtio_pmem, nd_virtio): what
    /// Firecracker, Cloud Hypervisor and Kata guests get. Its flushes go to
    /// the host through a virtqueue; MAP_SYNC is refused (not synchronous).
    Virtio,
}

impl PmemKind {
    /// The name /init reads from run.conf (`DAXVM_PMEM`, `DAXVM_DAX_ROOT`).
    pub fn as_str(self) -> &'static str {
        match self {
            PmemKind::Memmap => "memmap",
            PmemKind::Nvdimm => "nvdimm",
            PmemKind::Virtio => "virtio",
        }
    }

    /// Modules only this kind needs: module init costs seconds under TCG,
    /// and a driver loaded early would take the name /dev/pmem0.
    pub fn modules(self) -> &'static [&'static str] {
        match self {
            PmemKind::Memmap => &["nd_e820"],
            PmemKind::Nvdimm => &["nfit"],
            PmemKind::Virtio => &["virtio_pmem", "nd_virtio"],
        }
    }

    /// Every kind, for the image's per-kind module lists.
    pub const ALL: [PmemKind; 3] = [PmemKind::Memmap, PmemKind::Nvdimm, PmemKind::Virtio];
}

/// Size of the main virtio-pmem device (as the 512 MiB of memmap pmem).
pub const VIRTIO_MAIN_MIB: u64 = 512;
/// Size of a virtio-pmem DAX root: smaller than the main device, so /init
/// can tell them apart.
pub const VIRTIO_ROOT_MIB: u64 = 256;
/// Size of the emulated NVDIMM's backing file.
pub const NVDIMM_MIB: u64 = 1024;

/// The pmem of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmemLayout {
    /// The device the scenarios use: /dev/pmem0.
    pub main: PmemKind,
    /// A second device, /dev/pmem1, which /init formats ext4 and mounts
    /// `dax=always` at [`DAX_ROOT_MOUNT`] first of all.
    pub dax_root: Option<PmemKind>,
    /// `memmap=` e820 pmem reserved beside the other devices but left
    /// unbound: /init does not load nd_e820, a step does (the device-DAX
    /// step reconfigures it, which virtio-pmem namespaces do not allow).
    pub spare_memmap: bool,
}

/// Where /init mounts the DAX root.
pub const DAX_ROOT_MOUNT: &str = "/dax-root";

impl PmemLayout {
    /// A layout the test bed can build: one memmap region and one NVDIMM at
    /// most, and no NVDIMM as a DAX root (its namespace set-up is per run).
    pub fn validate(&self) -> Result<(), String> {
        let memmap_used = self.main == PmemKind::Memmap || self.dax_root == Some(PmemKind::Memmap);
        if self.spare_memmap && memmap_used {
            return Err("memmap pmem is one region: it cannot also be the spare".into());
        }
        match self.dax_root {
            None => Ok(()),
            Some(PmemKind::Nvdimm) => {
                Err("an emulated NVDIMM cannot be the DAX root: use memmap or virtio".into())
            }
            Some(PmemKind::Memmap) if self.main == PmemKind::Memmap => Err(
                "memmap pmem is one region: a memmap DAX root needs --pmem nvdimm or virtio".into(),
            ),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_modules() {
        for a in PmemKind::ALL {
            for b in PmemKind::ALL {
                if a != b {
                    assert!(a.modules().iter().all(|m| !b.modules().contains(m)));
                }
            }
        }
    }

    #[test]
    fn impossible_layouts_are_refused_with_a_reason() {
        let memmap_twice = PmemLayout {
            main: PmemKind::Memmap,
            dax_root: Some(PmemKind::Memmap),
            spare_memmap: false,
        };
        assert!(memmap_twice.validate().unwrap_err().contains("one region"));
        let nvdimm_root = PmemLayout {
            main: PmemKind::Virtio,
            dax_root: Some(PmemKind::Nvdimm),
            spare_memmap: false,
        };
        assert!(nvdimm_root.validate().is_err());
        let spare_twice = PmemLayout {
            main: PmemKind::Memmap,
            dax_root: None,
            spare_memmap: true,
        };
        assert!(spare_twice.validate().unwrap_err().contains("spare"));
        for (main, root) in [
            (PmemKind::Virtio, PmemKind::Memmap),
            (PmemKind::Virtio, PmemKind::Virtio),
            (PmemKind::Memmap, PmemKind::Virtio),
        ] {
            let layout = PmemLayout {
                main,
                dax_root: Some(root),
                spare_memmap: false,
            };
            assert_eq!(layout.validate(), Ok(()), "{layout:?}");
        }
    }
}
