//! Keeping the state true while running: mounts, whether DAX is in
//! effect on them, and dm tables are re-read and their changes sent as
//! updates (a `StateEnd` with reason 1 closes each batch of changes), and the threads found asleep at attach are
//! watched until they wake. A waiter whose page is idle by the kernel's rule
//! for `stuck_after` while it still sleeps is a lost wakeup: a `StuckWait`
//! is sent for it, as the kernel-side scan does for waits it saw begin (it
//! cannot see these: their break-layouts call began before the probes).
use std::collections::HashMap;
use std::time::Duration;

use dax_trace_common::Config;

use super::daxmode;
use super::disks;
use super::kmem::KernelMemory;
use super::mountinfo::{self, Mount};
use super::page::PageSpace;
use super::pagemap::PagemapFound;
use super::reading::{self, Kernel, Reading};
use super::sysfs::{BlockDevice, Sysfs};
use super::waits::{self, Sleeper};
use crate::event::{BlockedWait, Event, StateDmTarget, StateEnd, StuckWait};
use crate::resolve::state_layout::StateLayout;

/// A waiter found at attach, being watched.
#[derive(Clone, Debug)]
struct Watched {
    sleeper: Sleeper,
    /// When its wait began at the latest (attach minus the time it had slept).
    began_ns: u64,
    idle_since_ns: Option<u64>,
    reported: bool,
    /// A `BlockedWait` was sent (uninterruptible, page still busy).
    blocked_reported: bool,
}

/// Watches what a reading found.
pub struct Tracker {
    mem: Box<dyn KernelMemory + Send>,
    layout: StateLayout,
    config: Config,
    sysfs: Sysfs,
    pagemaps: Vec<PagemapFound>,
    dax_disks: Vec<String>,
    mounts: Vec<(Mount, String)>,
    dm_targets: Vec<StateDmTarget>,
    watched: HashMap<u32, Watched>,
    stuck_after_ns: u64,
    ticks: u64,
    /// Tells when mounts changed (None: mountinfo could not be opened, and
    /// mounts are read every slow tick).
    mounts_watch: Option<mountinfo::ChangeWatch>,
    /// A kernel event that can change dm tables or DAX mounts (a claim, a
    /// release, a dm table, a dax_device's birth or death) came since the
    /// tables were last read.
    topology_moved: bool,
    /// Whether DAX is in effect per mount, as last sent.
    dax_modes: daxmode::Answers,
}

/// How often the tracker should be ticked (waits are checked every tick,
/// mounts and dm tables every [`SLOW_EVERY`] ticks).
pub const TICK: Duration = Duration::from_millis(250);
const SLOW_EVERY: u64 = 4;
/// Mounts and dm tables are re-read only when something says they may
/// have changed (mountinfo's POLLPRI, a claim, release or dm event), and
/// every this many ticks regardless: each read walks sysfs for every block
/// device, which cost a one-vCPU machine about 1% of its instructions
/// when it ran every second.
const FULL_EVERY: u64 = 120;

impl Tracker {
    /// Takes over the reader and what `snap` (read at `ts`) found.
    pub fn new(
        mem: Box<dyn KernelMemory + Send>,
        layout: StateLayout,
        config: Config,
        sysfs: Sysfs,
        snap: &Reading,
    ) -> Self {
        let ts = snap
            .events
            .first()
            .map_or_else(crate::clock::monotonic_ns, |e| e.ts_ns);
        let mut t = Self {
            mem,
            layout,
            stuck_after_ns: config.stuck_after_ns,
            config,
            sysfs,
            pagemaps: snap.pagemaps.clone(),
            dax_disks: snap
                .events
                .iter()
                .filter_map(|e| match &e.body {
                    crate::event::EventBody::StateDaxDevice(d) if !d.disk.is_empty() => {
                        Some(d.disk.as_str().to_string())
                    }
                    _ => None,
                })
                .collect(),
            mounts: Vec::new(),
            dm_targets: snap.dm_targets.clone(),
            watched: HashMap::new(),
            ticks: 0,
            mounts_watch: mountinfo::ChangeWatch::open().ok(),
            topology_moved: false,
            dax_modes: daxmode::Answers::default(),
        };
        t.mounts = t.current_mounts();
        for e in &snap.events {
            t.dax_modes.note(e);
        }
        for e in &snap.events {
            if let crate::event::EventBody::StateWait(w) = &e.body
                && let Some(s) = snap.sleepers.iter().find(|s| s.tid == w.waiter_tid)
            {
                t.watched.insert(
                    s.tid,
                    Watched {
                        sleeper: s.clone(),
                        began_ns: ts.saturating_sub(w.slept_ns),
                        idle_since_ns: w.idle.get().then_some(ts),
                        reported: false,
                        blocked_reported: false,
                    },
                );
            }
        }
        t
    }

    /// Waiters found at attach still being watched.
    pub fn watching(&self) -> usize {
        self.watched.len()
    }

    fn kernel(&self) -> Kernel<'_> {
        Kernel {
            mem: self.mem.as_ref(),
            layout: &self.layout,
            config: &self.config,
        }
    }

    fn disks(&self) -> Vec<BlockDevice> {
        self.sysfs.block_devices()
    }

    fn current_mounts(&self) -> Vec<(Mount, String)> {
        let disks = self.disks();
        let by_name: HashMap<&str, &BlockDevice> =
            disks.iter().map(|d| (d.name.as_str(), d)).collect();
        match mountinfo::read() {
            Ok(all) => disks::dax_mounts(&self.sysfs, &by_name, &self.dax_disks, all),
            Err(_) => self.mounts.clone(),
        }
    }

    /// Notes the kernel's events: those that can change dm tables or DAX
    /// mounts make the next slow tick read them again.
    pub fn note(&mut self, events: &[Event]) {
        use crate::event::EventBody as B;
        self.topology_moved |= events.iter().any(|e| {
            matches!(
                e.body,
                B::Claim(_)
                    | B::Release(_)
                    | B::DaxAlloc(_)
                    | B::DaxKill(_)
                    | B::DaxAddHost(_)
                    | B::DmTableDax(_)
                    | B::DmMember(_)
                    | B::PagemapCreate(_)
                    | B::PagemapDestroy(_)
            )
        });
    }

    /// Sends what changed since the last tick.
    pub fn tick(&mut self, out: &mut Vec<Event>) {
        self.ticks += 1;
        let now = crate::clock::monotonic_ns();
        if !self.watched.is_empty() {
            self.check_waiters(now, out);
        }
        if self.ticks.is_multiple_of(SLOW_EVERY) {
            let full = self.ticks.is_multiple_of(FULL_EVERY);
            let mounts_moved = self.mounts_watch.as_mut().is_none_or(|w| w.changed());
            let before = out.len();
            if full || mounts_moved {
                self.update_mounts(now, out);
            }
            let mounts = (out.len() - before) as u32;
            let resample = full || mounts_moved || self.topology_moved;
            if resample {
                self.topology_moved = false;
                self.update_dm(now, out);
            }
            let dm_targets = (out.len() - before) as u32 - mounts;
            // A mount made while tracing is empty at first: sampled again
            // every slow tick until it has a regular file.
            let dax_modes = if resample || self.dax_modes.pending() {
                self.dax_modes.update(now, &self.mounts, out)
            } else {
                0
            };
            if mounts + dm_targets + dax_modes > 0 {
                let end = StateEnd {
                    reason: 1,
                    available: 0,
                    mounts,
                    dm_targets,
                    ..StateEnd::default()
                };
                out.push(Event::own(now, end.into()));
            }
        }
    }

    fn update_mounts(&mut self, now: u64, out: &mut Vec<Event>) {
        let current = self.current_mounts();
        for (m, disk) in &current {
            if !self.mounts.iter().any(|(old, _)| old.dev == m.dev) {
                out.push(disks::mount_event(now, m, disk, true));
            }
        }
        for (m, disk) in &self.mounts {
            if !current.iter().any(|(new, _)| new.dev == m.dev) {
                out.push(disks::mount_event(now, m, disk, false));
            }
        }
        self.mounts = current;
    }

    fn update_dm(&mut self, now: u64, out: &mut Vec<Event>) {
        let disks = self.disks();
        let by_name: HashMap<&str, &BlockDevice> =
            disks.iter().map(|d| (d.name.as_str(), d)).collect();
        let mut problems = Vec::new();
        let current = disks::dm_targets(&disks, &by_name, &mut problems);
        if !problems.is_empty() {
            // A table that cannot be read now (serve drops CAP_SYS_ADMIN, which
            // the dm ioctl needs) is no change: keep what was known.
            return;
        }
        let key = |t: &StateDmTarget| (t.dm, t.member, t.start_sector);
        for t in &current {
            if !self.dm_targets.iter().any(|o| key(o) == key(t)) {
                out.push(Event::own(now, (*t).into()));
            }
        }
        for t in &self.dm_targets {
            if !current.iter().any(|n| key(n) == key(t)) {
                let mut gone = *t;
                gone.present = crate::event::Flag::new(false);
                out.push(Event::own(now, gone.into()));
            }
        }
        self.dm_targets = current;
    }

    fn check_waiters(&mut self, now: u64, out: &mut Vec<Event>) {
        let (Some(w), Ok(space)) = (
            self.layout.waits.clone(),
            PageSpace::read(self.mem.as_ref(), &self.config),
        ) else {
            return;
        };
        let Ok(found) = waits::scan(self.mem.as_ref(), &w, &space, &self.pagemaps) else {
            return;
        };
        let tids: Vec<u32> = self.watched.keys().copied().collect();
        for tid in tids {
            let now_on = found.iter().find(|s| s.tid == tid).cloned();
            let Some(mut watched) = self.watched.remove(&tid) else {
                continue;
            };
            match now_on {
                None => {
                    out.push(reading::wait_event(
                        &self.kernel(),
                        now,
                        &watched.sleeper,
                        true,
                    ));
                }
                Some(s) => {
                    if s.page != watched.sleeper.page {
                        // The same wait moved on to its next busy page.
                        watched.sleeper = s;
                        watched.idle_since_ns = None;
                        watched.reported = false;
                        out.push(reading::wait_event(
                            &self.kernel(),
                            now,
                            &watched.sleeper,
                            false,
                        ));
                    }
                    self.judge(&mut watched, now, out);
                    self.watched.insert(tid, watched);
                }
            }
        }
    }

    /// Reports an uninterruptible (eviction) waiter whose page is still
    /// busy past the threshold: it hangs until the holder lets go.
    fn judge_blocked(&self, w: &mut Watched, refcount: i32, now: u64, out: &mut Vec<Event>) {
        if !w.sleeper.uninterruptible
            || w.blocked_reported
            || now.saturating_sub(w.began_ns) < self.stuck_after_ns
        {
            return;
        }
        w.blocked_reported = true;
        let s = self.waiter_report(w, refcount);
        let body = BlockedWait {
            page: s.page,
            pfn: s.pfn,
            refcount: s.refcount,
            wait_begin_ns: s.wait_begin_ns,
            ino: s.ino,
            dev: s.dev,
            waiter_tid: s.waiter_tid,
            pgmap: s.pgmap,
        };
        out.push(Event::of_task(
            now,
            w.sleeper.tid,
            &w.sleeper.comm,
            body.into(),
        ));
    }

    /// What the scanner says of a watched waiter (its page, file, count and
    /// since when), as a lost wakeup reads; a blocked wait carries the same.
    fn waiter_report(&self, w: &Watched, refcount: i32) -> StuckWait {
        let file = super::page::page_file(self.mem.as_ref(), w.sleeper.page, &self.config)
            .unwrap_or_default();
        StuckWait {
            page: w.sleeper.page,
            pfn: w.sleeper.pfn,
            refcount: refcount.max(0) as u64,
            wait_begin_ns: w.began_ns,
            ino: file.ino,
            dev: file.dev,
            waiter_tid: w.sleeper.tid,
            pgmap: w.sleeper.pgmap,
        }
    }

    /// Reports a waiter whose page stayed idle past the threshold.
    fn judge(&self, w: &mut Watched, now: u64, out: &mut Vec<Event>) {
        let c = &self.config;
        let page = w.sleeper.page;
        let Ok(refcount) = self.mem.i32_at(page + c.page_refcount_off as u64) else {
            return;
        };
        let mapcount = self
            .layout
            .page
            .as_ref()
            .and_then(|p| self.mem.i32_at(page + p.mapcount as u64).ok())
            .map_or(0, |m| m as i64 + 1);
        if !reading::page_is_idle(refcount as i64, mapcount, c.idle_refcount) {
            w.idle_since_ns = None;
            self.judge_blocked(w, refcount, now, out);
            return;
        }
        let since = *w.idle_since_ns.get_or_insert(now);
        if w.reported || now.saturating_sub(since) < self.stuck_after_ns {
            return;
        }
        w.reported = true;
        let body = self.waiter_report(w, refcount);
        out.push(Event::of_task(
            now,
            w.sleeper.tid,
            &w.sleeper.comm,
            body.into(),
        ));
    }
}
