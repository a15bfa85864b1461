//! Host binaries copied into the guest image together with their shared
//! libraries (as `ldd` resolves them on the host).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

/// Tools every guest needs (mkfs, device-mapper, loop devices, modprobe, a real shell).
pub const REQUIRED: &[&str] = &[
    "bash",
    "mkfs.ext4",
    "mke2fs",
    "mkfs.xfs",
    "dmsetup",
    "losetup",
    "kmod",
    "modprobe",
    "insmod",
    "rmmod",
    "lsmod",
    "modinfo",
    "depmod",
];

/// Tools copied when the host has them.
pub const OPTIONAL: &[&str] = &[
    "ndctl",
    "xfs_io",
    "blockdev",
    "e2fsck",
    "fsck.ext4",
    "xfs_repair",
    "strace",
    // Starts serve under the systemd unit's capability bounding set.
    "setpriv",
];

const SEARCH_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// The host path of `name`, looked up in the system directories.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    SEARCH_DIRS
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// Library paths from `ldd` output (the vDSO and unresolved entries dropped).
pub fn parse_ldd(output: &str) -> Vec<PathBuf> {
    output
        .lines()
        .filter_map(|line| {
            let target = match line.split_once("=>") {
                Some((_, rhs)) => rhs.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            target.starts_with('/').then(|| PathBuf::from(target))
        })
        .collect()
}

/// Copies host files into a staging root, each at most once.
pub struct Installer<'a> {
    staging: &'a Path,
    done: BTreeSet<PathBuf>,
    /// Every host file installed, for the image's cache key.
    pub sources: Vec<PathBuf>,
}

impl<'a> Installer<'a> {
    pub fn new(staging: &'a Path) -> Self {
        Self {
            staging,
            done: BTreeSet::new(),
            sources: Vec::new(),
        }
    }

    fn dest(&self, host_path: &Path) -> PathBuf {
        self.staging
            .join(host_path.strip_prefix("/").unwrap_or(host_path))
    }

    /// Copy `host_path` (following symlinks) to the same path in the image.
    pub fn copy_file(&mut self, host_path: &Path) -> anyhow::Result<()> {
        if !self.done.insert(host_path.to_owned()) {
            return Ok(());
        }
        let dst = self.dest(host_path);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if dst.symlink_metadata().is_ok() {
            std::fs::remove_file(&dst)?;
        }
        std::fs::copy(host_path, &dst)
            .with_context(|| format!("copying {} into the image", host_path.display()))?;
        self.sources.push(host_path.to_owned());
        Ok(())
    }

    /// Install the tool at `host_path` with its libraries. A symlinked tool
    /// (mkfs.ext4 -> mke2fs) stays a symlink so argv[0] keeps its meaning.
    pub fn install_tool(&mut self, host_path: &Path) -> anyhow::Result<()> {
        let real = host_path
            .canonicalize()
            .with_context(|| format!("resolving {}", host_path.display()))?;
        self.copy_file(&real)?;
        if real != host_path {
            let link = self.dest(host_path);
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if link.symlink_metadata().is_ok() {
                std::fs::remove_file(&link)?;
            }
            std::os::unix::fs::symlink(relative_target(host_path, &real), &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
        for lib in shared_libraries(&real)? {
            self.copy_file(&lib)?;
        }
        Ok(())
    }
}

/// The relative symlink target that makes absolute `link` point at absolute
/// `target` both in the staging tree and in the guest.
pub fn relative_target(link: &Path, target: &Path) -> PathBuf {
    let depth = link
        .parent()
        .map_or(0, |p| p.components().count().saturating_sub(1));
    let mut rel = PathBuf::new();
    for _ in 0..depth {
        rel.push("..");
    }
    rel.join(target.strip_prefix("/").unwrap_or(target))
}

fn shared_libraries(binary: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .context("running ldd")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // Static binaries make ldd fail with "not a dynamic executable".
        if String::from_utf8_lossy(&out.stderr).contains("not a dynamic")
            || text.contains("not a dynamic")
        {
            return Ok(Vec::new());
        }
        bail!("ldd {} failed ({})", binary.display(), out.status);
    }
    if text.contains("not found") {
        bail!(
            "ldd {}: a library is missing on the host:\n{text}",
            binary.display()
        );
    }
    Ok(parse_ldd(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_libraries_and_interpreter() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibblkid.so.1 => /lib/x86_64-linux-gnu/libblkid.so.1 (0x00007f6f)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f6f)\n";
        assert_eq!(
            parse_ldd(out),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libblkid.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }

    #[test]
    fn symlinks_are_relative_to_the_image_root() {
        assert_eq!(
            relative_target(
                Path::new("/usr/sbin/mkfs.ext4"),
                Path::new("/usr/sbin/mke2fs")
            ),
            PathBuf::from("../../usr/sbin/mke2fs")
        );
        assert_eq!(
            relative_target(Path::new("/sbin/modprobe"), Path::new("/usr/bin/kmod")),
            PathBuf::from("../usr/bin/kmod")
        );
    }

    #[test]
    fn installing_a_symlinked_tool_keeps_the_link_and_copies_libraries() {
        let t = tempfile::tempdir().unwrap();
        let Some(tool) = find_tool("mkfs.ext4") else {
            eprintln!("skipped: mkfs.ext4 is not installed on this host");
            return;
        };
        let mut inst = Installer::new(t.path());
        inst.install_tool(&tool).unwrap();
        let staged = t.path().join(tool.strip_prefix("/").unwrap());
        assert!(staged.symlink_metadata().unwrap().file_type().is_symlink());
        assert!(staged.exists(), "the link target was copied too");
        assert!(t.path().join("lib64/ld-linux-x86-64.so.2").exists());
    }
}
