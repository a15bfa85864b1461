//! Names what a new pagemap maps, while it is still there: the device whose
//! physical range holds the pagemap's and the driver bound to it, from sysfs
//! when live capture receives the `pagemap-create`. The kernel event has the
//! type and the range, not the device: the driver that called
//! `memremap_pages` (`device_dax`, `fsdev_dax`, `nd_pmem`) is only told by
//! sysfs, and only until the device is unbound again, so it is read at
//! once and kept in the trace.
use dax_trace_common::DiskName;
use dax_trace_common::payload::PagemapCreate;

use crate::state::sysfs::Sysfs;

/// A created pagemap whose device was not looked up yet.
pub fn unnamed(c: &PagemapCreate) -> bool {
    c.ret == 0 && c.pfn_end > c.pfn_start && c.device.is_empty()
}

/// Fills `device` and `driver` of `c` from `sysfs`; both stay empty when no
/// device's range overlaps the pagemap's first range.
pub fn name(sysfs: &Sysfs, c: &mut PagemapCreate) {
    if !unnamed(c) {
        return;
    }
    let start = c.pfn_start << 12;
    let len = (c.pfn_end - c.pfn_start) << 12;
    if let Some(owner) = sysfs.range_owner(start, len) {
        c.device = DiskName::from_str_lossy(&owner.device);
        c.driver = DiskName::from_str_lossy(&owner.driver);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_dax_pagemap_is_named_after_its_device_and_driver() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dev = tmp.path().join("bus/dax/devices/dax0.0");
        std::fs::create_dir_all(&dev).expect("mkdir");
        std::fs::write(dev.join("resource"), "0x40a00000\n").expect("write");
        std::fs::write(dev.join("size"), "526385152\n").expect("write");
        let drv = tmp.path().join("bus/dax/drivers/device_dax");
        std::fs::create_dir_all(&drv).expect("mkdir");
        std::os::unix::fs::symlink(&drv, dev.join("driver")).expect("link");
        let sysfs = Sysfs {
            root: tmp.path().to_path_buf(),
        };
        let mut c = PagemapCreate {
            pfn_start: 0x40a00,
            pfn_end: 0x60000,
            ..Default::default()
        };
        assert!(unnamed(&c));
        name(&sysfs, &mut c);
        assert_eq!(
            (c.device.as_str(), c.driver.as_str()),
            ("dax0.0", "device_dax")
        );
        assert!(!unnamed(&c));
        // A failed creation and a pagemap outside every device stay unnamed.
        let mut failed = PagemapCreate { ret: -12, ..c };
        failed.device = DiskName::EMPTY;
        name(&sysfs, &mut failed);
        assert!(failed.device.is_empty());
        let mut elsewhere = PagemapCreate {
            pfn_start: 0x100000,
            pfn_end: 0x100200,
            ..Default::default()
        };
        name(&sysfs, &mut elsewhere);
        assert!(elsewhere.device.is_empty() && elsewhere.driver.is_empty());
    }
}
