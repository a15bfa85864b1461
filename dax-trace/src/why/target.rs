//! What `daxtrace why` is asked about: a thread, a process (all its
//! threads), or a path (a file: its waiters; a mount point: every waiter on
//! its filesystem).
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::event::Dev;

/// A target the user named, resolved against /proc and the filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// These threads (one for a TID, all of a process for a PID).
    Threads { pid: u32, tids: Vec<u32> },
    /// Waiters on this file.
    File { path: PathBuf, dev: Dev, ino: u64 },
    /// Waiters on any file of this filesystem.
    Mount { path: PathBuf, dev: Dev },
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("no process or thread {0} (looked in {1})")]
    NoSuchTask(u32, PathBuf),
    #[error("{0}: {1}")]
    Path(PathBuf, std::io::Error),
    #[error("{0:?} is neither a PID, a TID nor an existing path")]
    Unrecognised(String),
}

impl Target {
    /// `arg` as a PID or TID (digits) or a path; `proc_root` is /proc.
    pub fn resolve(arg: &str, proc_root: &Path) -> Result<Target, TargetError> {
        if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit()) {
            let id: u32 = arg
                .parse()
                .map_err(|_| TargetError::Unrecognised(arg.to_string()))?;
            return threads_of(id, proc_root);
        }
        let path = PathBuf::from(arg);
        if !path.is_absolute() && !arg.starts_with('.') && !path.exists() {
            return Err(TargetError::Unrecognised(arg.to_string()));
        }
        let meta = std::fs::metadata(&path).map_err(|e| TargetError::Path(path.clone(), e))?;
        let dev = Dev::new(libc::major(meta.dev()), libc::minor(meta.dev()));
        if meta.is_dir() && is_mount_point(&path, meta.dev()) {
            return Ok(Target::Mount { path, dev });
        }
        Ok(Target::File {
            path,
            dev,
            ino: meta.ino(),
        })
    }

    /// Whether a waiter (thread `tid` waiting on inode `ino` of `dev`)
    /// is one this target asks about.
    pub fn covers(&self, tid: u32, dev: Dev, ino: u64) -> bool {
        match self {
            Target::Threads { tids, .. } => tids.contains(&tid),
            Target::File { dev: d, ino: i, .. } => *d == dev && *i == ino,
            Target::Mount { dev: d, .. } => *d == dev,
        }
    }
}

/// A TID is itself; a PID (a thread group leader) is all its threads.
fn threads_of(id: u32, proc_root: &Path) -> Result<Target, TargetError> {
    let status = std::fs::read_to_string(proc_root.join(id.to_string()).join("status"))
        .map_err(|_| TargetError::NoSuchTask(id, proc_root.to_path_buf()))?;
    let tgid = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(id);
    if tgid != id {
        return Ok(Target::Threads {
            pid: tgid,
            tids: vec![id],
        });
    }
    let mut tids: Vec<u32> = std::fs::read_dir(proc_root.join(id.to_string()).join("task"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if tids.is_empty() {
        tids.push(id);
    }
    tids.sort_unstable();
    Ok(Target::Threads { pid: id, tids })
}

/// A directory on another device than its parent, or the root.
fn is_mount_point(path: &Path, dev: u64) -> bool {
    let parent = path.join("..");
    match std::fs::metadata(&parent) {
        Ok(p) => p.dev() != dev || p.ino() == std::fs::metadata(path).map_or(0, |m| m.ino()),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc(tasks: &[(u32, u32)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (tid, tgid) in tasks {
            let t = dir.path().join(tid.to_string());
            std::fs::create_dir_all(t.join("task")).expect("mkdir");
            std::fs::write(
                t.join("status"),
                format!("Name:\tx\nTgid:\t{tgid}\nPid:\t{tid}\n"),
            )
            .expect("status");
            let leader = dir
                .path()
                .join(tgid.to_string())
                .join("task")
                .join(tid.to_string());
            std::fs::create_dir_all(leader).expect("task dir");
        }
        dir
    }

    #[test]
    fn a_pid_is_all_its_threads_and_a_tid_is_itself() {
        let p = fake_proc(&[(100, 100), (101, 100), (102, 100)]);
        assert_eq!(
            Target::resolve("100", p.path()).expect("pid"),
            Target::Threads {
                pid: 100,
                tids: vec![100, 101, 102]
            }
        );
        assert_eq!(
            Target::resolve("102", p.path()).expect("tid"),
            Target::Threads {
                pid: 100,
                tids: vec![102]
            }
        );
        assert!(matches!(
            Target::resolve("4242", p.path()),
            Err(TargetError::NoSuchTask(4242, _))
        ));
        assert!(matches!(
            Target::resolve("no-such-thing", p.path()),
            Err(TargetError::Unrecognised(_))
        ));
    }

    #[test]
    fn a_file_is_its_inode_and_a_mount_point_its_filesystem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("file");
        let meta = std::fs::metadata(&file).expect("stat");
        let target =
            Target::resolve(file.to_str().expect("utf-8"), Path::new("/proc")).expect("file");
        let dev = Dev::new(libc::major(meta.dev()), libc::minor(meta.dev()));
        assert_eq!(
            target,
            Target::File {
                path: file.clone(),
                dev,
                ino: meta.ino()
            }
        );
        assert!(target.covers(1, dev, meta.ino()));
        assert!(!target.covers(1, dev, meta.ino() + 1));
        assert!(matches!(
            Target::resolve("/", Path::new("/proc")),
            Ok(Target::Mount { .. })
        ));
    }
}
