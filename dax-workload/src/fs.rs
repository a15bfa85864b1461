//! Filesystems: mkfs command lines and `-o dax` mounts that unmount on drop.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cmd;
use crate::progress;
use crate::watchdog::{self, Stage};

/// mkfs on 512 MiB of pmem takes well under a second natively; TCG is slow.
const MKFS_DEADLINE: Duration = Duration::from_secs(180);
const MOUNT_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsKind {
    Ext4,
    Xfs,
}

/// What the filesystem is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Plain DAX-capable filesystem.
    Default,
    /// Allocation aligned to 2 MiB so that PMD faults can map whole extents.
    Pmd,
    /// xfs with the reverse-mapping btree, which xfs needs to act on a memory
    /// failure itself (its `notify_failure` finds the owner of the failed
    /// block); ext4 as [`Layout::Default`].
    Rmap,
}

impl FsKind {
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ext4 => "ext4",
            FsKind::Xfs => "xfs",
        }
    }

    /// The mkfs program and its arguments for `dev`.
    ///
    /// ext4 gets 4 KiB blocks explicitly: on small devices mke2fs may pick 1 KiB
    /// blocks, and DAX needs the block size to equal the page size. xfs is made
    /// without reflink, which DAX refuses on older kernels (5.10).
    pub fn mkfs_command(self, dev: &Path, layout: Layout) -> (&'static str, Vec<OsString>) {
        let mut args: Vec<OsString> = match (self, layout) {
            (FsKind::Ext4, Layout::Default | Layout::Rmap) => {
                vec!["-F".into(), "-q".into(), "-b".into(), "4096".into()]
            }
            // stride and stripe width in 4 KiB blocks: 512 blocks = 2 MiB.
            (FsKind::Ext4, Layout::Pmd) => vec![
                "-F".into(),
                "-q".into(),
                "-b".into(),
                "4096".into(),
                "-E".into(),
                "stride=512,stripe_width=512".into(),
            ],
            (FsKind::Xfs, Layout::Default) => {
                vec!["-f".into(), "-q".into(), "-m".into(), "reflink=0".into()]
            }
            (FsKind::Xfs, Layout::Rmap) => vec![
                "-f".into(),
                "-q".into(),
                "-m".into(),
                "reflink=0,rmapbt=1".into(),
            ],
            // A 2 MiB stripe unit makes mkfs.xfs (6.x) ask for a 64 MiB log,
            // which only fits in an allocation group when there are two.
            (FsKind::Xfs, Layout::Pmd) => vec![
                "-f".into(),
                "-q".into(),
                "-m".into(),
                "reflink=0".into(),
                "-d".into(),
                "su=2m,sw=1,agcount=2".into(),
                "-l".into(),
                "size=64m,su=32k".into(),
            ],
        };
        args.push(dev.as_os_str().to_owned());
        let program = match self {
            FsKind::Ext4 => "mkfs.ext4",
            FsKind::Xfs => "mkfs.xfs",
        };
        (program, args)
    }
}

/// Make a fresh filesystem of `kind` on `dev`.
pub fn mkfs(kind: FsKind, dev: &Path, layout: Layout) -> Result<()> {
    let (program, args) = kind.mkfs_command(dev, layout);
    progress!("mkfs {} on {}", kind.name(), dev.display());
    cmd::run(program, &args, MKFS_DEADLINE)
}

/// The mount options that ask for DAX on every file.
pub const DAX_OPTIONS: &str = "dax=always";

/// A mounted filesystem; unmounted on drop when not unmounted explicitly.
#[derive(Debug)]
pub struct Mount {
    target: PathBuf,
    mounted: bool,
}

impl Mount {
    /// mount(2) `dev` on `target` with `-o dax=always`.
    pub fn dax(kind: FsKind, dev: &Path, target: &Path) -> Result<Mount> {
        let c_dev = path_cstring(dev)?;
        let c_target = path_cstring(target)?;
        let c_type = CString::new(kind.name()).context("fs type")?;
        let c_opts = CString::new(DAX_OPTIONS).context("mount options")?;
        let _guard = watchdog::watch(
            Stage::Setup,
            format!(
                "mount -t {} -o {DAX_OPTIONS} {}",
                kind.name(),
                dev.display()
            ),
            MOUNT_DEADLINE,
        );
        // SAFETY: all pointers are valid NUL-terminated strings for the duration of the call.
        let rc = unsafe {
            libc::mount(
                c_dev.as_ptr(),
                c_target.as_ptr(),
                c_type.as_ptr(),
                0,
                c_opts.as_ptr().cast(),
            )
        };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            bail!(
                "mount -t {} -o {DAX_OPTIONS} {} {}: {err} (see dmesg)",
                kind.name(),
                dev.display(),
                target.display()
            );
        }
        Ok(Mount {
            target: target.to_owned(),
            mounted: true,
        })
    }

    pub fn path(&self) -> &Path {
        &self.target
    }

    /// umount(2) with no watchdog of its own, for a caller that watches the
    /// step itself (a umount expected to wait for busy pages). On failure
    /// the drop tries once more.
    pub fn unmount_unwatched(mut self) -> std::io::Result<()> {
        let c_target = path_cstring(&self.target)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e:#}")))?;
        // SAFETY: c_target is a valid NUL-terminated path.
        if unsafe { libc::umount2(c_target.as_ptr(), 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        self.mounted = false;
        Ok(())
    }

    /// umount(2), reporting failure (the drop path only logs).
    pub fn unmount(mut self) -> Result<()> {
        self.mounted = false;
        umount(&self.target)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.mounted
            && let Err(err) = umount(&self.target)
        {
            progress!("cleanup: {err:#}");
        }
    }
}

fn umount(target: &Path) -> Result<()> {
    let c_target = path_cstring(target)?;
    let _guard = watchdog::watch(
        Stage::Setup,
        format!("umount {}", target.display()),
        MOUNT_DEADLINE,
    );
    // SAFETY: c_target is a valid NUL-terminated path.
    let rc = unsafe { libc::umount2(c_target.as_ptr(), 0) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!("umount {}: {err}", target.display());
    }
    Ok(())
}

pub fn path_cstring(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .with_context(|| format!("path {} contains NUL", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[OsString]) -> Vec<&str> {
        args.iter().map(|a| a.to_str().expect("utf-8")).collect()
    }

    #[test]
    fn ext4_always_gets_page_sized_blocks() {
        for layout in [Layout::Default, Layout::Pmd] {
            let (program, args) = FsKind::Ext4.mkfs_command(Path::new("/dev/pmem0"), layout);
            assert_eq!(program, "mkfs.ext4");
            let args = strings(&args);
            let b = args.iter().position(|a| *a == "-b").expect("-b given");
            assert_eq!(args[b + 1], "4096");
            assert_eq!(args.last(), Some(&"/dev/pmem0"));
        }
    }

    #[test]
    fn xfs_has_no_reflink_and_pmd_layout_is_2m_striped() {
        let (program, args) = FsKind::Xfs.mkfs_command(Path::new("/dev/dm-0"), Layout::Pmd);
        assert_eq!(program, "mkfs.xfs");
        let args = strings(&args);
        assert!(args.contains(&"reflink=0"));
        assert!(args.contains(&"su=2m,sw=1,agcount=2"));
        assert_eq!(args.last(), Some(&"/dev/dm-0"));

        let (_, args) = FsKind::Xfs.mkfs_command(Path::new("/dev/pmem0"), Layout::Default);
        assert!(!strings(&args).iter().any(|a| a.starts_with("su=")));
    }

    #[test]
    fn rmap_layout_adds_the_rmap_btree_to_xfs_only() {
        let (_, args) = FsKind::Xfs.mkfs_command(Path::new("/dev/pmem0"), Layout::Rmap);
        assert!(strings(&args).contains(&"reflink=0,rmapbt=1"));
        let (_, ext4) = FsKind::Ext4.mkfs_command(Path::new("/dev/pmem0"), Layout::Rmap);
        let (_, plain) = FsKind::Ext4.mkfs_command(Path::new("/dev/pmem0"), Layout::Default);
        assert_eq!(ext4, plain);
    }
}
