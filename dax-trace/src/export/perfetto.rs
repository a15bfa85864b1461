//! A Chrome JSON trace (the `traceEvents` format) that ui.perfetto.dev and
//! chrome://tracing open.
//!
//! Tracks ("processes" and "threads" of the format, named by `M` metadata
//! events):
//! - one process per dax_device (`pmem0 dax_dev 0x…`), one thread per holder
//!   in it: a slice per claim, from the claim to its release (`B`/`E`);
//!   claims never released stay open to the end of the trace, which is what a
//!   leak looks like. Also on it: a `device-mapper` thread with a slice while
//!   a dm table holds the device as a member, a `dm pages` counter (pages a
//!   dm device mapped to each member, when the device is a dm device),
//!   `kill_dax` and memory failures notified to the holder (instants);
//! - one process per dev_pagemap: the `busy pages` counter (`C`: pages
//!   reported busy by `dax_layout_busy_page*` and not idle since), the
//!   kernel's cumulative `page puts` and idles, and instants for its
//!   creation and destruction;
//! - one process per filesystem device (`fs 259:0`): a thread per waiting
//!   task with a slice per wait (wait begin to wait end), stuck waits as
//!   instants on the waiter, and a `faults` counter (`perfetto/faults.rs`);
//! - a `device-mapper` process with an instant per dm table load that checked
//!   whether the table is DAX-capable;
//! - a `daxtrace` process with the `dropped events` counter and memory
//!   failures (a pfn only);
//! - the state at start (`perfetto/state.rs`): claims held since before the
//!   trace and waits found at attach as slices, the rest as instants;
//! - one process per pinning process (`perfetto/pins.rs`): an async slice
//!   per page owner from when it took the page to its release (or the end of
//!   the trace), with the entry point and stack, and refused long-term pins
//!   as instants on the asking thread.
//!
//! Timestamps are CLOCK_MONOTONIC microseconds (or, with `--time`, since
//! the first event or the Unix epoch) with nanosecond decimals,
//! written as exact decimal text (a float would round large uptimes); in
//! `args`, addresses and devices are strings ([`crate::json`]).
use crate::event::{
    BusyPage, DaxAddHost, DaxKill, DmAccess, DmMember, DmTableDax, Drops, Fault, FaultCounts,
    HolderNotifyFailure, MemoryFailure, PageIdle, PagemapCreate, PagemapDestroy, PutStats,
    StuckWait, WaitBegin, WaitEnd,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use serde_json::{Value, json};

use super::Exporter;
use crate::event::{Dev, Event, EventBody};
use crate::human::time::TimeBase;
use crate::trace::Header;

mod claims;
mod faults;
mod flush;
mod orphans;
mod pins;
mod state;

/// The track of one kind of thing, keyed by its identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ProcessKey {
    DaxDevice(u64),
    Pagemap(u64),
    Filesystem(Dev),
    DeviceMapper,
    Daxtrace,
    /// A process that pinned pages (by its pid).
    Pinner(u32),
}

/// Thread identity of the `device-mapper` track inside a dax_device process
/// (holders are kernel pointers, never all ones).
const DM_TRACK: u64 = u64::MAX;

/// Streams trace events; remembers only open claims, busy pages and track ids.
pub struct ChromeTrace<W: Write> {
    out: W,
    first: bool,
    pids: HashMap<ProcessKey, u32>,
    /// (process, thread identity) -> tid.
    tids: HashMap<(u32, u64), u32>,
    /// Disk names learned from dax_add_host and claims, by dax_dev.
    disks: HashMap<u64, String>,
    /// Holders with an open claim, by dax_dev, oldest first.
    open_claims: HashMap<u64, Vec<u64>>,
    busy: HashMap<u64, HashSet<u64>>,
    faults: HashMap<Dev, u64>,
    drops: HashMap<u16, u64>,
    /// Open dm-member slices, by member dax_dev.
    dm_members: HashMap<u64, u32>,
    /// Pages each dm device mapped to each member, by dm dax_dev.
    dm_pages: HashMap<u64, BTreeMap<u64, u64>>,
    /// The state at start was read (its `state-end` seen): later state
    /// events are updates and add no held claims.
    state_read: bool,
    /// Pin slices open and the trace's stacks (`perfetto/pins.rs`).
    pins: pins::PinTracks,
    /// The clock `ts` counts (`export --time`): since boot by default.
    time: TimeBase,
    /// The first event's time (where `--time rel` starts).
    origin_ns: Option<u64>,
    mono_to_wall_ns: i128,
}

impl<W: Write> ChromeTrace<W> {
    /// Starts the JSON document; `header` goes into `otherData`. `ts`
    /// counts `time` (CLOCK_MONOTONIC, since the first event, or since the
    /// Unix epoch).
    pub fn new(mut out: W, header: &Header, time: TimeBase) -> std::io::Result<Self> {
        let clock = match time {
            TimeBase::Mono => "CLOCK_MONOTONIC",
            TimeBase::Rel => "CLOCK_MONOTONIC since the first event",
            TimeBase::Wall => "CLOCK_REALTIME (Unix epoch)",
        };
        let other = json!({
            "tool": "daxtrace",
            "tool_version": header.tool_version,
            "kernel_release": header.session.kernel_release,
            "command_line": header.command_line.join(" "),
            "clock": clock,
            "monotonic_to_realtime_ns": header.session.monotonic_to_realtime_ns.to_string(),
        });
        writeln!(
            out,
            "{{\"displayTimeUnit\":\"ns\",\"otherData\":{other},\"traceEvents\":["
        )?;
        Ok(Self {
            out,
            first: true,
            pids: HashMap::new(),
            tids: HashMap::new(),
            disks: HashMap::new(),
            open_claims: HashMap::new(),
            busy: HashMap::new(),
            faults: HashMap::new(),
            drops: HashMap::new(),
            dm_members: HashMap::new(),
            dm_pages: HashMap::new(),
            state_read: false,
            pins: pins::PinTracks::default(),
            time,
            origin_ns: None,
            mono_to_wall_ns: header.session.monotonic_to_realtime_ns,
        })
    }

    /// Writes one trace event object.
    fn emit(
        &mut self,
        ph: &str,
        name: &str,
        pid: u32,
        tid: u32,
        ts_ns: Option<u64>,
        args: Value,
    ) -> std::io::Result<()> {
        let sep = if self.first { "" } else { ",\n" };
        self.first = false;
        let name = Value::from(name);
        write!(
            self.out,
            "{sep}{{\"ph\":\"{ph}\",\"name\":{name},\"pid\":{pid},\"tid\":{tid}"
        )?;
        if let Some(ts) = ts_ns {
            let ts = self.on_clock(ts);
            write!(self.out, ",\"ts\":{}.{:03}", ts / 1000, ts % 1000)?;
        }
        if ph == "i" {
            write!(self.out, ",\"s\":\"t\"")?;
        }
        if !args.is_null() {
            let args = crate::json::exact(args);
            write!(self.out, ",\"args\":{args}")?;
        }
        write!(self.out, "}}")
    }

    /// `ts_ns` (CLOCK_MONOTONIC) on the output's clock, in nanoseconds.
    fn on_clock(&self, ts_ns: u64) -> i128 {
        match self.time {
            TimeBase::Mono => i128::from(ts_ns),
            TimeBase::Rel => i128::from(ts_ns.saturating_sub(self.origin_ns.unwrap_or(ts_ns))),
            TimeBase::Wall => i128::from(ts_ns) + self.mono_to_wall_ns,
        }
    }

    /// The pid of a process track, naming it on first use.
    fn pid(&mut self, key: ProcessKey) -> std::io::Result<u32> {
        if let Some(&pid) = self.pids.get(&key) {
            return Ok(pid);
        }
        let pid = self.pids.len() as u32 + 1;
        self.pids.insert(key, pid);
        let name = match key {
            ProcessKey::DaxDevice(d) => match self.disks.get(&d) {
                Some(disk) => format!("{disk} dax_dev {d:#x}"),
                None => format!("dax_dev {d:#x}"),
            },
            ProcessKey::Pagemap(p) => format!("pgmap {p:#x}"),
            ProcessKey::Filesystem(dev) => format!("fs {dev}"),
            ProcessKey::DeviceMapper => "device-mapper".to_string(),
            ProcessKey::Daxtrace => "daxtrace".to_string(),
            ProcessKey::Pinner(p) => self.pins.process_name(p),
        };
        self.emit("M", "process_name", pid, 0, None, json!({ "name": name }))?;
        Ok(pid)
    }

    /// The tid of a thread track inside `pid`, naming it on first use.
    fn tid(&mut self, pid: u32, id: u64, name: impl FnOnce() -> String) -> std::io::Result<u32> {
        if let Some(&tid) = self.tids.get(&(pid, id)) {
            return Ok(tid);
        }
        let tid = self.tids.len() as u32 + 1;
        self.tids.insert((pid, id), tid);
        self.emit(
            "M",
            "thread_name",
            pid,
            tid,
            None,
            json!({ "name": name() }),
        )?;
        Ok(tid)
    }

    fn busy_counter(&mut self, pgmap: u64, ts: u64) -> std::io::Result<()> {
        let pid = self.pid(ProcessKey::Pagemap(pgmap))?;
        let n = self.busy.get(&pgmap).map_or(0, HashSet::len);
        self.emit("C", "busy pages", pid, 0, Some(ts), json!({ "busy": n }))
    }

    fn instant(
        &mut self,
        key: ProcessKey,
        name: &str,
        ts: u64,
        args: Value,
    ) -> std::io::Result<()> {
        let pid = self.pid(key)?;
        self.emit("i", name, pid, 0, Some(ts), args)
    }

    /// The dax_device's name for counters and slices: its disk when known.
    fn dax_label(&self, dax_dev: u64) -> String {
        match self.disks.get(&dax_dev) {
            Some(disk) if !disk.is_empty() => disk.clone(),
            _ => format!("dax_dev {dax_dev:#x}"),
        }
    }

    fn dm_member(
        &mut self,
        e: &Event,
        member: u64,
        taken: bool,
        disk: &str,
    ) -> std::io::Result<()> {
        if !disk.is_empty() {
            self.disks.entry(member).or_insert_with(|| disk.to_string());
        }
        let pid = self.pid(ProcessKey::DaxDevice(member))?;
        let tid = self.tid(pid, DM_TRACK, || "device-mapper".to_string())?;
        let who = json!({ "pid": e.pid, "tid": e.tid, "comm": e.comm });
        let open = self.dm_members.entry(member).or_default();
        if taken {
            *open += 1;
            let name = format!("dm member {}", self.dax_label(member));
            self.emit("B", &name, pid, tid, Some(e.ts_ns), json!({ "by": who }))
        } else if *open > 0 {
            *open -= 1;
            self.emit("E", "", pid, tid, Some(e.ts_ns), json!({ "by": who }))
        } else {
            self.emit(
                "i",
                "dm member dropped (taken before the trace)",
                pid,
                tid,
                Some(e.ts_ns),
                json!({ "by": who }),
            )
        }
    }

    fn dm_access(&mut self, ts: u64, dm: u64, member: u64, pages: u64) -> std::io::Result<()> {
        *self
            .dm_pages
            .entry(dm)
            .or_default()
            .entry(member)
            .or_default() += pages;
        let mut series = serde_json::Map::new();
        for (&m, &n) in self.dm_pages.get(&dm).into_iter().flatten() {
            series.insert(format!("to {}", self.dax_label(m)), Value::from(n));
        }
        let pid = self.pid(ProcessKey::DaxDevice(dm))?;
        self.emit("C", "dm pages", pid, 0, Some(ts), Value::Object(series))
    }
}

fn holder_name(holder: u64) -> String {
    format!("holder {holder:#x}")
}

impl<W: Write> Exporter for ChromeTrace<W> {
    fn event(&mut self, e: &Event) -> std::io::Result<()> {
        self.origin_ns.get_or_insert(e.ts_ns);
        if self.state_event(e)? || self.pin_event(e)? {
            return Ok(());
        }
        let ts = e.ts_ns;
        let who = json!({ "pid": e.pid, "tid": e.tid, "comm": e.comm });
        match &e.body {
            EventBody::DaxAddHost(DaxAddHost { dax_dev, disk, .. }) => {
                self.disks.insert(*dax_dev, disk.to_string());
            }
            EventBody::Claim(c) => self.claim(e, c)?,
            EventBody::PageOrphaned(o) => self.page_orphaned(e, o)?,
            EventBody::OrphanIdle(i) => self.orphan_idle(e, i)?,
            EventBody::BlockedWait(b) => self.blocked_wait(e, b)?,
            EventBody::PmemFlush(f) => self.pmem_flush(e, f)?,
            EventBody::Release(r) => self.release(e, r)?,
            EventBody::DaxKill(DaxKill {
                dax_dev, holder, ..
            }) => {
                self.instant(
                    ProcessKey::DaxDevice(*dax_dev),
                    "kill_dax",
                    ts,
                    json!({ "holder": format!("{holder:#x}") }),
                )?;
            }
            EventBody::PagemapCreate(PagemapCreate {
                pgmap,
                pfn_start,
                pfn_end,
                memory_type,
                ..
            }) => {
                let args = json!({ "pfn_start": format!("{pfn_start:#x}"), "pfn_end": format!("{pfn_end:#x}"), "memory_type": memory_type });
                self.instant(ProcessKey::Pagemap(*pgmap), "pagemap created", ts, args)?;
                self.busy_counter(*pgmap, ts)?;
            }
            EventBody::PagemapDestroy(PagemapDestroy { pgmap, .. }) => {
                self.busy.remove(pgmap);
                self.instant(
                    ProcessKey::Pagemap(*pgmap),
                    "pagemap destroyed",
                    ts,
                    Value::Null,
                )?;
                self.busy_counter(*pgmap, ts)?;
            }
            EventBody::BusyPage(BusyPage { pgmap, pfn, .. }) => {
                if self.busy.entry(*pgmap).or_default().insert(*pfn) {
                    self.busy_counter(*pgmap, ts)?;
                }
            }
            EventBody::PageIdle(PageIdle { pgmap, pfn, .. }) => {
                if self.busy.get_mut(pgmap).is_some_and(|s| s.remove(pfn)) {
                    self.busy_counter(*pgmap, ts)?;
                }
            }
            EventBody::WaitBegin(WaitBegin {
                ino,
                dev,
                api,
                stack,
                ..
            }) => {
                let pid = self.pid(ProcessKey::Filesystem(*dev))?;
                let tid = self.tid(pid, u64::from(e.tid), || format!("{} {}", e.comm, e.tid))?;
                let args = self.pins.with_stack(json!({ "api": api }), *stack);
                self.emit("B", &format!("wait ino {ino}"), pid, tid, Some(ts), args)?;
            }
            EventBody::WaitEnd(WaitEnd {
                dev,
                latency_ns,
                ret,
                busy_pfn,
                busy_hits,
                ..
            }) => {
                let pid = self.pid(ProcessKey::Filesystem(*dev))?;
                let tid = self.tid(pid, u64::from(e.tid), || format!("{} {}", e.comm, e.tid))?;
                let args = json!({ "latency_ns": latency_ns, "ret": ret, "busy_pfn": busy_pfn.get().map(|p| format!("{p:#x}")), "busy_hits": busy_hits });
                self.emit("E", "", pid, tid, Some(ts), args)?;
            }
            EventBody::StuckWait(StuckWait {
                pfn,
                dev,
                waiter_tid,
                wait_begin_ns,
                refcount,
                ..
            }) => {
                let pid = self.pid(ProcessKey::Filesystem(*dev))?;
                let tid = self.tid(pid, u64::from(*waiter_tid), || format!("tid {waiter_tid}"))?;
                let args = json!({ "pfn": format!("{pfn:#x}"), "refcount": refcount, "waiting_since_ns": wait_begin_ns });
                self.emit("i", "stuck wait (lost wakeup)", pid, tid, Some(ts), args)?;
            }
            EventBody::Fault(Fault { dev, .. }) => self.add_faults(*dev, 1, ts)?,
            EventBody::FaultCounts(FaultCounts { dev, count, .. }) => {
                self.add_faults(*dev, *count, ts)?;
            }
            EventBody::MemoryFailure(MemoryFailure {
                pfn,
                mf_type,
                result,
                ..
            }) => {
                let args = json!({ "pfn": format!("{pfn:#x}"), "type": mf_type, "result": result });
                self.instant(ProcessKey::Daxtrace, "memory failure", ts, args)?;
            }
            EventBody::Drops(Drops { point, total, .. }) => {
                self.drops.insert(*point, *total);
                let sum: u64 = self.drops.values().sum();
                let pid = self.pid(ProcessKey::Daxtrace)?;
                self.emit(
                    "C",
                    "dropped events",
                    pid,
                    0,
                    Some(ts),
                    json!({ "dropped": sum }),
                )?;
            }
            EventBody::DmMember(DmMember {
                member_dax_dev,
                taken,
                disk,
                ..
            }) => self.dm_member(e, *member_dax_dev, taken.get(), disk.as_str())?,
            EventBody::DmAccess(DmAccess {
                dm_dax_dev,
                member_dax_dev,
                nr_pages,
                ..
            }) => self.dm_access(ts, *dm_dax_dev, *member_dax_dev, *nr_pages)?,
            EventBody::DmTableDax(DmTableDax { table, capable, .. }) => {
                let name = if capable.get() {
                    "dm table is DAX-capable"
                } else {
                    "dm table is not DAX-capable"
                };
                let args = json!({ "table": format!("{table:#x}"), "by": who });
                self.instant(ProcessKey::DeviceMapper, name, ts, args)?;
            }
            EventBody::HolderNotifyFailure(HolderNotifyFailure {
                dax_dev,
                offset,
                len,
                flags,
                holder,
                ..
            }) => {
                let args = json!({ "offset": offset, "len": len, "flags": format!("{flags:#x}"), "holder": format!("{holder:#x}") });
                self.instant(
                    ProcessKey::DaxDevice(*dax_dev),
                    "memory failure notified to the holder",
                    ts,
                    args,
                )?;
            }
            EventBody::PutStats(PutStats {
                pgmap, puts, idles, ..
            }) => {
                let pid = self.pid(ProcessKey::Pagemap(*pgmap))?;
                let args = json!({ "puts": puts, "idles": idles });
                self.emit("C", "page puts", pid, 0, Some(ts), args)?;
            }
            // The device's track starts with its first claim or dm use, named
            // after its disk once dax_add_host told it.
            EventBody::DaxAlloc(_) => {}
            // A kind this exporter has not learnt yet is an instant with its
            // fields, so a new kind shows without touching this file.
            #[allow(unreachable_patterns)]
            other => {
                let args = json!({ "event": other, "by": who });
                self.instant(ProcessKey::Daxtrace, other.name(), ts, args)?;
            }
        }
        Ok(())
    }

    fn stack(&mut self, stack: &crate::stacks::StackRecord) -> std::io::Result<()> {
        self.pins.add_stack(stack);
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.end_open_pins()?;
        write!(self.out, "\n]}}\n")?;
        self.out.flush()
    }
}
