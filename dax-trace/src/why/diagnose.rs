//! From the folded watch to a diagnosis per waiter: what it sleeps on, how
//! long, and whether it moved during the watch.
use std::collections::HashMap;

use crate::collector::{Collector, Ownership};
use crate::comm::Comm;
use crate::event::{Dev, Event, EventBody};

use super::Target;

/// What the watch saw threads do, beyond what the collector keeps: waits
/// that ended (with their latency) and busy pages met, per thread.
#[derive(Clone, Debug, Default)]
pub struct WatchLog {
    ended: HashMap<u32, Ended>,
    busy_met: HashMap<u32, u64>,
}

#[derive(Clone, Debug)]
struct Ended {
    comm: Comm,
    pid: u32,
    dev: Dev,
    ino: u64,
    latency_ns: Option<u64>,
}

impl WatchLog {
    /// Notes what `ev` tells of a wait's progress.
    pub fn observe(&mut self, ev: &Event) {
        match &ev.body {
            EventBody::WaitEnd(w) => {
                self.ended.insert(
                    ev.tid,
                    Ended {
                        comm: ev.comm,
                        pid: ev.pid,
                        dev: w.dev,
                        ino: w.ino,
                        latency_ns: Some(w.latency_ns),
                    },
                );
            }
            EventBody::StateWait(w) if w.ended.get() => {
                self.ended.insert(
                    w.waiter_tid,
                    Ended {
                        comm: ev.comm,
                        pid: ev.pid,
                        dev: w.dev,
                        ino: w.ino,
                        latency_ns: None,
                    },
                );
            }
            EventBody::BusyPage(_) => *self.busy_met.entry(ev.tid).or_default() += 1,
            _ => {}
        }
    }
}

/// Whether a wait moved during the watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// It ended (latency when its start was seen).
    Ended { latency_ns: Option<u64> },
    /// Still asleep, but it woke and met a busy page again meanwhile.
    Moving { busy_pages_met: u64 },
    /// Asleep the whole watch on a page that is idle by the kernel's rule:
    /// the wakeup was lost.
    LostWakeup,
    /// Asleep the whole watch on a page still busy: it waits for whoever
    /// holds the page.
    Blocked,
}

/// One waiter.
#[derive(Clone, Debug)]
pub struct WaitDiagnosis {
    pub tid: u32,
    pub pid: u32,
    pub comm: Comm,
    pub dev: Dev,
    pub ino: u64,
    pub pfn: Option<u64>,
    pub index: Option<u64>,
    /// The page's latest refcount known, against `idle_refcount`.
    pub refcount: Option<u64>,
    pub idle_refcount: u32,
    /// TASK_UNINTERRUPTIBLE: the eviction wait (6.15+), which no signal ends.
    pub uninterruptible: bool,
    /// Asleep this long at the end of the watch.
    pub asleep_ns: u64,
    /// Found at attach: `asleep_ns` is a lower bound.
    pub asleep_at_least: bool,
    pub progress: Progress,
    pub owners: Ownership,
}

impl WaitDiagnosis {
    pub fn stuck(&self) -> bool {
        matches!(self.progress, Progress::LostWakeup | Progress::Blocked)
    }
}

/// Every waiter the target asks about.
#[derive(Clone, Debug)]
pub struct Why {
    pub waits: Vec<WaitDiagnosis>,
}

impl Why {
    /// Some waiter did not move during the watch.
    pub fn stuck(&self) -> bool {
        self.waits.iter().any(WaitDiagnosis::stuck)
    }
}

/// Diagnoses the target's waiters from what the watch folded.
pub fn diagnose(c: &Collector, log: &WatchLog, target: &Target, idle_refcount: u32) -> Why {
    let end = c.totals().last_ts_ns;
    let findings = c.findings();
    let mut waits = Vec::new();
    for w in c.open_waits() {
        let tid = w.begin.tid;
        if !target.covers(tid, w.dev, w.ino) {
            continue;
        }
        let busy = c
            .pagemaps()
            .flat_map(|p| p.busy.values())
            .filter(|b| b.seen_by.tid == tid || (b.dev == w.dev && b.ino == w.ino))
            .max_by_key(|b| b.since_ns);
        let attach = w.at_attach.as_ref();
        let stuck = findings
            .stuck_waits
            .examples
            .iter()
            .rev()
            .find(|s| s.waiter_tid == tid);
        let blocked = findings
            .blocked_waits
            .examples
            .iter()
            .rev()
            .find(|s| s.waiter_tid == tid);
        let pfn = stuck
            .map(|s| s.pfn)
            .or(blocked.map(|b| b.pfn))
            .or(busy.map(|b| b.pfn))
            .or(attach.map(|a| a.pfn));
        let refcount = stuck
            .map(|s| s.refcount)
            .or(blocked.map(|b| b.refcount))
            .or(busy.map(|b| b.refcount))
            .or(attach.map(|a| a.refcount));
        let idle_page = match (stuck, attach, refcount) {
            (Some(_), _, _) => true,
            (None, Some(a), _) if blocked.is_none() && busy.is_none() => a.idle,
            (_, _, Some(r)) => r <= u64::from(idle_refcount),
            _ => false,
        };
        let met = log.busy_met.get(&tid).copied().unwrap_or(0);
        let progress = if stuck.is_some() {
            Progress::LostWakeup
        } else if blocked.is_some() {
            Progress::Blocked
        } else if met > 1 || (attach.is_some() && met > 0) {
            Progress::Moving {
                busy_pages_met: met,
            }
        } else if idle_page {
            Progress::LostWakeup
        } else {
            Progress::Blocked
        };
        let owners = match pfn {
            Some(p) => match c.ownership(p) {
                Ownership::Unknown | Ownership::NotTraced if attach.is_some() => {
                    Ownership::PinnedBeforeAttach
                }
                o => o,
            },
            None => Ownership::Unknown,
        };
        waits.push(WaitDiagnosis {
            tid,
            // A wait found at attach does not carry its thread group; the
            // process the user named does.
            pid: match target {
                Target::Threads { pid, .. } if w.begin.pid == 0 => *pid,
                _ => w.begin.pid,
            },
            comm: w.begin.comm,
            dev: w.dev,
            ino: w.ino,
            pfn,
            index: busy.and_then(|b| b.index).or(attach.and_then(|a| a.index)),
            refcount,
            idle_refcount,
            uninterruptible: w.api.uninterruptible(),
            asleep_ns: end.saturating_sub(w.begin.ts_ns),
            asleep_at_least: attach.is_some(),
            progress,
            owners,
        });
    }
    for (tid, e) in &log.ended {
        if waits.iter().any(|w| w.tid == *tid) || !target.covers(*tid, e.dev, e.ino) {
            continue;
        }
        waits.push(WaitDiagnosis {
            tid: *tid,
            pid: e.pid,
            comm: e.comm,
            dev: e.dev,
            ino: e.ino,
            pfn: None,
            index: None,
            refcount: None,
            idle_refcount,
            uninterruptible: false,
            asleep_ns: e.latency_ns.unwrap_or(0),
            asleep_at_least: e.latency_ns.is_none(),
            progress: Progress::Ended {
                latency_ns: e.latency_ns,
            },
            owners: Ownership::Unknown,
        });
    }
    waits.sort_by_key(|w| w.tid);
    Why { waits }
}

/// The wait API's words for a diagnosis line.
pub fn sleep_kind(uninterruptible: bool) -> &'static str {
    if uninterruptible {
        "uninterruptible (eviction or unmount: no signal ends it)"
    } else {
        "interruptible (truncate, punch)"
    }
}
