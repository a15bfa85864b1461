//! `faults`: PTE faults on a DAX mapping, and PMD faults tried on a 2 MiB
//! aligned mapping of a file on a filesystem made for 2 MiB allocation.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::FaultsArgs;
use crate::fiemap;
use crate::fs::{self, FsKind, Layout, Mount};
use crate::mapping::{Mapping, PAGE_SIZE, PMD_SIZE, Sharing};
use crate::progress;
use crate::report::Report;
use crate::scenario::{check_dax, write_file};
use crate::watchdog::{self, Stage};
use crate::workdir::WorkDir;
use std::time::Duration;

const PTE_FILE_LEN: usize = 1 << 20;
const PMD_FILE_LEN: usize = 4 * PMD_SIZE;
const TOUCH_DEADLINE: Duration = Duration::from_secs(60);

/// Faults attempted on one filesystem (the kernel decides which succeed as
/// PMD mappings and which fall back; daxtrace sees the outcome).
#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    pub fs: FsKind,
    /// One read per 4 KiB page of the PTE file (read faults).
    pub pte_read_touches: usize,
    /// Then one write per page (write faults on read-only PTEs).
    pub pte_write_touches: usize,
    /// One write per 2 MiB of the aligned mapping (PMD fault attempts).
    pub pmd_touches: usize,
    /// Virtual address of the PMD mapping is 2 MiB aligned.
    pub pmd_mapping_aligned: bool,
    /// 2 MiB ranges of the PMD file that lie in one extent aligned to 2 MiB
    /// on the device (what a PMD fault can map); None without FIEMAP.
    pub pmd_ranges_aligned: Option<usize>,
}

pub fn run(report: &mut Report, dev: &Path, workdir: &Path, args: &FaultsArgs) -> Result<()> {
    let mut wd = WorkDir::create(workdir)?;
    let mnt = wd.mount_point("mnt")?;
    for fs in args.fs.kinds() {
        fs::mkfs(fs, dev, Layout::Pmd)?;
        let mount = Mount::dax(fs, dev, &mnt)?;
        let record = faults_on(report, fs, &mount, args.passes)?;
        let pte_touches = PTE_FILE_LEN / PAGE_SIZE * args.passes as usize;
        report.check(
            format!("{}: faults attempted", fs.name()),
            record.pte_read_touches == pte_touches
                && record.pte_write_touches == pte_touches
                && record.pmd_touches == PMD_FILE_LEN / PMD_SIZE
                && record.pmd_mapping_aligned,
            format!(
                "{} PTE read, {} PTE write, {} PMD touches",
                record.pte_read_touches, record.pte_write_touches, record.pmd_touches
            ),
        );
        let ranges = PMD_FILE_LEN / PMD_SIZE;
        report.check(
            format!("{}: PMD file 2 MiB aligned on the device", fs.name()),
            record.pmd_ranges_aligned == Some(ranges),
            match record.pmd_ranges_aligned {
                Some(n) => format!("{n} of {ranges} 2 MiB ranges can be mapped by a PMD"),
                None => "FIEMAP failed: alignment unknown".to_owned(),
            },
        );
        report.faults.push(record);
        let unmounted = mount.unmount();
        report.check_ok(format!("{}: umount", fs.name()), &unmounted);
    }
    Ok(())
}

fn faults_on(report: &mut Report, fs: FsKind, mount: &Mount, passes: u32) -> Result<FaultRecord> {
    let label = fs.name();
    let mut record = FaultRecord {
        fs,
        pte_read_touches: 0,
        pte_write_touches: 0,
        pmd_touches: 0,
        pmd_mapping_aligned: false,
        pmd_ranges_aligned: None,
    };
    let deadline = TOUCH_DEADLINE * passes;
    let _guard = watchdog::watch(Stage::Check, format!("{label}: DAX faults"), deadline);

    let pte_path = mount.path().join("pte");
    let pte_file = write_file(&pte_path, PTE_FILE_LEN, 0x01)?;
    if check_dax(report, &format!("{label} pte file"), &pte_path)? {
        for pass in 0..passes {
            // A fresh mapping per pass: its pages fault again. The first
            // pass reads the fill byte, later ones what the pass before wrote.
            let expect = if pass == 0 { 0x01 } else { 0x02 };
            let map = Mapping::new(&pte_file, PTE_FILE_LEN, Sharing::Shared)
                .with_context(|| format!("mmap {}", pte_path.display()))?;
            for offset in (0..PTE_FILE_LEN).step_by(PAGE_SIZE) {
                if map.read_byte(offset) == expect {
                    record.pte_read_touches += 1;
                }
            }
            record.pte_write_touches += map.write_pages(PTE_FILE_LEN, 0x02);
        }
        progress!(
            "{label}: {} read + {} write touches on 4 KiB pages",
            record.pte_read_touches,
            record.pte_write_touches
        );
    }

    let pmd_path = mount.path().join("pmd");
    let pmd_file = preallocated_file(&pmd_path, PMD_FILE_LEN, 0x03)?;
    match fiemap::extents(&pmd_file) {
        Ok(extents) => {
            let aligned = fiemap::aligned_ranges(&extents, PMD_FILE_LEN as u64, PMD_SIZE as u64);
            progress!(
                "{label}: pmd file in {} extents, {aligned} of {} 2 MiB ranges PMD-mappable",
                extents.len(),
                PMD_FILE_LEN / PMD_SIZE
            );
            record.pmd_ranges_aligned = Some(aligned);
        }
        Err(err) => progress!("{label}: FIEMAP: {err}"),
    }
    if check_dax(report, &format!("{label} pmd file"), &pmd_path)? {
        let map = Mapping::aligned(&pmd_file, PMD_FILE_LEN, PMD_SIZE)
            .with_context(|| format!("aligned mmap {}", pmd_path.display()))?;
        record.pmd_mapping_aligned = map.addr() % PMD_SIZE == 0;
        for offset in (0..PMD_FILE_LEN).step_by(PMD_SIZE) {
            map.write_byte(offset, 0x04);
            record.pmd_touches += 1;
        }
        progress!(
            "{label}: {} touches on 2 MiB boundaries of a mapping at {:#x}",
            record.pmd_touches,
            map.addr()
        );
    }
    Ok(record)
}

/// A file allocated in one request (so the allocator can honour the 2 MiB
/// stripe alignment), then written, so that its extents are real data.
fn preallocated_file(path: &Path, len: usize, fill: u8) -> Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    let size = libc::off_t::try_from(len).context("file length")?;
    // SAFETY: fallocate on a descriptor we own.
    if unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, size) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("fallocate {}", path.display()));
    }
    file.write_all(&vec![fill; len])
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("fsync {}", path.display()))?;
    Ok(file)
}
