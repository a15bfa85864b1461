//! DAX faults on the Perfetto tracks: a `faults` counter in each
//! filesystem device's process, the faults seen so far. A `fault` record
//! adds one; a `fault-counts` event (faults counted in the kernel) adds its
//! count, so the counter climbs the same either way (in steps, once a
//! second, for counted faults).
use std::io::Write;

use serde_json::json;

use super::{ChromeTrace, ProcessKey};
use crate::event::Dev;

impl<W: Write> ChromeTrace<W> {
    pub(super) fn add_faults(&mut self, dev: Dev, count: u64, ts: u64) -> std::io::Result<()> {
        let n = self.faults.entry(dev).or_default();
        *n += count;
        let n = *n;
        let pid = self.pid(ProcessKey::Filesystem(dev))?;
        self.emit("C", "faults", pid, 0, Some(ts), json!({ "faults": n }))
    }
}
