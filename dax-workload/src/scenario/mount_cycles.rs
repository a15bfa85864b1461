//! `mount-cycles` and `dm-mount-cycles`: repeated `-o dax` mounts, each one
//! claiming the dax_device and each umount releasing it.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::blockdev;
use crate::cli::CyclesArgs;
use crate::dm::{self, DmDevice};
use crate::fs::{self, FsKind, Layout, Mount};
use crate::progress;
use crate::report::{Report, millis};
use crate::scenario::{check_dax, write_file};
use crate::workdir::WorkDir;

/// One filesystem's cycles on one device.
#[derive(Debug, Clone, Serialize)]
pub struct CycleRecord {
    pub fs: FsKind,
    /// "pmem" or "dm-linear".
    pub target: &'static str,
    pub cycles_requested: u32,
    pub cycles_done: u32,
    /// Mount to umount, per cycle.
    pub cycle_ms: Vec<u64>,
}

pub fn run_pmem(report: &mut Report, dev: &Path, workdir: &Path, args: &CyclesArgs) -> Result<()> {
    let mut wd = WorkDir::create(workdir)?;
    let mnt = wd.mount_point("mnt")?;
    for fs in args.fs.kinds() {
        cycles(report, fs, dev, "pmem", &mnt, args.cycles)?;
    }
    Ok(())
}

pub fn run_dm(report: &mut Report, dev: &Path, workdir: &Path, args: &CyclesArgs) -> Result<()> {
    let mut wd = WorkDir::create(workdir)?;
    let mnt = wd.mount_point("mnt")?;
    let table = dm::linear_table(blockdev::size_sectors(dev)?, dev);
    let linear = DmDevice::create(&dm::device_name("linear"), &table)?;
    for fs in args.fs.kinds() {
        cycles(report, fs, linear.node(), "dm-linear", &mnt, args.cycles)?;
    }
    let name = linear.name().to_owned();
    let removed = linear.remove();
    report.check(
        format!("dm-linear: dmsetup remove {name}"),
        removed.is_ok(),
        removed.err().map(|e| format!("{e:#}")).unwrap_or_default(),
    );
    Ok(())
}

/// mkfs once, then `n` times: mount -o dax, write a file, check it is DAX, umount.
/// A mount or umount that fails is a failed check (the cycle stops there).
fn cycles(
    report: &mut Report,
    fs: FsKind,
    dev: &Path,
    target: &'static str,
    mnt: &Path,
    n: u32,
) -> Result<()> {
    fs::mkfs(fs, dev, Layout::Default)?;
    let label = format!("{}/{target}", fs.name());
    let mut record = CycleRecord {
        fs,
        target,
        cycles_requested: n,
        cycles_done: 0,
        cycle_ms: Vec::new(),
    };
    for cycle in 1..=n {
        let started = Instant::now();
        let mount = match Mount::dax(fs, dev, mnt) {
            Ok(m) => m,
            Err(err) => {
                report.check(
                    format!("{label}: mount {cycle}/{n}"),
                    false,
                    format!("{err:#}"),
                );
                break;
            }
        };
        let file = mount.path().join(format!("cycle-{cycle}"));
        drop(write_file(&file, 64 << 10, cycle.to_le_bytes()[0])?);
        let dax = check_dax(report, &format!("{label} cycle {cycle}/{n}"), &file)?;
        let unmounted = mount.unmount();
        if let Err(err) = &unmounted {
            report.check(
                format!("{label}: umount {cycle}/{n}"),
                false,
                format!("{err:#}"),
            );
        }
        record.cycle_ms.push(millis(started.elapsed()));
        if !dax || unmounted.is_err() {
            break;
        }
        record.cycles_done = cycle;
        progress!("{label}: cycle {cycle}/{n} done");
    }
    report.check(
        format!("{label}: {n} mount cycles"),
        record.cycles_done == n,
        format!("{} of {n} completed", record.cycles_done),
    );
    report.cycles.push(record);
    Ok(())
}
