//! Orphaned pages and blocked eviction waits on the Perfetto tracks: the
//! thread that let a busy page go gets an instant, and the page a slice of
//! its own (`orphan pfn ...`, in its filesystem's process) from then until
//! it goes idle, which is how long DMA went on into blocks the file no
//! longer owns. A blocked eviction wait is an instant on the waiter's
//! thread, inside its wait slice.
use std::io::Write;

use serde_json::json;

use super::{ChromeTrace, ProcessKey};
use crate::event::{BlockedWait, Event, OrphanIdle, PageOrphaned};

impl<W: Write> ChromeTrace<W> {
    pub(super) fn page_orphaned(&mut self, e: &Event, o: &PageOrphaned) -> std::io::Result<()> {
        let pid = self.pid(ProcessKey::Filesystem(o.dev))?;
        let tid = self.tid(pid, u64::from(e.tid), || format!("{} {}", e.comm, e.tid))?;
        let args = json!({
            "pfn": format!("{:#x}", o.pfn),
            "ino": o.ino,
            "index": o.index.get(),
            "refcount": o.refcount,
            "first_busy": o.first_busy,
            "entry_pages": o.entry_pages,
        });
        let args = self.pins.with_stack(args, o.stack);
        self.emit("i", "page let go while busy", pid, tid, Some(e.ts_ns), args)?;
        let page_track = self.tid(pid, o.page, || format!("orphan pfn {:#x}", o.pfn))?;
        let args = json!({ "ino": o.ino, "by": { "pid": e.pid, "tid": e.tid, "comm": e.comm } });
        self.emit(
            "B",
            &format!("orphan pfn {:#x} busy", o.pfn),
            pid,
            page_track,
            Some(e.ts_ns),
            args,
        )
    }

    pub(super) fn orphan_idle(&mut self, e: &Event, i: &OrphanIdle) -> std::io::Result<()> {
        let pid = self.pid(ProcessKey::Filesystem(i.dev))?;
        let page_track = self.tid(pid, i.page, || format!("orphan pfn {:#x}", i.pfn))?;
        let args = json!({ "busy_after_ns": e.ts_ns.saturating_sub(i.orphaned_ns) });
        self.emit("E", "", pid, page_track, Some(e.ts_ns), args)
    }

    pub(super) fn blocked_wait(&mut self, e: &Event, b: &BlockedWait) -> std::io::Result<()> {
        let pid = self.pid(ProcessKey::Filesystem(b.dev))?;
        let waiter = b.waiter_tid;
        let tid = self.tid(pid, u64::from(waiter), || format!("tid {waiter}"))?;
        let args = json!({
            "pfn": format!("{:#x}", b.pfn),
            "refcount": b.refcount,
            "waiting_since_ns": b.wait_begin_ns,
        });
        self.emit(
            "i",
            "blocked wait (uninterruptible, page busy)",
            pid,
            tid,
            Some(e.ts_ns),
            args,
        )
    }
}
