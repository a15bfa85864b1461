//! A per-run directory on tmpfs for mount points and backing files. Cleanup
//! only removes what this run created, and never recursively (a directory
//! that is still a mount point must not have its contents deleted).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::progress;

#[derive(Debug)]
pub struct WorkDir {
    root: PathBuf,
    dirs: Vec<PathBuf>,
}

impl WorkDir {
    /// Create `<base>/dax-workload.<pid>`.
    pub fn create(base: &Path) -> Result<WorkDir> {
        let root = base.join(format!("dax-workload.{}", std::process::id()));
        fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        Ok(WorkDir {
            root,
            dirs: Vec::new(),
        })
    }

    /// An (empty) directory to mount on.
    pub fn mount_point(&mut self, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(name);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.dirs.push(dir.clone());
        Ok(dir)
    }

    /// Path for a file that its owner removes.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev().chain(std::iter::once(&self.root)) {
            if let Err(err) = fs::remove_dir(dir) {
                progress!("cleanup: removing {}: {err}", dir.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_come_and_go() {
        let base = std::env::temp_dir();
        let root;
        {
            let mut wd = WorkDir::create(&base).expect("workdir");
            let mnt = wd.mount_point("mnt").expect("mount point");
            assert!(mnt.is_dir());
            root = mnt.parent().expect("parent").to_owned();
            assert_eq!(wd.file("x"), root.join("x"));
        }
        assert!(!root.exists(), "{} left behind", root.display());
    }

    #[test]
    fn contents_are_never_deleted_recursively() {
        let base = std::env::temp_dir().join(format!("dax-wl-keep-{}", std::process::id()));
        let kept;
        {
            let mut wd = WorkDir::create(&base).expect("workdir");
            let mnt = wd.mount_point("mnt").expect("mount point");
            kept = mnt.join("data");
            fs::write(&kept, b"on the filesystem").expect("write");
        }
        assert!(
            kept.exists(),
            "a non-empty mount point must survive cleanup"
        );
        fs::remove_dir_all(&base).expect("test cleanup");
    }
}
