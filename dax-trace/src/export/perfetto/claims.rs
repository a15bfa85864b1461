//! Claims and releases on the Perfetto tracks: a slice per claim on its
//! holder's thread of the dax_device's process, from the claim to its
//! release (releases without a holder end the newest claim); a refused claim
//! is an instant on the filesystem's track, a release matching no open claim
//! an instant on the holder's thread. Slices carry the claimer's kernel
//! stack when the trace has it.
use std::io::Write;

use serde_json::json;

use super::{ChromeTrace, ProcessKey, holder_name};
use crate::event::{Claim, Event, Release};

impl<W: Write> ChromeTrace<W> {
    pub(super) fn claim(&mut self, e: &Event, c: &Claim) -> std::io::Result<()> {
        let (ts, disk) = (e.ts_ns, c.disk.as_str());
        let who = json!({ "pid": e.pid, "tid": e.tid, "comm": e.comm });
        if !c.granted.get() || c.dax_dev == 0 {
            return self.instant(
                ProcessKey::Filesystem(c.bdev),
                "claim refused",
                ts,
                json!({ "disk": disk, "by": who }),
            );
        }
        self.disks
            .entry(c.dax_dev)
            .or_insert_with(|| disk.to_string());
        let pid = self.pid(ProcessKey::DaxDevice(c.dax_dev))?;
        let tid = self.tid(pid, c.holder, || holder_name(c.holder))?;
        self.open_claims
            .entry(c.dax_dev)
            .or_default()
            .push(c.holder);
        let args = json!({ "disk": disk, "bdev": c.bdev.to_string(), "api": c.api, "by": who });
        let args = self.pins.with_stack(args, c.stack);
        self.emit("B", &format!("claim {disk}"), pid, tid, Some(ts), args)
    }

    pub(super) fn release(&mut self, e: &Event, r: &Release) -> std::io::Result<()> {
        let ts = e.ts_ns;
        let who = json!({ "pid": e.pid, "tid": e.tid, "comm": e.comm });
        let open = self.open_claims.entry(r.dax_dev).or_default();
        let released = match open.iter().rposition(|h| *h == r.holder) {
            Some(i) => Some(open.remove(i)),
            // APIs without a holder release the latest claim.
            None if r.holder == 0 => open.pop(),
            None => None,
        };
        let pid = self.pid(ProcessKey::DaxDevice(r.dax_dev))?;
        match released {
            Some(h) => {
                let tid = self.tid(pid, h, || holder_name(h))?;
                let args = json!({ "release_api": r.api, "by": who });
                self.emit("E", "", pid, tid, Some(ts), args)
            }
            None => {
                let tid = self.tid(pid, r.holder, || holder_name(r.holder))?;
                let args = json!({ "api": r.api, "by": who });
                self.emit("i", "release without claim", pid, tid, Some(ts), args)
            }
        }
    }
}
