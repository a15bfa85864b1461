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

    #[test]
    fn dev_numbers_parse_like_mountinfo_prints_them() {
        assert_eq!(parse_dev("259:3"), Some(Dev::new(259, 3)));
        assert_eq!(parse_dev("x:3"), None);
    }
}
