//! `memory-failure`: poison one page of a DAX file with
//! `madvise(MADV_HWPOISON)` (CAP_SYS_ADMIN, CONFIG_MEMORY_FAILURE), on ext4
//! and then on xfs, each on a freshly made filesystem, and report what the
//! kernel did to the process that mapped it and to the file.
//!
//! Per filesystem: mkfs, `mount -o dax=always`, a 64 KiB file, FIEMAP for the
//! device offset of page [`POISON_PAGE`] (the offset a holder's
//! `notify_failure` is told), then a child process (`poison-child`, see
//! `crate::hwpoison`) maps the file, writes to the page, reads its pfn from
//! /proc/self/pagemap, poisons it and touches it again. The kernel log says
//! which pfn it poisoned. Afterwards the page is read back with read(2), the
//! file is stat'ed and unlinked, the filesystem unmounted and checked
//! offline. The process's and file's fate are reported, not judged: they are
//! what each kernel does. Checks: the file is DAX, the page has a pfn, the
//! kernel poisoned exactly that pfn, the filesystem unmounts.
//!
//! The poisoned page keeps its HWPoison flag until the pmem pagemap is
//! recreated, and the kernel may refuse it later: run this scenario last in
//! a boot.

mod aftermath;
mod child;

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::cli::MemoryFailureArgs;
use crate::fiemap;
use crate::fs::{self, FsKind, Layout, Mount};
use crate::kmsg::{self, Kmsg};
use crate::mapping::PAGE_SIZE;
use crate::progress;
use crate::report::Report;
use crate::scenario::{check_dax, write_file};
use crate::workdir::WorkDir;

pub use aftermath::FileFate;
pub use child::ChildReport;

const FILE_LEN: usize = 16 * PAGE_SIZE;
const FILL: u8 = 0x5a;
/// The byte the child writes at the start of the page before poisoning it.
const CHILD_MARK: u8 = 0xa5;
/// The page of the file that is poisoned (not the first: an off-by-one in
/// the offset or pfn arithmetic shows).
pub const POISON_PAGE: usize = 3;
/// Kernel log lines kept per filesystem.
const MAX_MESSAGES: usize = 40;

/// One filesystem's memory failure, as the scenario saw it.
#[derive(Debug, Clone, Serialize)]
pub struct PoisonRecord {
    pub fs: FsKind,
    /// xfs made with the reverse-mapping btree (xfs can then act on the failure).
    pub rmapbt: bool,
    pub page_index: usize,
    /// Byte offset of the page on the device (FIEMAP): what the pmem driver
    /// passes to `dax_holder_notify_failure` as the offset.
    pub device_offset: Option<u64>,
    /// The pfn the kernel logged it poisoned ("Injecting memory failure for pfn").
    pub kernel_pfn: Option<u64>,
    #[serde(flatten)]
    pub child: ChildReport,
    #[serde(flatten)]
    pub file: FileFate,
    /// Kernel log lines from the poisoning to the fsck (memory-failure.c,
    /// the filesystem, the umount).
    pub kernel_messages: Vec<String>,
}

pub fn run(
    report: &mut Report,
    dev: &Path,
    workdir: &Path,
    args: &MemoryFailureArgs,
) -> Result<()> {
    let mut wd = WorkDir::create(workdir)?;
    let mnt = wd.mount_point("mnt")?;
    for fs in args.fs.kinds() {
        let layout = if fs == FsKind::Xfs && args.xfs_rmapbt {
            Layout::Rmap
        } else {
            Layout::Default
        };
        fs::mkfs(fs, dev, layout)?;
        let mount = Mount::dax(fs, dev, &mnt)?;
        let record = poison_on(report, fs, layout == Layout::Rmap, dev, mount)?;
        progress!(
            "{}: pfn {} poisoned (kernel says {}); mapped after: {:?}; process {}; touch after: {}; read back: {}; fsck: {}",
            fs.name(),
            hex(record.child.pfn),
            hex(record.kernel_pfn),
            record.child.mapped_after_poison,
            record.child.fate,
            touch_outcome(&record.child),
            record.file.read_back,
            record.file.fsck.as_deref().unwrap_or("-")
        );
        report.memory_failures.push(record);
    }
    Ok(())
}

fn poison_on(
    report: &mut Report,
    fs: FsKind,
    rmapbt: bool,
    dev: &Path,
    mount: Mount,
) -> Result<PoisonRecord> {
    let label = fs.name();
    let path = mount.path().join("poisoned");
    let file = write_file(&path, FILE_LEN, FILL)?;
    check_dax(report, label, &path)?;
    let device_offset = match fiemap::extents(&file) {
        Ok(extents) => device_offset(&extents, (POISON_PAGE * PAGE_SIZE) as u64),
        Err(err) => {
            progress!("{label}: FIEMAP: {err}");
            None
        }
    };
    drop(file);

    let mut log = Kmsg::open_at_end().ok();
    let child = match child::run(&path, FILE_LEN, POISON_PAGE) {
        Ok(c) => c,
        Err(err) => ChildReport {
            fate: format!("did not finish: {err:#}"),
            ..ChildReport::default()
        },
    };
    let mut kernel_messages: Vec<String> = log.as_mut().map(Kmsg::new_messages).unwrap_or_default();
    let kernel_pfn = kmsg::injected_pfn(&kernel_messages);

    let pfn = child.pfn.filter(|&p| p != 0);
    report.check(
        format!("{label}: poisoned page has a pfn (pagemap)"),
        pfn.is_some(),
        format!(
            "page {POISON_PAGE} at {} -> pfn {}; device offset {}",
            hex(child.vaddr),
            hex(child.pfn),
            hex(device_offset)
        ),
    );
    report.check(
        format!("{label}: kernel poisoned that pfn"),
        pfn.is_some() && kernel_pfn == pfn,
        format!(
            "madvise rc {:?} errno {:?}; kernel log: pfn {}{}",
            child.madvise_rc,
            child.madvise_errno,
            hex(kernel_pfn),
            if log.is_none() {
                " (/dev/kmsg unreadable)"
            } else {
                ""
            }
        ),
    );

    let mut expected = vec![FILL; PAGE_SIZE];
    if child.vaddr.is_some() {
        expected[0] = CHILD_MARK;
    }
    let (file_fate, unmounted) = aftermath::examine(fs, dev, mount, &path, POISON_PAGE, &expected);
    if let Some(log) = log.as_mut() {
        kernel_messages.extend(log.new_messages());
    }
    kernel_messages.truncate(MAX_MESSAGES);
    for m in &kernel_messages {
        progress!("{label}: kernel: {m}");
    }
    report.check(
        format!("{label}: umount after the failure"),
        unmounted,
        file_fate.umount.clone(),
    );
    Ok(PoisonRecord {
        fs,
        rmapbt,
        page_index: POISON_PAGE,
        device_offset,
        kernel_pfn,
        child,
        file: file_fate,
        kernel_messages,
    })
}

/// Device byte offset of file offset `at`, from the file's extents.
pub fn device_offset(extents: &[fiemap::Extent], at: u64) -> Option<u64> {
    extents
        .iter()
        .find(|e| e.logical <= at && at < e.logical + e.length)
        .map(|e| e.physical + (at - e.logical))
}

fn touch_outcome(c: &ChildReport) -> String {
    match (&c.touch_sigbus, c.touch_value) {
        (Some(s), _) => format!("SIGBUS {}", s.code),
        (None, Some(v)) => format!("read {v:#04x} from pfn {}", hex(c.pfn_after_touch)),
        (None, None) => "not reached".to_owned(),
    }
}

fn hex(v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_owned(), |v| format!("{v:#x}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fiemap::Extent;

    #[test]
    fn device_offset_follows_the_extent() {
        let extents = [
            Extent {
                logical: 0,
                physical: 0x10_0000,
                length: 0x2000,
            },
            Extent {
                logical: 0x2000,
                physical: 0x80_0000,
                length: 0xe000,
            },
        ];
        assert_eq!(device_offset(&extents, 0x1000), Some(0x10_1000));
        assert_eq!(device_offset(&extents, 0x3000), Some(0x80_1000));
        assert_eq!(device_offset(&extents, 0x10_0000), None);
    }
}
