//! The evicting thread's work: drop the mapping and the descriptor, then
//! unlink the file or unmount its filesystem. Every reference to the file is
//! dropped in this thread (the final fput of a munmap or close runs as task
//! work of the thread that made it, when its syscall returns), so the inode's
//! eviction runs here: in unlink's last iput, or in umount's evict_inodes.

use std::fs::File;
use std::io;
use std::os::fd::IntoRawFd;
use std::path::PathBuf;

use crate::fs::Mount;
use crate::mapping::Mapping;

/// How the file is given up once unmapped and closed.
pub enum GiveUp {
    /// unlink(2) the file: the last iput evicts it.
    Unlink(PathBuf),
    /// umount(2) its filesystem: evict_inodes evicts it.
    Umount(Mount),
}

/// What the evictor owns: the file's last references and the way to give it up.
pub struct Eviction {
    pub map: Mapping,
    pub file: File,
    pub give_up: GiveUp,
}

impl Eviction {
    /// munmap, close, then unlink or umount; the error names the step.
    pub fn run(self) -> io::Result<()> {
        self.map.unmap().map_err(|e| step("munmap", e))?;
        let fd = self.file.into_raw_fd();
        // SAFETY: fd came out of the File, which gave up ownership of it.
        if unsafe { libc::close(fd) } != 0 {
            return Err(step("close", io::Error::last_os_error()));
        }
        match self.give_up {
            GiveUp::Unlink(path) => std::fs::remove_file(&path).map_err(|e| step("unlink", e)),
            GiveUp::Umount(mount) => mount.unmount_unwatched().map_err(|e| step("umount", e)),
        }
    }
}

fn step(what: &str, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{PAGE_SIZE, Sharing};
    use crate::scenario::write_file;

    #[test]
    fn unlink_runs_after_unmap_and_close() {
        let path = std::env::temp_dir().join(format!("dax-wl-evict-{}", std::process::id()));
        let file = write_file(&path, PAGE_SIZE, 3).expect("file");
        let map = Mapping::new(&file, PAGE_SIZE, Sharing::Shared).expect("mmap");
        let eviction = Eviction {
            map,
            file,
            give_up: GiveUp::Unlink(path.clone()),
        };
        eviction.run().expect("evicted");
        assert!(!path.exists());
    }

    #[test]
    fn a_failing_step_is_named() {
        let path = std::env::temp_dir().join(format!("dax-wl-evict-gone-{}", std::process::id()));
        let file = write_file(&path, PAGE_SIZE, 3).expect("file");
        let map = Mapping::new(&file, PAGE_SIZE, Sharing::Shared).expect("mmap");
        std::fs::remove_file(&path).expect("removed beforehand");
        let err = Eviction {
            map,
            file,
            give_up: GiveUp::Unlink(path),
        }
        .run()
        .expect_err("nothing to unlink");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().starts_with("unlink: "), "{err}");
    }
}
