//! Block device facts: is it one, how big, does the queue support DAX.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// `_IOR(0x12, 114, size_t)`: device size in bytes.
// libc::Ioctl is c_ulong with glibc and c_int with musl.
const BLKGETSIZE64: libc::Ioctl = 0x8008_1272_u32 as libc::Ioctl;

/// Fail unless `path` is a block device.
pub fn require_block_device(path: &Path) -> Result<()> {
    let meta = fs::metadata(path).with_context(|| format!("{} is missing", path.display()))?;
    if !meta.file_type().is_block_device() {
        bail!("{} is not a block device", path.display());
    }
    Ok(())
}

/// Size of a block device in bytes.
pub fn size_bytes(path: &Path) -> Result<u64> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which is valid.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64, &mut size as *mut u64) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("BLKGETSIZE64 on {}", path.display()));
    }
    Ok(size)
}

/// Size of a block device in 512-byte sectors, as device-mapper tables count.
pub fn size_sectors(path: &Path) -> Result<u64> {
    Ok(size_bytes(path)? / 512)
}

/// The sysfs directory of a block device node (`/sys/dev/block/MAJ:MIN`).
pub fn sysfs_dir(path: &Path) -> Result<PathBuf> {
    let meta = fs::metadata(path).with_context(|| format!("{} is missing", path.display()))?;
    let rdev = std::os::unix::fs::MetadataExt::rdev(&meta);
    Ok(PathBuf::from(format!(
        "/sys/dev/block/{}:{}",
        libc::major(rdev),
        libc::minor(rdev)
    )))
}

/// Whether the pmem disk at `path` is a virtio-pmem device (its namespace
/// sits under a virtio device in sysfs): its flushes go to the host through
/// a virtqueue, so the kernel marks its dax_device not synchronous and
/// refuses MAP_SYNC on it and on dm devices over it.
pub fn is_virtio_pmem(path: &Path) -> bool {
    sysfs_dir(path)
        .and_then(|dir| Ok(fs::canonicalize(dir.join("device"))?))
        .is_ok_and(|namespace| {
            namespace
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with("virtio"))
        })
}

/// `queue/dax` of the device: whether the block layer says it can do DAX.
pub fn queue_dax(path: &Path) -> Option<bool> {
    let dir = sysfs_dir(path).ok()?;
    let value = fs::read_to_string(dir.join("queue/dax")).ok()?;
    match value.trim() {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

/// Device node of a `MAJ:MIN` device from its uevent `DEVNAME=` line.
pub fn node_of(major_minor: &str) -> Result<PathBuf> {
    let uevent_path = format!("/sys/dev/block/{major_minor}/uevent");
    let uevent =
        fs::read_to_string(&uevent_path).with_context(|| format!("reading {uevent_path}"))?;
    let name =
        devname_from_uevent(&uevent).with_context(|| format!("no DEVNAME in {uevent_path}"))?;
    Ok(Path::new("/dev").join(name))
}

pub fn devname_from_uevent(uevent: &str) -> Option<&str> {
    uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .map(str::trim)
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devname_is_read_from_uevent() {
        let uevent = "MAJOR=253\nMINOR=0\nDEVNAME=dm-0\nDEVTYPE=disk\n";
        assert_eq!(devname_from_uevent(uevent), Some("dm-0"));
        assert_eq!(devname_from_uevent("MAJOR=1\n"), None);
    }

    #[test]
    fn regular_files_are_not_block_devices() {
        let err = require_block_device(Path::new("/proc/self/status")).expect_err("not a bdev");
        assert!(format!("{err:#}").contains("not a block device"));
        assert!(require_block_device(Path::new("/nonexistent/pmem")).is_err());
    }
}
