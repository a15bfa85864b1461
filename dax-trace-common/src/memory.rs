//! What kind of memory a `dev_pagemap` maps, in numbers that stay the same
//! on every kernel: `enum memory_type` renumbers its enumerators between
//! releases (FS_DAX is 2 on 5.x and 3 from 6.1, when COHERENT was added
//! before it), so the values this kernel uses come from BTF into
//! [`Config`] and events carry the fixed [`MemoryKind`] beside the raw type.
use crate::Config;

/// This kernel's values of the `MEMORY_DEVICE_*` enumerators (0: absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryTypes {
    /// `MEMORY_DEVICE_FS_DAX`.
    pub fsdax: u32,
    /// `MEMORY_DEVICE_GENERIC`.
    pub generic: u32,
    /// `MEMORY_DEVICE_PRIVATE`.
    pub private: u32,
    /// `MEMORY_DEVICE_COHERENT`.
    pub coherent: u32,
    /// `MEMORY_DEVICE_PCI_P2PDMA`.
    pub p2pdma: u32,
}

impl MemoryTypes {
    /// The values the loader read from BTF into `config`.
    pub fn of(config: &Config) -> Self {
        Self {
            fsdax: config.fsdax_type,
            generic: config.generic_type,
            private: config.private_type,
            coherent: config.coherent_type,
            p2pdma: config.p2pdma_type,
        }
    }
}

/// The kernel's `MEMORY_DEVICE_*` type of a pagemap, under a number of our own.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "user",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum MemoryKind {
    /// A type this kernel's BTF did not name, or a record without one.
    Unknown = 0,
    /// `MEMORY_DEVICE_PRIVATE`: device memory the CPU cannot address (HMM).
    Private = 1,
    /// `MEMORY_DEVICE_COHERENT` (6.1+): device memory the CPU can address.
    Coherent = 2,
    /// `MEMORY_DEVICE_FS_DAX`: pmem under a DAX filesystem (nd_pmem), or
    /// device-dax memory bound to `fsdev_dax` (7.1+).
    FsDax = 3,
    /// `MEMORY_DEVICE_GENERIC`: device-dax memory bound to `device_dax`
    /// (a character device mapped whole).
    Generic = 4,
    /// `MEMORY_DEVICE_PCI_P2PDMA`: PCI peer-to-peer memory.
    PciP2pdma = 5,
}

impl MemoryKind {
    /// The kind of an ABI number; [`MemoryKind::Unknown`] for any other number.
    pub const fn from_u64(v: u64) -> Self {
        match v {
            1 => Self::Private,
            2 => Self::Coherent,
            3 => Self::FsDax,
            4 => Self::Generic,
            5 => Self::PciP2pdma,
            _ => Self::Unknown,
        }
    }

    /// The kind of `pgmap->type` value `ty` on the kernel `config` was read from.
    pub fn of_type(ty: u32, config: &Config) -> Self {
        Self::classify(ty, &MemoryTypes::of(config))
    }

    /// The kind of `pgmap->type` value `ty` among `types`. 0 is never a type
    /// (the kernel reserves it for "unset"), so an enumerator BTF lacks
    /// (left 0) never matches.
    #[inline(always)]
    pub fn classify(ty: u32, types: &MemoryTypes) -> Self {
        if ty == 0 {
            Self::Unknown
        } else if ty == types.fsdax {
            Self::FsDax
        } else if ty == types.generic {
            Self::Generic
        } else if ty == types.private {
            Self::Private
        } else if ty == types.coherent {
            Self::Coherent
        } else if ty == types.p2pdma {
            Self::PciP2pdma
        } else {
            Self::Unknown
        }
    }

    /// The name users see (`fs-dax`, `generic`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Private => "private",
            Self::Coherent => "coherent",
            Self::FsDax => "fs-dax",
            Self::Generic => "generic",
            Self::PciP2pdma => "pci-p2pdma",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `enum memory_type` as 5.10 numbers it (no COHERENT) and as 6.1+ does.
    fn config(fsdax: u32, generic: u32, coherent: u32) -> Config {
        let mut c = Config::zeroed();
        c.private_type = 1;
        c.fsdax_type = fsdax;
        c.generic_type = generic;
        c.coherent_type = coherent;
        c.p2pdma_type = generic + 1;
        c
    }

    #[test]
    fn the_same_number_is_another_kind_on_another_kernel() {
        let five = config(2, 3, 0);
        let six = config(3, 4, 2);
        assert_eq!(MemoryKind::of_type(3, &five), MemoryKind::Generic);
        assert_eq!(MemoryKind::of_type(3, &six), MemoryKind::FsDax);
        assert_eq!(MemoryKind::of_type(2, &five), MemoryKind::FsDax);
        assert_eq!(MemoryKind::of_type(2, &six), MemoryKind::Coherent);
        assert_eq!(MemoryKind::of_type(5, &six), MemoryKind::PciP2pdma);
    }

    #[test]
    fn zero_and_unnamed_types_are_unknown() {
        let five = config(2, 3, 0);
        assert_eq!(MemoryKind::of_type(0, &five), MemoryKind::Unknown);
        assert_eq!(MemoryKind::of_type(9, &five), MemoryKind::Unknown);
        for v in 0..7 {
            assert_eq!(
                MemoryKind::from_u64(MemoryKind::from_u64(v) as u64),
                MemoryKind::from_u64(v)
            );
        }
    }
}
