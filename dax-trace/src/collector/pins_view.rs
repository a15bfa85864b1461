//! Views of page owners for the front ends: the serializable
//! [`PinsSummary`] that `report` prints, and the human phrases that name an
//! owner ("pinned 3.200 s by tid 585 (fio) via pin_user_pages_fast <- ...")
//! shared by report, check and top. Stacks are resolved here, at rendering,
//! from an optional [`StackTable`]: folding never needs them.
use super::Collector;
use super::pins::{Ownership, PinOwnerRecord, RefusedPinGroup};
use crate::comm::Comm;
use crate::event::Dev;
use crate::human::duration;
use crate::stacks::StackTable;
use dax_trace_common::field::StackId;
use dax_trace_common::payload::path_from;
use dax_trace_common::probe::{POINTS, gup_shape, idx};
use serde::{Deserialize, Serialize};

/// Frames of a stack summary in one-line phrases.
pub const SUMMARY_FRAMES: usize = 3;

/// Owners named at most in one phrase.
const OWNERS_NAMED: usize = 3;

/// A page busy at the end of the trace, with who holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyPageOwners {
    pub pgmap: u64,
    pub pfn: u64,
    pub ino: u64,
    /// The page's index in its file, when told.
    pub index: Option<u64>,
    pub dev: Dev,
    /// When it was first reported busy.
    pub busy_ns: u64,
    pub owners: Ownership,
}

/// A stuck wait and who held its page when it was reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StuckWaitOwners {
    pub pfn: u64,
    pub ino: u64,
    pub waiter_tid: u32,
    /// The waiter's comm, when known.
    pub waiter_comm: Option<Comm>,
    /// The waiter's process, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiter_pid: Option<u32>,
    pub wait_begin_ns: u64,
    pub reported_ns: u64,
    pub owners: Ownership,
}

/// Closed owners listed at most in a summary.
const RECENT_OWNERS: usize = 32;

/// Page owners and refused long-term pins, for `report`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinsSummary {
    /// The trace reports owners at all (see [`Ownership::NotTraced`]).
    pub traced: bool,
    /// Owner reports (`pin-owner` events) and releases seen.
    pub owners_reported: u64,
    pub releases: u64,
    /// Owners still holding a page at the end, by pfn.
    pub open_owners: Vec<PinOwnerRecord>,
    /// Pages busy at the end and their owners, lowest pfn first.
    pub busy_pages: Vec<BusyPageOwners>,
    /// Owners that released their page during the trace (the newest ones
    /// kept per page), in release order.
    pub released_owners: Vec<PinOwnerRecord>,
    /// Stuck waits (the examples kept) and who held their page.
    pub stuck_waits: Vec<StuckWaitOwners>,
    /// Refused long-term pins per (pid, file).
    pub refused: Vec<RefusedPinGroup>,
    pub refused_total: u64,
}

impl PinsSummary {
    /// Nothing to tell: no pin kind in the trace and no page busy at start
    /// among the pages listed.
    pub fn is_empty(&self) -> bool {
        !self.traced
            && self.busy_pages.iter().all(|b| !b.owners.is_told())
            && self.stuck_waits.is_empty()
    }

    /// Every stack id the summary names, ascending, once each.
    pub fn stack_ids(&self) -> Vec<StackId> {
        let named = |o: &Ownership| match o {
            Ownership::Owners { owners } => owners.clone(),
            _ => Vec::new(),
        };
        let owners: Vec<PinOwnerRecord> = self
            .busy_pages
            .iter()
            .flat_map(|b| named(&b.owners))
            .chain(self.stuck_waits.iter().flat_map(|s| named(&s.owners)))
            .collect();
        let mut ids: Vec<StackId> = self
            .open_owners
            .iter()
            .chain(&self.released_owners)
            .chain(&owners)
            .map(|o| o.stack)
            .chain(self.refused.iter().map(|r| r.stack))
            .filter(|s| !s.is_none())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

impl Collector {
    /// Owners, busy pages with their owners, refused pins.
    pub fn pins_summary(&self) -> PinsSummary {
        let mut busy_pages: Vec<BusyPageOwners> = self
            .pagemaps
            .values()
            .flat_map(|p| p.busy.values().map(move |b| (p.identity.pgmap, b)))
            .map(|(pgmap, b)| BusyPageOwners {
                pgmap,
                pfn: b.pfn,
                ino: b.ino,
                index: b.index,
                dev: b.dev,
                busy_ns: b.since_ns,
                owners: self.ownership(b.pfn),
            })
            .collect();
        busy_pages.sort_by_key(|b| b.pfn);
        let pins = self.pins();
        let mut released_owners: Vec<PinOwnerRecord> =
            pins.closed_owners().into_iter().cloned().collect();
        let drop = released_owners.len().saturating_sub(RECENT_OWNERS);
        released_owners.drain(..drop);
        let stuck_waits = self
            .findings
            .stuck_waits
            .examples
            .iter()
            .filter(|s| s.owners.is_told())
            .map(|s| StuckWaitOwners {
                pfn: s.pfn,
                ino: s.ino,
                waiter_tid: s.waiter_tid,
                waiter_comm: s.waiter.as_ref().map(|a| a.comm),
                waiter_pid: s.waiter.as_ref().map(|a| a.pid),
                wait_begin_ns: s.wait_begin_ns,
                reported_ns: s.reported_ns,
                owners: s.owners.clone(),
            })
            .collect();
        PinsSummary {
            traced: pins.is_traced(),
            owners_reported: pins.owners_reported,
            releases: pins.releases,
            open_owners: pins.open_owners().into_iter().cloned().collect(),
            busy_pages,
            released_owners,
            stuck_waits,
            refused: pins.refused().to_vec(),
            refused_total: pins.refused_total(),
        }
    }
}

/// `pin_user_pages_fast <- iov_iter_extract_pages <- ... [ext4]`: the entry
/// point, then the next few frames of the stack when the table has it, and
/// the modules the whole stack passes through.
/// Before 6.15 pins are seen inside gup (`get_dev_pagemap`,
/// `__gup_longterm_locked`): the entry point is then the innermost exported
/// gup function of the stack, and the frames below it are gup's own.
pub fn via(entry: &str, stack: StackId, stacks: Option<&StackTable>) -> String {
    let Some(s) = stacks.and_then(|t| t.get(stack)) else {
        return entry.to_string();
    };
    let gup_entry = s
        .frames
        .iter()
        .position(|f| is_gup_entry_point(f.name()))
        .filter(|_| !is_gup_entry_point(entry));
    let (entry, skip) = match gup_entry {
        Some(i) => (s.frames[i].name(), i + 1),
        // The entry point is usually the innermost frame itself.
        None => (
            entry,
            usize::from(s.frames.first().is_some_and(|f| f.name() == entry)),
        ),
    };
    let rest = &s.frames[skip..];
    let mut out = entry.to_string();
    for f in rest.iter().take(SUMMARY_FRAMES) {
        out.push_str(" <- ");
        out.push_str(f.name());
    }
    if rest.len() > SUMMARY_FRAMES {
        out.push_str(" ...");
    }
    let modules = s.modules();
    if !modules.is_empty() {
        out.push_str(&format!(" [{}]", modules.join(", ")));
    }
    out
}

/// One of the exported gup functions daxtrace hooks from 6.15.
fn is_gup_entry_point(name: &str) -> bool {
    POINTS.iter().enumerate().any(|(i, p)| {
        p.target == name && gup_shape(i as u16).is_some() && i as u16 != idx::GUP_LONGTERM_LOCKED
    })
}

/// `fs_dax_get_by_bdev <- ext4_fill_super <- ... [ext4]`: the innermost
/// frames of a stack and its modules, when the table has it.
pub fn stack_summary(stack: StackId, stacks: Option<&StackTable>) -> Option<String> {
    let s = stacks?.get(stack)?;
    let mut out = s.summary(SUMMARY_FRAMES + 1);
    let modules = s.modules();
    if !modules.is_empty() {
        out.push_str(&format!(" [{}]", modules.join(", ")));
    }
    Some(out)
}

/// One owner as of `at_ns`: `pinned 3.200 s by fio[580/585] via ...` when
/// it holds the page, `pinned by fio[580/585] via ..., released 1.000 s
/// before` when it no longer does.
pub fn owner_phrase(o: &PinOwnerRecord, at_ns: u64, stacks: Option<&StackTable>) -> String {
    // "pinned" for FOLL_GET references too: either keeps the page busy.
    let how = "pinned";
    let who = crate::human::time::task(o.comm, o.pid, o.tid);
    let via = via(&o.entry, o.stack, stacks);
    match &o.released {
        Some(r) if r.ts_ns <= at_ns => format!(
            "{how} by {who} via {via} for {}, released {} before{}",
            duration(r.ts_ns.saturating_sub(o.since_ns)),
            duration(at_ns - r.ts_ns),
            if r.by_idle { " (page went idle)" } else { "" },
        ),
        _ => format!(
            "{how} {} by {who} via {via}",
            duration(at_ns.saturating_sub(o.since_ns))
        ),
    }
}

/// Who holds a page, in words, as of `at_ns`.
pub fn ownership_phrase(own: &Ownership, at_ns: u64, stacks: Option<&StackTable>) -> String {
    match own {
        Ownership::Owners { owners } => {
            let mut s = owners
                .iter()
                .take(OWNERS_NAMED)
                .map(|o| owner_phrase(o, at_ns, stacks))
                .collect::<Vec<_>>()
                .join("; ");
            if owners.len() > OWNERS_NAMED {
                s.push_str(&format!(" and {} more", owners.len() - OWNERS_NAMED));
            }
            s
        }
        Ownership::PinnedBeforeAttach => "pinned before attach".to_string(),
        Ownership::Unknown => {
            "owner unknown (not pinned through a traced gup entry point since attach)".to_string()
        }
        Ownership::NotTraced => "owner not traced".to_string(),
    }
}

/// `pfn 0x48200 ino 12 pgoff 0 pinned 3.200 s by tid 585 (fio) via ...`.
pub fn busy_page_line(b: &BusyPageOwners, stacks: Option<&StackTable>) -> String {
    let pgoff = b.index.map(|i| format!(" pgoff {i}")).unwrap_or_default();
    let mut line = format!("pfn {:#x} ino {}{pgoff}", b.pfn, b.ino);
    if b.owners.is_told() {
        line.push(' ');
        line.push_str(&ownership_phrase(&b.owners, b.busy_ns, stacks));
    }
    line
}

/// The file a refused pin asked for: its full path, else what the kernel
/// named (its path inside the filesystem, on its device), else "memory of
/// an unknown file"; with its inode and device when the kernel read them.
pub fn refused_file(r: &RefusedPinGroup) -> String {
    let named = r.ino != 0 || r.dev.0 != 0;
    let inode = || format!("inode {} on {}", r.ino, r.dev);
    if r.path.is_empty() {
        return if named {
            format!("the file of {}", inode())
        } else {
            "memory of an unknown file".to_string()
        };
    }
    match r.path_from {
        path_from::FS_ROOT => format!(
            "{} in the filesystem on {} (inode {})",
            r.path, r.dev, r.ino
        ),
        path_from::TAIL => format!(
            "…{} in the filesystem on {} (inode {})",
            r.path, r.dev, r.ino
        ),
        _ if named => format!("{} ({})", r.path, inode()),
        _ => r.path.clone(),
    }
}

/// `pid 612 (fio_uring) asked 4 times to pin 16 pages of /mnt/pmem0/f
/// (inode 14 on 259:0) long term via pin_user_pages_fast: refused
/// (EOPNOTSUPP on FS-DAX)`.
pub fn refused_line(r: &RefusedPinGroup, stacks: Option<&StackTable>) -> String {
    let file = refused_file(r);
    let times = if r.count == 1 {
        "once".to_string()
    } else {
        format!("{} times", r.count)
    };
    let errno = if r.ret == -95 {
        "EOPNOTSUPP".to_string()
    } else {
        format!("error {}", r.ret)
    };
    format!(
        "{} asked {times} to pin {} page{} of {file} long term via {}: refused ({errno}, FS-DAX memory cannot be pinned long term)",
        crate::human::time::task(r.comm, r.pid, r.pid),
        r.nr_pages,
        if r.nr_pages == 1 { "" } else { "s" },
        via(&r.entry, r.stack, stacks),
    )
}
