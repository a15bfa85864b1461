//! The waits in progress on a device for the detail pane: who waits, on
//! which inode, for how long, and whether the stuck detector has already
//! called the wait stuck. A wait shows from its wait-begin on, before the
//! detector fires (after a second asleep on an idle page) or when it never
//! does (a page still pinned).
use crate::collector::{Collector, DeviceState};
use crate::human::time::task;

use super::view::WaitRow;

/// Waits listed in the detail pane (the longest first).
const DETAIL_WAITS: usize = 32;

/// The waits in progress on `d`'s filesystem at `now_ns`, longest first.
pub(super) fn waits_of(c: &Collector, d: &DeviceState, now_ns: u64) -> Vec<WaitRow> {
    let dev = d.identity.bdev;
    if dev.0 == 0 {
        return Vec::new();
    }
    let stuck = &c.findings().stuck_waits.examples;
    let blocked = &c.findings().blocked_waits.examples;
    let mut rows: Vec<WaitRow> = c
        .open_wait_views()
        .into_iter()
        .filter(|w| w.dev == dev)
        .map(|w| WaitRow {
            who: task(w.begin.comm, w.begin.pid, w.begin.tid),
            ino: w.ino,
            waited_ns: now_ns.max(w.begin.ts_ns + w.waited_ns) - w.begin.ts_ns,
            at_attach: w.at_attach.is_some(),
            stuck: stuck
                .iter()
                .any(|s| s.waiter_tid == w.begin.tid && s.reported_ns >= w.begin.ts_ns),
            blocked: blocked
                .iter()
                .any(|s| s.waiter_tid == w.begin.tid && s.reported_ns >= w.begin.ts_ns),
            uninterruptible: w.api.uninterruptible(),
        })
        .collect();
    rows.sort_by(|a, b| b.waited_ns.cmp(&a.waited_ns).then(a.who.cmp(&b.who)));
    rows.truncate(DETAIL_WAITS);
    rows
}
