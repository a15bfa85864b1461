//! What sysfs says about block devices and device-dax: name, dev_t, size,
//! the DAX queue flag, the physical range of the nvdimm namespace behind a
//! pmem disk, and the members of a dm device. Rooted at a directory so tests
//! run on a fixture tree.
use std::path::{Path, PathBuf};

use crate::event::Dev;

/// One block device (`/sys/block/NAME`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockDevice {
    pub name: String,
    pub dev: Dev,
    pub size_bytes: u64,
    /// `queue/dax` is 1.
    pub dax: bool,
    /// The namespace (or pfn device) behind it and its physical range.
    pub backing: Option<(String, u64, u64)>,
    /// dm devices: `dm/name` and the member disks (`slaves/`).
    pub dm_name: Option<String>,
    pub slaves: Vec<String>,
}

/// A device-dax device (`/sys/bus/dax/devices/daxX.Y`) and its range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaxCharDevice {
    pub name: String,
    pub start: u64,
    pub size: u64,
    /// Its device number (`dev`), which its `dax_device`'s inode carries.
    pub dev: Option<Dev>,
    /// The bound driver (`device_dax`, `fsdev_dax`, `kmem`); empty when none.
    pub driver: String,
}

/// The device whose physical range holds a pagemap's, and its driver.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeOwner {
    /// `dax0.0` (device-dax) or an nvdimm device (`namespace0.0`, `pfn0.1`).
    pub device: String,
    /// The bound driver's name (`device_dax`, `fsdev_dax`, `kmem`,
    /// `nd_pmem`); empty when none is bound.
    pub driver: String,
}

/// A sysfs tree (normally `/sys`).
#[derive(Clone, Debug)]
pub struct Sysfs {
    pub root: PathBuf,
}

impl Default for Sysfs {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/sys"),
        }
    }
}

fn read_trim(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// `MAJOR:MINOR` as a kernel dev_t.
pub fn parse_dev(s: &str) -> Option<Dev> {
    let (ma, mi) = s.trim().split_once(':')?;
    Some(Dev::new(ma.parse().ok()?, mi.parse().ok()?))
}

/// The name of the driver bound to the device at `dir` (its `driver`
/// link); empty when none.
fn driver_of(dir: &Path) -> String {
    std::fs::read_link(dir.join("driver"))
        .ok()
        .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

impl Sysfs {
    /// Every block device, sorted by name.
    pub fn block_devices(&self) -> Vec<BlockDevice> {
        names_in(&self.root.join("block"))
            .into_iter()
            .filter_map(|name| self.block_device(&name))
            .collect()
    }

    pub fn block_device(&self, name: &str) -> Option<BlockDevice> {
        let dir = self.root.join("block").join(name);
        let dev = parse_dev(&read_trim(&dir.join("dev"))?)?;
        let sectors = read_trim(&dir.join("size")).and_then(|s| parse_u64(&s));
        let backing = {
            let device = dir.join("device");
            let start = read_trim(&device.join("resource")).and_then(|s| parse_u64(&s));
            let size = read_trim(&device.join("size")).and_then(|s| parse_u64(&s));
            let ns = std::fs::canonicalize(&device)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
            match (ns, start, size) {
                (Some(ns), Some(start), Some(size)) => Some((ns, start, size)),
                _ => None,
            }
        };
        Some(BlockDevice {
            name: name.to_string(),
            dev,
            size_bytes: sectors.unwrap_or(0) * 512,
            dax: read_trim(&dir.join("queue/dax")).as_deref() == Some("1"),
            backing,
            dm_name: read_trim(&dir.join("dm/name")),
            slaves: names_in(&dir.join("slaves")),
        })
    }

    /// The block device with dev_t `dev` (`/sys/dev/block/M:m`); a
    /// partition answers with its own name.
    pub fn name_of(&self, dev: Dev) -> Option<String> {
        let link = self
            .root
            .join("dev/block")
            .join(format!("{}:{}", dev.major(), dev.minor()));
        let target = std::fs::canonicalize(link).ok()?;
        Some(target.file_name()?.to_string_lossy().into_owned())
    }

    /// The device whose range overlaps `len` bytes at physical address
    /// `start`, with its driver: device-dax devices first (their nvdimm
    /// counterpart `daxX.Y` on the nd bus overlaps too), then nvdimm devices
    /// with a driver bound, then any.
    pub fn range_owner(&self, start: u64, len: u64) -> Option<RangeOwner> {
        let overlaps = |lo: u64, size: u64| lo < start.saturating_add(len) && start < lo + size;
        let candidates = |bus: &str| -> Vec<RangeOwner> {
            let dir = self.root.join("bus").join(bus).join("devices");
            names_in(&dir)
                .into_iter()
                .filter_map(|name| {
                    let d = dir.join(&name);
                    let lo = parse_u64(&read_trim(&d.join("resource"))?)?;
                    let size = parse_u64(&read_trim(&d.join("size"))?)?;
                    overlaps(lo, size).then(|| RangeOwner {
                        driver: driver_of(&d),
                        device: name,
                    })
                })
                .collect()
        };
        let dax = candidates("dax");
        if let Some(first) = dax.into_iter().next() {
            return Some(first);
        }
        let nd = candidates("nd");
        let bound = nd.iter().position(|o| !o.driver.is_empty()).unwrap_or(0);
        nd.into_iter().nth(bound)
    }

    /// Device-dax devices with their physical ranges.
    pub fn dax_char_devices(&self) -> Vec<DaxCharDevice> {
        let dir = self.root.join("bus/dax/devices");
        names_in(&dir)
            .into_iter()
            .filter_map(|name| {
                let d = dir.join(&name);
                Some(DaxCharDevice {
                    start: parse_u64(&read_trim(&d.join("resource"))?)?,
                    size: parse_u64(&read_trim(&d.join("size"))?)?,
                    dev: read_trim(&d.join("dev")).and_then(|s| parse_dev(&s)),
                    driver: driver_of(&d),
                    name,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    #[test]
    fn a_pmem_disk_has_its_namespace_range_and_a_dm_disk_its_members() {
        let tmp = tempfile::tempdir().expect("tmp");
        let r = tmp.path();
        write(
            r,
            "devices/ndbus0/region0/namespace0.0/resource",
            "0x40000000\n",
        );
        write(r, "devices/ndbus0/region0/namespace0.0/size", "536870912\n");
        write(r, "block/pmem0/dev", "259:0\n");
        write(r, "block/pmem0/size", "1048576\n");
        write(r, "block/pmem0/queue/dax", "1\n");
        std::os::unix::fs::symlink(
            r.join("devices/ndbus0/region0/namespace0.0"),
            r.join("block/pmem0/device"),
        )
        .expect("link");
        write(r, "block/dm-0/dev", "254:0\n");
        write(r, "block/dm-0/size", "2048\n");
        write(r, "block/dm-0/dm/name", "daxlin\n");
        write(r, "block/dm-0/slaves/pmem0", "");
        let devs = Sysfs {
            root: r.to_path_buf(),
        }
        .block_devices();
        assert_eq!(devs.len(), 2);
        let dm = &devs[0];
        assert_eq!(
            (dm.name.as_str(), dm.dm_name.as_deref(), dm.slaves.clone()),
            ("dm-0", Some("daxlin"), vec!["pmem0".to_string()])
        );
        assert!(!dm.dax);
        let pmem = &devs[1];
        assert_eq!(pmem.dev, Dev::new(259, 0));
        assert_eq!(pmem.size_bytes, 512 << 20);
        assert!(pmem.dax);
        assert_eq!(
            pmem.backing,
            Some(("namespace0.0".to_string(), 0x4000_0000, 512 << 20))
        );
    }

    /// A device at `rel` with a range and, when given, a driver link.
    fn device(r: &Path, rel: &str, start: u64, size: u64, driver: Option<&str>) {
        write(r, &format!("{rel}/resource"), &format!("{start:#x}\n"));
        write(r, &format!("{rel}/size"), &format!("{size}\n"));
        if let Some(drv) = driver {
            let target = r.join("bus/x/drivers").join(drv);
            std::fs::create_dir_all(&target).expect("mkdir");
            std::os::unix::fs::symlink(target, r.join(rel).join("driver")).expect("link");
        }
    }

    #[test]
    fn a_range_is_owned_by_its_device_dax_device_and_the_driver_bound_to_it() {
        let tmp = tempfile::tempdir().expect("tmp");
        let r = tmp.path();
        // devdax on a namespace: the nd bus's dax0.1 (dax_pmem) and the dax
        // bus's dax0.0 (fsdev_dax now) overlap the pagemap.
        device(
            r,
            "bus/nd/devices/namespace0.0",
            0x4000_0000,
            512 << 20,
            None,
        );
        device(
            r,
            "bus/nd/devices/dax0.1",
            0x4000_0000,
            512 << 20,
            Some("dax_pmem"),
        );
        device(
            r,
            "bus/dax/devices/dax0.0",
            0x40a0_0000,
            502 << 20,
            Some("fsdev_dax"),
        );
        let sys = Sysfs {
            root: r.to_path_buf(),
        };
        let owner = sys.range_owner(0x40a0_0000, 502 << 20).expect("owner");
        assert_eq!(
            (owner.device.as_str(), owner.driver.as_str()),
            ("dax0.0", "fsdev_dax")
        );
        write(r, "bus/dax/devices/dax0.0/dev", "251:0\n");
        let chars = sys.dax_char_devices();
        assert_eq!(
            (chars[0].dev, chars[0].driver.as_str()),
            (Some(Dev::new(251, 0)), "fsdev_dax")
        );
        assert_eq!(
            sys.range_owner(0x1_0000_0000, 4096),
            None,
            "outside every range"
        );
        // Unbound: the device, no driver.
        std::fs::remove_file(r.join("bus/dax/devices/dax0.0/driver")).expect("unlink");
        let owner = sys.range_owner(0x40a0_0000, 4096).expect("owner");
        assert_eq!(
            (owner.device.as_str(), owner.driver.as_str()),
            ("dax0.0", "")
        );
        // fsdax: no device-dax device; the bound nvdimm device wins.
        std::fs::remove_dir_all(r.join("bus/dax")).expect("rm");
        let owner = sys.range_owner(0x4100_0000, 4096).expect("owner");
        assert_eq!(
            (owner.device.as_str(), owner.driver.as_str()),
            ("dax0.1", "dax_pmem")
        );
    }

    #[test]
    fn dev_numbers_parse_like_mountinfo_prints_them() {
        assert_eq!(parse_dev("259:3"), Some(Dev::new(259, 3)));
        assert_eq!(parse_dev("x:3"), None);
    }
}
