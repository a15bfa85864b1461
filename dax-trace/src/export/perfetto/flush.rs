//! virtio-pmem flushes on the Perfetto tracks: each request to the host is
//! a slice `pmem flush` on the waiting thread (the flusher, or the flush
//! worker from 6.12) in its disk's process, from its entry (the record's
//! time minus its latency) to its return.
use std::io::Write;

use serde_json::json;

use super::{ChromeTrace, ProcessKey};
use crate::event::{Event, PmemFlush};

impl<W: Write> ChromeTrace<W> {
    pub(super) fn pmem_flush(&mut self, e: &Event, f: &PmemFlush) -> std::io::Result<()> {
        let pid = self.pid(ProcessKey::Filesystem(f.dev))?;
        let tid = self.tid(pid, u64::from(e.tid), || format!("{} {}", e.comm, e.tid))?;
        let start = e.ts_ns.saturating_sub(f.latency_ns);
        let args = json!({
            "latency_ns": f.latency_ns,
            "region": format!("{:#x}", f.region),
            "ret": f.ret,
        });
        let name = if f.ret == 0 {
            "pmem flush"
        } else {
            "pmem flush (failed)"
        };
        self.emit("B", name, pid, tid, Some(start), args)?;
        self.emit("E", "", pid, tid, Some(e.ts_ns), serde_json::Value::Null)
    }
}
