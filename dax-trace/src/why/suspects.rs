//! Suspects for a pin taken before attach: tasks asleep (state D) in direct
//! I/O, from /proc/PID/task/TID/stat and /proc/PID/task/TID/stack (root
//! only). Their pages are pinned until the I/O completes; which pages is
//! not on record, so they are suspects, not owners.
use std::path::Path;

/// A task asleep in direct I/O.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suspect {
    pub pid: u32,
    pub tid: u32,
    pub comm: String,
    /// Its kernel stack, innermost first (function names).
    pub frames: Vec<String>,
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
                });
            }
        }
    }
    out.sort_by_key(|s| (s.pid, s.tid));
    out
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
}
