//! Whether DAX is in effect on a mount, read from the files themselves: a
//! bounded walk of the mount's tree takes a sample of its regular files and
//! asks statx for `STATX_ATTR_DAX`, which the kernel sets from the inode's
//! `S_DAX` (what the page cache bypass actually follows), unlike the mount
//! options, which only say what was asked. Sent as `state-dax-mode` events
//! after the mount's `state-mount`, at start and again while running when
//! the answer changes (a mount made while tracing is empty at first).
use std::collections::{HashMap, VecDeque};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use super::mountinfo::{self, Mount};
use crate::daxmode::DaxMode;
use crate::event::{Dev, Event, Flag, PathName, StateDaxMode};

/// Regular files examined per mount at most.
pub const MAX_FILES: u32 = 32;
/// Directory entries read per mount at most (a huge directory costs no more).
const MAX_ENTRIES: usize = 4096;

/// What statx says of one path.
struct Attrs {
    dev: Dev,
    regular: bool,
    dir: bool,
    dax: bool,
    /// The kernel reports the DAX attribute (`attributes_mask`).
    reported: bool,
}

fn statx(path: &Path) -> std::io::Result<Attrs> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: statx is plain old data; all zeroes is a valid value.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a buffer of the kernel's struct statx.
    let r = unsafe {
        libc::syscall(
            libc::SYS_statx,
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW | libc::AT_STATX_DONT_SYNC,
            libc::STATX_TYPE,
            &mut buf as *mut libc::statx,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let dax_bit = libc::STATX_ATTR_DAX as u64;
    let fmt = u32::from(buf.stx_mode) & libc::S_IFMT;
    Ok(Attrs {
        dev: Dev::new(buf.stx_dev_major, buf.stx_dev_minor),
        regular: fmt == libc::S_IFREG,
        dir: fmt == libc::S_IFDIR,
        dax: buf.stx_attributes & dax_bit != 0,
        reported: buf.stx_attributes_mask & dax_bit != 0,
    })
}

/// The filesystem device that holds `path`.
pub fn dev_of(path: &Path) -> std::io::Result<Dev> {
    statx(path).map(|a| a.dev)
}

/// A sample of the regular files of the filesystem `dev` mounted at `root`:
/// breadth first, staying on `dev`, at most [`MAX_FILES`] files.
pub fn sample(root: &Path, dev: Dev) -> StateDaxMode {
    let mut s = StateDaxMode {
        dev,
        ..StateDaxMode::default()
    };
    let top = match statx(root) {
        Ok(a) => a,
        Err(e) => {
            s.errno = e.raw_os_error().unwrap_or(libc::EIO) as u32;
            return s;
        }
    };
    s.reported = Flag::new(top.reported);
    if top.dev != dev {
        // Another filesystem is mounted over it (or another namespace's).
        s.errno = libc::EXDEV as u32;
        return s;
    }
    let mut dirs = VecDeque::from([root.to_path_buf()]);
    let mut entries = 0usize;
    while let Some(dir) = dirs.pop_front() {
        let Ok(list) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in list.flatten() {
            entries += 1;
            if entries > MAX_ENTRIES || s.sampled >= MAX_FILES {
                return s;
            }
            let path = entry.path();
            let Ok(a) = statx(&path) else { continue };
            if a.dev != dev {
                continue;
            }
            if a.regular {
                s.sampled += 1;
                s.dax_files += u32::from(a.dax);
            } else if a.dir {
                dirs.push_back(path);
            }
        }
    }
    s
}

/// The path a mount point of the mount table read is reached by here: the
/// table of another process (`DAXTRACE_MOUNTINFO=/proc/1/mountinfo`) names
/// paths of its namespace, reached through `/proc/PID/root`.
pub fn reachable(mount_point: &str) -> PathBuf {
    reachable_from(&mountinfo::path(), mount_point)
}

fn reachable_from(table: &Path, mount_point: &str) -> PathBuf {
    let pid = table
        .strip_prefix("/proc")
        .ok()
        .filter(|rest| rest.file_name().is_some_and(|f| f == "mountinfo"))
        .and_then(|rest| rest.parent())
        .filter(|p| p.as_os_str() != "self" && p.components().count() == 1);
    match pid {
        Some(p) => Path::new("/proc")
            .join(p)
            .join("root")
            .join(mount_point.trim_start_matches('/')),
        None => PathBuf::from(mount_point),
    }
}

/// The `state-dax-mode` event of a mounted filesystem.
pub fn dax_mode_event(ts: u64, m: &Mount) -> Event {
    let mut body = sample(&reachable(&m.mount_point), m.dev);
    body.asked = m.asked.code();
    body.mount_point = PathName::from_str_lossy(&m.mount_point);
    Event::own(ts, body.into())
}

/// The last answer sent per mounted filesystem, to send only changes.
#[derive(Default)]
pub struct Answers {
    sent: HashMap<Dev, (DaxMode, String)>,
}

impl Answers {
    /// Samples `mounts` again and sends the `state-dax-mode` of those
    /// whose answer (mode asked, effect, mount point) changed or is new;
    /// forgets unmounted ones. Returns how many were sent.
    pub fn update(&mut self, now: u64, mounts: &[(Mount, String)], out: &mut Vec<Event>) -> u32 {
        self.sent
            .retain(|dev, _| mounts.iter().any(|(m, _)| m.dev == *dev));
        let mut n = 0;
        for (m, _) in mounts {
            let e = dax_mode_event(now, m);
            if self.note(&e) {
                out.push(e);
                n += 1;
            }
        }
        n
    }

    /// Some mount had no regular file to sample when last asked.
    pub fn pending(&self) -> bool {
        self.sent
            .values()
            .any(|(m, _)| m.effect == crate::daxmode::Effect::NoFileToSample)
    }

    /// Remembers an answer sent; true when it differs from the last one.
    pub fn note(&mut self, e: &Event) -> bool {
        let crate::event::EventBody::StateDaxMode(s) = &e.body else {
            return false;
        };
        let answer = (DaxMode::of_state(s), s.mount_point.as_str().to_string());
        let same = |(old, at): &(DaxMode, String)| {
            old.asked == answer.0.asked && old.effect == answer.0.effect && *at == answer.1
        };
        if self.sent.get(&s.dev).is_some_and(same) {
            return false;
        }
        self.sent.insert(s.dev, answer);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev_of(p: &Path) -> Dev {
        statx(p).expect("statx").dev
    }

    #[test]
    fn a_sample_counts_regular_files_and_stays_on_the_filesystem() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        std::fs::write(dir.path().join("one"), b"1").expect("write");
        std::fs::write(dir.path().join("a/b/two"), b"2").expect("write");
        std::os::unix::fs::symlink("one", dir.path().join("link")).expect("symlink");
        let s = sample(dir.path(), dev_of(dir.path()));
        assert_eq!(s.errno, 0);
        assert_eq!(s.sampled, 2, "two regular files; the symlink is not one");
        // A temporary directory is not on a DAX filesystem.
        assert_eq!(s.dax_files, 0);
        let other = Dev::new(4095, 4095);
        assert_eq!(sample(dir.path(), other).errno, libc::EXDEV as u32);
    }

    #[test]
    fn an_empty_filesystem_samples_nothing_and_a_missing_one_says_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = sample(dir.path(), dev_of(dir.path()));
        assert_eq!((s.sampled, s.errno), (0, 0));
        let gone = sample(&dir.path().join("gone"), Dev::new(1, 1));
        assert_eq!(gone.errno, libc::ENOENT as u32);
    }

    #[test]
    fn the_sample_stops_at_the_file_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..MAX_FILES + 5 {
            std::fs::write(dir.path().join(format!("f{i}")), b"x").expect("write");
        }
        assert_eq!(sample(dir.path(), dev_of(dir.path())).sampled, MAX_FILES);
    }

    #[test]
    fn another_namespaces_mount_points_are_reached_through_its_root() {
        let r = |t: &str, m: &str| reachable_from(Path::new(t), m);
        assert_eq!(r("/proc/self/mountinfo", "/mnt/dax"), Path::new("/mnt/dax"));
        assert_eq!(
            r("/proc/1/mountinfo", "/mnt/dax"),
            Path::new("/proc/1/root/mnt/dax")
        );
        assert_eq!(r("/tmp/mountinfo", "/mnt/dax"), Path::new("/mnt/dax"));
    }

    #[test]
    fn only_changed_answers_are_sent_again() {
        let ev = |sampled: u32, dax_files: u32| {
            let body = StateDaxMode {
                dev: Dev::new(259, 0),
                asked: 2,
                reported: Flag::new(true),
                sampled,
                dax_files,
                ..StateDaxMode::default()
            };
            Event::own(1, body.into())
        };
        let mut a = Answers::default();
        assert!(!a.pending());
        assert!(a.note(&ev(0, 0)), "the first answer");
        assert!(a.pending(), "an empty filesystem is asked again");
        assert!(a.note(&ev(2, 2)), "no file to sample became in effect");
        assert!(!a.pending());
        assert!(!a.note(&ev(5, 5)), "more files, the same answer");
        assert!(a.note(&ev(5, 0)));
    }
}
