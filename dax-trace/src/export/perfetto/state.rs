//! The state at start on the Perfetto tracks: claims held since before the
//! trace open a slice on their holder's thread (a later release ends it, one
//! still open at the end runs to the end), a wait found at attach is a slice
//! from (found - slept) on its waiter, and the reading itself an instant with
//! its counts. A device's claim count comes from the file, so at most
//! `MAX_OPEN_CLAIMS` of them are drawn (as in report, check and top) and an
//! instant says how many the trace claimed beyond. Mounts, dm targets, pagemaps and busy pages found at attach
//! are instants with their fields (the exporter's default for a kind).
use std::io::Write;

use serde_json::json;

use super::{ChromeTrace, ProcessKey, holder_name};
use crate::collector::MAX_OPEN_CLAIMS;
use crate::event::{Event, EventBody, StateDaxDevice, StateWait};

impl<W: Write> ChromeTrace<W> {
    /// Draws a state kind that has more than an instant to show; false
    /// when `e` is not one (the caller draws it).
    pub(super) fn state_event(&mut self, e: &Event) -> std::io::Result<bool> {
        match &e.body {
            EventBody::StateDaxDevice(d) if !self.state_read => {
                self.held_at_start(e.ts_ns, d)?;
            }
            EventBody::StateWait(w) => self.wait_at_attach(e, w)?,
            EventBody::StateEnd(end) => {
                if end.reason == 0 {
                    self.state_read = true;
                }
                let name = if end.reason == 0 {
                    "state at start"
                } else {
                    "state update"
                };
                self.instant(ProcessKey::Daxtrace, name, e.ts_ns, json!({ "state": end }))?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn held_at_start(&mut self, ts: u64, d: &StateDaxDevice) -> std::io::Result<()> {
        let disk = d.disk.as_str().to_string();
        if !disk.is_empty() {
            self.disks.entry(d.dax_dev).or_insert_with(|| disk.clone());
        }
        let holder = if d.has_holders.get() { d.holder } else { 0 };
        let held = u64::from(d.claims.max(u32::from(holder != 0)));
        let pid = self.pid(ProcessKey::DaxDevice(d.dax_dev))?;
        let open = self.open_claims.get(&d.dax_dev).map_or(0, Vec::len);
        let room = MAX_OPEN_CLAIMS.saturating_sub(open) as u64;
        let drawn = held.min(room);
        if drawn < held {
            let args = json!({ "disk": disk, "claims_in_trace": held, "drawn": drawn, "cap": MAX_OPEN_CLAIMS });
            self.instant(
                ProcessKey::DaxDevice(d.dax_dev),
                &format!("held claims capped at {MAX_OPEN_CLAIMS}"),
                ts,
                args,
            )?;
        }
        for i in 0..drawn {
            let h = if i == 0 { holder } else { 0 };
            let tid = self.tid(pid, h, || holder_name(h))?;
            self.open_claims.entry(d.dax_dev).or_default().push(h);
            let args = json!({ "disk": disk, "bdev": d.bdev.to_string(), "held": "since before the trace" });
            self.emit(
                "B",
                &format!("held {disk} (before the trace)"),
                pid,
                tid,
                Some(ts),
                args,
            )?;
        }
        Ok(())
    }

    fn wait_at_attach(&mut self, e: &Event, w: &StateWait) -> std::io::Result<()> {
        let pid = self.pid(ProcessKey::Filesystem(w.dev))?;
        let tid = self.tid(pid, u64::from(w.waiter_tid), || {
            format!("{} {}", e.comm, w.waiter_tid)
        })?;
        if w.ended.get() {
            return self.emit(
                "E",
                "",
                pid,
                tid,
                Some(e.ts_ns),
                json!({ "found_at_attach": true }),
            );
        }
        let args = json!({ "pfn": format!("{:#x}", w.pfn), "slept_at_least_ns": w.slept_ns, "in_progress_at_attach": true });
        self.emit(
            "B",
            &format!("wait ino {} (in progress at attach)", w.ino),
            pid,
            tid,
            Some(e.ts_ns.saturating_sub(w.slept_ns)),
            args,
        )
    }
}
