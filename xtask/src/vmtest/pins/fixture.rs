//! Hand-made exports and workload summaries for the pins judge's tests: a
//! run where every owner is where the workload says, and ways to edit it.
use super::trace::Trace;
use serde_json::{Value, json};

pub(super) const DAX_PID: u64 = 100;
pub(super) const DIO_TID: u64 = 101;
pub(super) const SPLICE_TID: u64 = 103;
/// The io_uring client: a child process of its own (pid = tid).
pub(super) const URING_PID: u64 = 400;
pub(super) const CONTROL_PID: u64 = 200;
pub(super) const CHILD_A: u64 = 300;
pub(super) const CHILD_B: u64 = 301;
pub(super) const DIO_PFN: u64 = 0x48200;
pub(super) const SPLICE_PFN: u64 = 0x48300;
pub(super) const SHARED_PFN: u64 = 0x48400;
pub(super) const URING_PATH: &str = "/tmp/dax-workload.100/mnt/pin-uring";

/// Stack ids of the fixture.
pub(super) const DIO_STACK: u64 = 1;
pub(super) const SPLICE_STACK: u64 = 2;
pub(super) const EXT4_STACK: u64 = 3;
pub(super) const XFS_STACK: u64 = 4;
pub(super) const DM_STACK: u64 = 5;

pub(super) fn task(pid: u64, tid: u64, comm: &str, pfn: u64) -> Value {
    json!({"pid": pid, "tid": tid, "comm": comm, "pfn": pfn})
}

pub(super) fn summary() -> Value {
    json!({"scenario": "pin-owners", "ok": true, "lost_wakeup": false, "pins": [
        {"case": "odirect", "fs": "ext4", "file_ino": 12, "pfn": DIO_PFN, "op_tid": 102,
         "tasks": [task(DAX_PID, DIO_TID, "dio-pinner", DIO_PFN)], "lost_wakeup": false, "ok": true},
        {"case": "control", "fs": "ext4", "file_ino": 0, "pfn": 0, "bytes": 65536,
         "tasks": [task(CONTROL_PID, CONTROL_PID, "anon-dio", 0)], "ok": true},
        {"case": "vmsplice", "fs": "ext4", "file_ino": 13, "pfn": SPLICE_PFN, "op_tid": 105,
         "tasks": [task(DAX_PID, SPLICE_TID, "splice-pinner", SPLICE_PFN)], "ok": true},
        {"case": "two-processes", "fs": "ext4", "file_ino": 14, "pfn": SHARED_PFN, "op_tid": 106,
         "tasks": [task(CHILD_A, CHILD_A, "pin-owner-a", SHARED_PFN),
                   task(CHILD_B, CHILD_B, "pin-owner-b", SHARED_PFN)], "ok": true},
        {"case": "io-uring", "fs": "ext4", "file_ino": 15, "pfn": 0x48500, "path": URING_PATH,
         "errno": 95, "tasks": [task(URING_PID, URING_PID, "uring-pinner", 0x48500)], "ok": true},
    ]})
}

pub(super) fn frame(symbol: &str, module: Option<&str>) -> Value {
    match module {
        Some(m) => json!({"addr": 1, "symbol": symbol, "offset": 4, "module": m}),
        None => json!({"addr": 1, "symbol": symbol, "offset": 4}),
    }
}

pub(super) fn stack(id: u64, frames: &[(&str, Option<&str>)]) -> Value {
    let frames: Vec<Value> = frames.iter().map(|(s, m)| frame(s, *m)).collect();
    json!({"type": "stack", "id": id, "frames": frames})
}

pub(super) fn stacks() -> Vec<Value> {
    vec![
        stack(
            DIO_STACK,
            &[
                ("get_user_pages_fast", None),
                ("iov_iter_get_pages2", None),
                ("bio_iov_iter_get_pages", None),
                ("__blkdev_direct_IO_simple.isra.0", None),
                ("blkdev_read_iter", None),
            ],
        ),
        stack(
            SPLICE_STACK,
            &[
                ("get_user_pages_fast", None),
                ("iov_iter_get_pages2", None),
                ("iter_to_pipe", None),
                ("__do_sys_vmsplice", None),
            ],
        ),
        stack(
            EXT4_STACK,
            &[
                ("fs_dax_get_by_bdev", None),
                ("__ext4_fill_super", Some("ext4")),
            ],
        ),
        stack(
            XFS_STACK,
            &[
                ("fs_dax_get_by_bdev", None),
                ("xfs_alloc_buftarg", Some("xfs")),
            ],
        ),
        stack(
            DM_STACK,
            &[
                ("fs_dax_get_by_bdev", None),
                ("dm_get_table_device", Some("dm_mod")),
            ],
        ),
    ]
}

pub(super) fn ev(pid: u64, tid: u64, comm: &str, body: Value) -> Value {
    json!({"ts_ns": 1, "cpu": 0, "pid": pid, "tid": tid, "comm": comm, "point": 39, "body": body})
}

pub(super) fn owner(pid: u64, tid: u64, comm: &str, pfn: u64, stack: u64) -> Value {
    ev(
        pid,
        tid,
        comm,
        json!({"type": "pin-owner", "page": 7, "pfn": pfn, "pgmap": 9,
        "since_ns": 1, "refs": 16, "pin": false, "stack": stack, "remote": false}),
    )
}

pub(super) fn busy(pfn: u64, ino: u64) -> Value {
    ev(
        DAX_PID,
        102,
        "truncate",
        json!({"type": "busy-page", "pfn": pfn, "ino": ino, "index": 0}),
    )
}

/// The refusal as the kernel names it: inode 15 on 259:0, its path joined
/// with the mount point (`path_from` 2).
pub(super) fn refused(path: &str) -> Value {
    ev(
        URING_PID,
        URING_PID,
        "uring-pinner",
        json!({"type": "refused-pin", "start": 4096,
        "nr_pages": 16, "gup_flags": 65537, "ret": -95, "pin": true, "path": path,
        "dev": "259:0", "path_from": 2, "ino": 15}),
    )
}

/// The events of a run where everything is as the workload says.
pub(super) fn good_events() -> Vec<Value> {
    let mut lines = stacks();
    lines.extend([
        busy(DIO_PFN, 12),
        owner(DAX_PID, DIO_TID, "dio-pinner", DIO_PFN, DIO_STACK),
        busy(SPLICE_PFN, 13),
        owner(
            DAX_PID,
            SPLICE_TID,
            "splice-pinner",
            SPLICE_PFN,
            SPLICE_STACK,
        ),
        busy(SHARED_PFN, 14),
        owner(CHILD_A, CHILD_A, "pin-owner-a", SHARED_PFN, SPLICE_STACK),
        owner(CHILD_B, CHILD_B, "pin-owner-b", SHARED_PFN, SPLICE_STACK),
        refused(URING_PATH),
    ]);
    lines
}

pub(super) fn trace(lines: Vec<Value>) -> Trace {
    Trace::from_lines(lines)
}

/// The good events with every line `drop` accepts left out, then `extra`.
pub(super) fn edited(drop: impl Fn(&Value) -> bool, extra: Vec<Value>) -> Trace {
    let mut lines: Vec<Value> = good_events().into_iter().filter(|l| !drop(l)).collect();
    lines.extend(extra);
    trace(lines)
}

pub(super) fn is_owner_tid(l: &Value, tid: u64) -> bool {
    l["body"]["type"] == "pin-owner" && l["tid"] == tid
}

pub(super) fn claim(stack: u64) -> Value {
    ev(
        1,
        1,
        "mount",
        json!({"type": "claim", "disk": "pmem0", "granted": true, "stack": stack}),
    )
}

pub(super) fn stuck(waiter: u64, pfn: u64) -> Value {
    ev(
        0,
        0,
        "swapper/0",
        json!({"type": "stuck-wait", "pfn": pfn, "waiter_tid": waiter, "ino": 12}),
    )
}
