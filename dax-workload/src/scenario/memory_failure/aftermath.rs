//! What is left of a file and its filesystem after a page of it was
//! poisoned: the page read back through read(2), the file's size, the
//! device's bad blocks, unlink, umount and an offline fsck.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::blockdev;
use crate::cmd;
use crate::fs::{FsKind, Mount};
use crate::mapping::PAGE_SIZE;

const FSCK_DEADLINE: Duration = Duration::from_secs(180);

/// The file and filesystem after the failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileFate {
    /// read(2) of the poisoned page: "intact", "changed", or the error.
    pub read_back: String,
    pub read_back_errno: Option<i32>,
    pub size_after: Option<u64>,
    /// Lines in the device's `badblocks` sysfs file (None: unreadable).
    pub badblocks: Option<usize>,
    pub unlink: String,
    pub umount: String,
    /// The offline check after umount: tool, exit code (0 clean), last line.
    pub fsck: Option<String>,
    pub fsck_exit: Option<i32>,
}

/// Read the poisoned page back and compare with what was written to it
/// (`expected`), then stat, unlink, umount and fsck.
pub fn examine(
    fs: FsKind,
    dev: &Path,
    mount: Mount,
    path: &Path,
    page: usize,
    expected: &[u8],
) -> (FileFate, bool) {
    let mut fate = FileFate::default();
    match File::open(path) {
        Ok(file) => {
            let mut buf = vec![0u8; PAGE_SIZE];
            match file.read_exact_at(&mut buf, (page * PAGE_SIZE) as u64) {
                Ok(()) if buf == expected => fate.read_back = "intact".into(),
                Ok(()) => fate.read_back = "changed".into(),
                Err(e) => {
                    fate.read_back_errno = e.raw_os_error();
                    fate.read_back = format!("error: {e}");
                }
            }
            fate.size_after = file.metadata().ok().map(|m| m.len());
        }
        Err(e) => fate.read_back = format!("open failed: {e}"),
    }
    fate.badblocks = badblocks(dev);
    fate.unlink = match std::fs::remove_file(path) {
        Ok(()) => "ok".into(),
        Err(e) => format!("error: {e}"),
    };
    let unmounted = mount.unmount();
    fate.umount = match &unmounted {
        Ok(()) => "ok".into(),
        Err(e) => format!("error: {e:#}"),
    };
    if unmounted.is_ok() {
        let (tool, args): (&str, Vec<String>) = match fs {
            FsKind::Ext4 => ("e2fsck", vec!["-f".into(), "-n".into()]),
            FsKind::Xfs => ("xfs_repair", vec!["-n".into()]),
        };
        let mut args = args;
        args.push(dev.display().to_string());
        match cmd::completed(tool, &args, FSCK_DEADLINE) {
            Ok(out) => {
                fate.fsck_exit = out.status.code();
                // Both tools end with their verdict (e2fsck: the file and
                // block counts; xfs_repair: what it would have done).
                let text = String::from_utf8_lossy(&out.stdout);
                let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
                fate.fsck = Some(format!("{tool} -n: {} ({})", out.status, last.trim()));
            }
            Err(e) => fate.fsck = Some(format!("{tool}: {e:#}")),
        }
    }
    (fate, unmounted.is_ok())
}

/// Bad block ranges the pmem driver knows (one per line of sysfs `badblocks`).
pub fn badblocks(dev: &Path) -> Option<usize> {
    let dir = blockdev::sysfs_dir(dev).ok()?;
    let text = std::fs::read_to_string(dir.join("badblocks")).ok()?;
    Some(text.lines().filter(|l| !l.trim().is_empty()).count())
}
