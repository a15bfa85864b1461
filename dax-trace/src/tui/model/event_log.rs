//! The scrolling event log: the newest events, one line each, kept in a
//! bounded ring so a long session never grows it.
use crate::event::{
    BlockedWait, BusyPage, Claim, DaxAddHost, DaxAlloc, DaxKill, DmAccess, DmMember, DmTableDax,
    Drops, Fault, FaultCounts, HolderNotifyFailure, MemoryFailure, OrphanIdle, PageIdle,
    PageOrphaned, PagemapCreate, PagemapDestroy, PinOwner, PinRelease, RefusedPin, Release,
    StuckWait, WaitBegin, WaitEnd,
};
use std::collections::VecDeque;

use crate::event::{Event, EventBody};
use crate::human::compact::duration;
use crate::human::time::{TimeBase, Timeline, task};

/// How many lines the log keeps (more than any screen shows, for scrolling back).
pub const LOG_CAPACITY: usize = 500;

/// The newest [`LOG_CAPACITY`] events as text.
#[derive(Clone, Debug, Default)]
pub struct EventLog {
    lines: VecDeque<String>,
    /// How event times are printed (`top --time`; since boot by default),
    /// counted from the first event pushed when relative.
    time: TimeBase,
    mono_to_wall_ns: i128,
    origin_ns: Option<u64>,
}

impl EventLog {
    /// Prints times in `base` (`mono_to_wall_ns` maps them to wall time).
    pub fn set_time(&mut self, base: TimeBase, mono_to_wall_ns: i128) {
        self.time = base;
        self.mono_to_wall_ns = mono_to_wall_ns;
    }

    /// How this log prints times, from its first event on (the detail pane
    /// prints its times the same way).
    pub fn timeline(&self) -> Timeline {
        // Before the first event, relative times read +0.
        Timeline::new(
            self.time,
            self.origin_ns.unwrap_or(u64::MAX),
            self.mono_to_wall_ns,
        )
    }

    /// Adds `event` unless it is periodic bookkeeping (put counters).
    pub fn push(&mut self, event: &Event) {
        let origin_ns = *self.origin_ns.get_or_insert(event.ts_ns);
        let timeline = Timeline::new(self.time, origin_ns, self.mono_to_wall_ns);
        let Some(line) = describe(event, &timeline) else {
            return;
        };
        if self.lines.len() == LOG_CAPACITY {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// Lines, oldest first.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &String> {
        self.lines.iter()
    }
}

/// A kernel pointer shortened to its low 28 bits: enough to tell objects apart
/// on one screen, short enough for a log line.
fn ptr(p: u64) -> String {
    format!("~{:07x}", p & 0xfff_ffff)
}

/// `name=value` for every field of the body's JSON form.
fn fields(body: &EventBody) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(body) else {
        return String::new();
    };
    map.iter()
        .filter(|(k, _)| k.as_str() != "type")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One log line: `secs-since-boot comm[pid] kind details`. `None` for
/// events that are not worth a line (periodic put counters).
pub fn describe(event: &Event, timeline: &Timeline) -> Option<String> {
    let what = match &event.body {
        EventBody::PutStats(_) => return None,
        EventBody::PagemapCreate(PagemapCreate {
            pgmap,
            pfn_start,
            pfn_end,
            fs_dax,
            ret,
            ..
        }) => format!(
            "pgmap {} pfn {pfn_start:#x}-{pfn_end:#x}{}{}",
            ptr(*pgmap),
            if fs_dax.get() { " fsdax" } else { "" },
            if *ret != 0 {
                format!(" ret {ret}")
            } else {
                String::new()
            }
        ),
        EventBody::PagemapDestroy(PagemapDestroy { pgmap, .. }) => format!("pgmap {}", ptr(*pgmap)),
        EventBody::Claim(Claim {
            dax_dev,
            holder,
            disk,
            granted,
            ..
        }) => format!(
            "{disk} dax {} by {}{}",
            ptr(*dax_dev),
            ptr(*holder),
            if granted.get() { "" } else { " REFUSED" }
        ),
        EventBody::Release(Release {
            dax_dev, holder, ..
        }) => format!("dax {} by {}", ptr(*dax_dev), ptr(*holder)),
        EventBody::DaxAlloc(DaxAlloc { dax_dev, .. }) => format!("dax {}", ptr(*dax_dev)),
        EventBody::DaxKill(DaxKill {
            dax_dev, holder, ..
        }) => {
            format!("dax {} holder {}", ptr(*dax_dev), ptr(*holder))
        }
        EventBody::DaxAddHost(DaxAddHost { dax_dev, disk, .. }) => {
            format!("{disk} dax {}", ptr(*dax_dev))
        }
        EventBody::PageIdle(PageIdle { pfn, .. }) => format!("pfn {pfn:#x}"),
        EventBody::BusyPage(BusyPage {
            pfn,
            ino,
            refcount,
            index,
            ..
        }) => match index.get() {
            Some(pgoff) => format!("pfn {pfn:#x} ino {ino} pgoff {pgoff} ref {refcount}"),
            None => format!("pfn {pfn:#x} ino {ino} ref {refcount}"),
        },
        EventBody::WaitBegin(WaitBegin { ino, dev, .. }) => format!("ino {ino} on {dev}"),
        EventBody::WaitEnd(WaitEnd {
            ino,
            dev,
            latency_ns,
            ..
        }) => format!("ino {ino} on {dev} after {}", duration(*latency_ns)),
        EventBody::DmAccess(DmAccess {
            dm_dax_dev,
            member_dax_dev,
            nr_pages,
            ..
        }) => format!(
            "{} -> {} {nr_pages} pages",
            ptr(*dm_dax_dev),
            ptr(*member_dax_dev)
        ),
        EventBody::DmTableDax(DmTableDax { table, capable, .. }) => format!(
            "table {}{}",
            ptr(*table),
            if capable.get() {
                " dax-capable"
            } else {
                " not dax-capable"
            }
        ),
        EventBody::DmMember(DmMember {
            disk, bdev, taken, ..
        }) => format!(
            "{disk} ({bdev}){}",
            if taken.get() { " taken" } else { " put" }
        ),
        EventBody::Fault(Fault {
            dev,
            ino,
            pgoff,
            pmd,
            ..
        }) => format!(
            "{dev} ino {ino} pgoff {pgoff}{}",
            if pmd.get() { " pmd" } else { "" }
        ),
        EventBody::FaultCounts(FaultCounts {
            dev,
            pmd,
            result,
            count,
            ..
        }) => format!(
            "{dev} {count} {} faults result {result:#x}",
            if pmd.get() { "pmd" } else { "pte" }
        ),
        EventBody::MemoryFailure(MemoryFailure {
            pfn,
            mf_type,
            result,
            ..
        }) => format!("pfn {pfn:#x} type {mf_type} result {result}"),
        EventBody::HolderNotifyFailure(HolderNotifyFailure {
            dax_dev,
            offset,
            len,
            ..
        }) => format!("dax {} off {offset} len {len}", ptr(*dax_dev)),
        EventBody::StuckWait(StuckWait {
            pfn,
            ino,
            waiter_tid,
            wait_begin_ns,
            ..
        }) => format!(
            "pfn {pfn:#x} ino {ino} tid {waiter_tid} waiting for {}",
            duration(event.ts_ns.saturating_sub(*wait_begin_ns))
        ),
        EventBody::BlockedWait(BlockedWait {
            pfn,
            ino,
            waiter_tid,
            wait_begin_ns,
            ..
        }) => format!(
            "pfn {pfn:#x} ino {ino} tid {waiter_tid} evicting, blocked for {} on a busy page",
            duration(event.ts_ns.saturating_sub(*wait_begin_ns))
        ),
        EventBody::PageOrphaned(PageOrphaned {
            pfn, ino, refcount, ..
        }) => format!("pfn {pfn:#x} ino {ino} let go while busy (refcount {refcount})"),
        EventBody::OrphanIdle(OrphanIdle {
            pfn, orphaned_ns, ..
        }) => format!(
            "pfn {pfn:#x} idle {} after its file let it go",
            duration(event.ts_ns.saturating_sub(*orphaned_ns))
        ),
        EventBody::Drops(Drops { point, total, .. }) => format!("point {point} total {total}"),
        EventBody::PinOwner(PinOwner {
            pfn,
            since_ns,
            refs,
            ..
        }) => format!(
            "pfn {pfn:#x} held {} ({refs} ref) via {}",
            duration(event.ts_ns.saturating_sub(*since_ns)),
            crate::collector::entry_name(event.point)
        ),
        EventBody::PinRelease(PinRelease {
            pfn,
            owner_tid,
            by_idle,
            ..
        }) => format!(
            "pfn {pfn:#x} of tid {owner_tid}{}",
            if by_idle.get() { " (page idle)" } else { "" }
        ),
        EventBody::RefusedPin(RefusedPin { nr_pages, path, .. }) => format!(
            "{nr_pages} pages of {} (long-term pin refused)",
            if path.is_empty() { "?" } else { path.as_str() }
        ),
        // The state at start reads as words (`event_log_state`); a kind
        // this log has not learnt yet shows its fields, so a new kind needs
        // no line here.
        #[allow(unreachable_patterns)]
        other => crate::tui::model::event_log_state::line(other).unwrap_or_else(|| fields(other)),
    };
    Some(format!(
        "{} {} {} {what}",
        timeline.at(event.ts_ns),
        task(event.comm, event.pid, event.tid),
        event.body.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Dev, PutStats, WaitApi};

    fn event(ts_ns: u64, body: EventBody) -> Event {
        Event {
            ts_ns,
            cpu: 0,
            pid: 42,
            tid: 42,
            comm: "truncate".into(),
            point: 0,
            body,
        }
    }

    #[test]
    fn a_wait_end_line_names_time_process_inode_and_latency() {
        let line = describe(
            &event(
                12_000_345_678,
                EventBody::WaitEnd(WaitEnd {
                    inode: 1,
                    ino: 13,
                    dev: Dev::new(259, 0),
                    api: WaitApi::Ext4BreakLayouts.into(),
                    latency_ns: 3_400_000,
                    ret: 0,
                    busy_pfn: None.into(),
                    busy_hits: 0,
                }),
            ),
            &Timeline::new(TimeBase::Mono, 0, 0),
        );
        assert_eq!(
            line.as_deref(),
            Some("12.000345s truncate[42] wait-end ino 13 on 259:0 after 3.4ms")
        );
    }

    #[test]
    fn any_body_can_be_shown_by_its_fields() {
        let body = crate::event::DaxAlloc {
            dax_dev: 1,
            private: 2,
        };
        assert_eq!(fields(&body.into()), "dax_dev=1 private=2");
    }

    #[test]
    fn put_counters_stay_out_of_the_log() {
        let mut log = EventLog::default();
        log.push(&event(
            1,
            EventBody::PutStats(PutStats {
                pgmap: 1,
                puts: 2,
                idles: 3,
            }),
        ));
        assert_eq!(log.lines().len(), 0);
    }

    #[test]
    fn counted_faults_read_as_their_number_size_and_result() {
        let mut log = EventLog::default();
        log.push(&event(
            1,
            EventBody::FaultCounts(FaultCounts {
                dev: crate::event::Dev::new(259, 0),
                pmd: true.into(),
                result: 0x100,
                _pad: 0,
                count: 812,
            }),
        ));
        let line = log.lines().next().cloned().unwrap_or_default();
        assert!(
            line.ends_with("fault-counts 259:0 812 pmd faults result 0x100"),
            "{line}"
        );
    }

    #[test]
    fn the_log_keeps_only_the_newest_lines() {
        let mut log = EventLog::default();
        for i in 0..(LOG_CAPACITY as u64 + 10) {
            log.push(&event(
                i * 1_000,
                EventBody::PageIdle(PageIdle {
                    pgmap: 1,
                    pfn: i,
                    page: 0,
                    refcount: 1,
                }),
            ));
        }
        assert_eq!(log.lines().len(), LOG_CAPACITY);
        let first = log.lines().next().cloned().unwrap_or_default();
        assert!(first.ends_with("pfn 0xa"), "{first}");
    }
}
