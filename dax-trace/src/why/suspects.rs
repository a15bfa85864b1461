//! Suspects for a pin taken before attach: tasks asleep (state D) in direct
//! I/O, from /proc/PID/task/TID/stat and /proc/PID/task/TID/stack (root
//! only), whose pages are pinned until the I/O completes; and processes
//! holding a pipe with data queued (a vmsplice keeps the pages it spliced
//! referenced until they are read), found by opening the pipe through
//! /proc/PID/fd/N and asking how many bytes wait in it (`FIONREAD`). Which
//! pages they hold is not on record, so they are suspects, not owners.
use std::path::Path;

/// A task asleep in direct I/O, or a process holding a pipe with data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suspect {
    pub pid: u32,
    pub tid: u32,
    pub comm: String,
    /// Its kernel stack, innermost first (function names); empty for a pipe.
    pub frames: Vec<String>,
    /// The pipe it holds: (fd, pipe inode, bytes queued).
    pub pipe: Option<(u32, u64, u64)>,
}

/// Frames of the direct-I/O paths that pin user pages for the device.
const DIRECT_IO: &[&str] = &[
    "iomap_dio_rw",
    "__iomap_dio_rw",
    "blkdev_direct_IO",
    "__blkdev_direct_IO",
    "__blkdev_direct_IO_simple",
    "__blkdev_direct_IO_async",
    "do_blockdev_direct_IO",
    "__blockdev_direct_IO",
];

/// Every task under `proc_root` asleep in direct I/O, except `skip` (our
/// own threads).
pub fn suspects(proc_root: &Path, skip: u32) -> Vec<Suspect> {
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir(proc_root) else {
        return out;
    };
    for p in procs.filter_map(Result::ok) {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == skip {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(p.path().join("task")) else {
            continue;
        };
        for t in tasks.filter_map(Result::ok) {
            let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
                continue;
            };
            let Some((comm, state)) = comm_and_state(&stat) else {
                continue;
            };
            if state != 'D' {
                continue;
            }
            let frames = std::fs::read_to_string(t.path().join("stack"))
                .map(|s| stack_frames(&s))
                .unwrap_or_default();
            if frames.iter().any(|f| DIRECT_IO.contains(&f.as_str())) {
                out.push(Suspect {
                    pid,
                    tid,
                    comm,
                    frames,
                    pipe: None,
                });
            }
        }
    }
    out.sort_by_key(|s| (s.pid, s.tid));
    out
}

/// Every process under `proc_root` (but `skip`) holding a pipe with bytes
/// queued, once per pipe (the lowest pid and fd that holds it).
pub fn pipe_holders(proc_root: &Path, skip: u32) -> Vec<Suspect> {
    let mut out: Vec<Suspect> = Vec::new();
    let Ok(procs) = std::fs::read_dir(proc_root) else {
        return out;
    };
    let mut pids: Vec<u32> = procs
        .filter_map(Result::ok)
        .filter_map(|p| p.file_name().to_str()?.parse().ok())
        .filter(|pid| *pid != skip)
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let dir = proc_root.join(pid.to_string());
        let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
            continue;
        };
        let comm = std::fs::read_to_string(dir.join("comm"))
            .map(|c| c.trim_end().to_string())
            .unwrap_or_default();
        let mut fds: Vec<(u32, u64)> = fds
            .filter_map(Result::ok)
            .filter_map(|e| {
                let fd = e.file_name().to_str()?.parse().ok()?;
                let link = std::fs::read_link(e.path()).ok()?;
                let ino = link
                    .to_str()?
                    .strip_prefix("pipe:[")?
                    .strip_suffix(']')?
                    .parse()
                    .ok()?;
                Some((fd, ino))
            })
            .collect();
        fds.sort_unstable();
        for (fd, ino) in fds {
            if out.iter().any(|s| s.pipe.is_some_and(|p| p.1 == ino)) {
                continue;
            }
            if let Some(bytes) = queued(&dir.join("fd").join(fd.to_string()))
                && bytes > 0
            {
                out.push(Suspect {
                    pid,
                    tid: pid,
                    comm: comm.clone(),
                    frames: Vec::new(),
                    pipe: Some((fd, ino, bytes)),
                });
            }
        }
    }
    out
}

/// Bytes waiting in the pipe behind `link` (a /proc/PID/fd/N), opened for
/// reading without blocking and never read.
fn queued(link: &Path) -> Option<u64> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let pipe = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(link)
        .ok()?;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer we pass.
    let rc = unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut n) };
    (rc == 0).then_some(n.max(0) as u64)
}

/// `comm` and state of a /proc stat line (`123 (a b) D ...`).
fn comm_and_state(stat: &str) -> Option<(String, char)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some((comm, state))
}

/// Function names of a /proc stack file (`[<0>] iomap_dio_rw+0x1d/0x40`).
fn stack_frames(stack: &str) -> Vec<String> {
    stack
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|f| f.split('+').next().unwrap_or(f).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(root: &Path, pid: u32, tid: u32, comm: &str, state: char, stack: &str) {
        let t = root
            .join(pid.to_string())
            .join("task")
            .join(tid.to_string());
        std::fs::create_dir_all(&t).expect("mkdir");
        std::fs::write(t.join("stat"), format!("{tid} ({comm}) {state} 1 2 3")).expect("stat");
        std::fs::write(t.join("stack"), stack).expect("stack");
    }

    #[test]
    fn only_tasks_asleep_in_direct_io_are_suspects() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dio = "[<0>] blk_io_schedule+0x1/0x2\n[<0>] __iomap_dio_rw+0x3/0x4\n[<0>] iomap_dio_rw+0x1/0x2\n";
        task(dir.path(), 10, 11, "odirect (read)", 'D', dio);
        task(dir.path(), 10, 12, "idle", 'S', dio);
        task(
            dir.path(),
            20,
            20,
            "truncate",
            'D',
            "[<0>] ext4_break_layouts+0x1/0x2\n",
        );
        task(dir.path(), 30, 30, "self", 'D', dio);
        let found = suspects(dir.path(), 30);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].pid, found[0].tid), (10, 11));
        assert_eq!(found[0].comm, "odirect (read)");
        assert_eq!(found[0].frames[1], "__iomap_dio_rw");
    }

    #[test]
    fn a_pipe_with_data_queued_names_its_holder_once() {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two descriptors into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let data = [7u8; 4096];
        // SAFETY: writes from a live buffer into our own pipe.
        let wrote = unsafe { libc::write(fds[1], data.as_ptr().cast(), data.len()) };
        assert_eq!(wrote, 4096);
        let me = std::process::id();
        let found = pipe_holders(Path::new("/proc"), 0);
        let mine: Vec<&Suspect> = found.iter().filter(|s| s.pid == me).collect();
        assert_eq!(mine.len(), 1, "{mine:?}");
        let (fd, _, bytes) = mine[0].pipe.expect("a pipe");
        assert!(
            fd == fds[0] as u32 || fd == fds[1] as u32,
            "{fd} of {fds:?}"
        );
        assert_eq!(bytes, 4096);
        // An empty pipe holds nothing.
        let mut buf = [0u8; 4096];
        // SAFETY: reads into a live buffer from our own pipe.
        assert_eq!(
            unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) },
            4096
        );
        assert!(
            pipe_holders(Path::new("/proc"), 0)
                .iter()
                .all(|s| s.pipe.is_none_or(|p| s.pid != me || p.2 == 0)),
            "an empty pipe is no suspect"
        );
        // SAFETY: closes our own descriptors.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
