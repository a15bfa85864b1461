//! `smoke`: ext4 and xfs `-o dax` on pmem and on dm-linear over pmem; each
//! file must report STATX_ATTR_DAX and accept a MAP_SYNC mapping, except on
//! virtio-pmem (and dm over it), which must refuse MAP_SYNC with EOPNOTSUPP:
//! its flushes are requests to the host, so writes reaching the page are
//! not durable without fsync/msync.

use std::path::Path;

use anyhow::Result;

use crate::blockdev;
use crate::dm::{self, DmDevice};
use crate::fs::{self, FsKind, Layout, Mount};
use crate::mapping::{Mapping, PAGE_SIZE, Sharing};
use crate::report::Report;
use crate::scenario::{check_dax, write_file};
use crate::workdir::WorkDir;

const FILE_LEN: usize = 16 * PAGE_SIZE;
const FILESYSTEMS: [FsKind; 2] = [FsKind::Ext4, FsKind::Xfs];

pub fn run(report: &mut Report, dev: &Path, workdir: &Path) -> Result<()> {
    let mut wd = WorkDir::create(workdir)?;
    let mnt = wd.mount_point("mnt")?;
    let synchronous = !blockdev::is_virtio_pmem(dev);
    if !synchronous {
        crate::progress!("{} is virtio-pmem: MAP_SYNC must be refused", dev.display());
    }

    for fs in FILESYSTEMS {
        one(report, fs, dev, "pmem", &mnt, synchronous)?;
    }

    let table = dm::linear_table(blockdev::size_sectors(dev)?, dev);
    let linear = DmDevice::create(&dm::device_name("linear"), &table)?;
    for fs in FILESYSTEMS {
        one(report, fs, linear.node(), "dm-linear", &mnt, synchronous)?;
    }
    let removed = linear.remove();
    report.check(
        "dm-linear: dmsetup remove",
        removed.is_ok(),
        removed.err().map(|e| format!("{e:#}")).unwrap_or_default(),
    );
    Ok(())
}

fn one(
    report: &mut Report,
    fs: FsKind,
    dev: &Path,
    target: &str,
    mnt: &Path,
    synchronous: bool,
) -> Result<()> {
    let label = format!("{}/{target}", fs.name());
    fs::mkfs(fs, dev, Layout::Default)?;
    let mount = match Mount::dax(fs, dev, mnt) {
        Ok(m) => m,
        Err(err) => {
            report.check(format!("{label}: mount -o dax"), false, format!("{err:#}"));
            return Ok(());
        }
    };
    let path = mount.path().join("smoke");
    let file = write_file(&path, FILE_LEN, 0x11)?;
    check_dax(report, &label, &path)?;

    let sync_map = Mapping::new(&file, FILE_LEN, Sharing::Sync);
    let detail = match &sync_map {
        Ok(map) => {
            let pages = map.write_pages(FILE_LEN, 0x22);
            format!("mapped and wrote {pages} pages")
        }
        Err(err) => format!("mmap MAP_SHARED_VALIDATE|MAP_SYNC: {err}"),
    };
    if synchronous {
        report.check(format!("{label}: MAP_SYNC mmap"), sync_map.is_ok(), detail);
    } else {
        let refused =
            sync_map.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EOPNOTSUPP);
        report.check(
            format!("{label}: MAP_SYNC refused (not synchronous)"),
            refused,
            detail,
        );
    }
    drop(sync_map);
    drop(file);

    let unmounted = mount.unmount();
    report.check_ok(format!("{label}: umount"), &unmounted);
    Ok(())
}
