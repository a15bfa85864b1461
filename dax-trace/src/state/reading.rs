//! One reading of the state: kernel objects (dax devices, pagemaps, waits,
//! the census) through [`KernelMemory`], and sysfs, mountinfo and dm tables,
//! turned into `state-*` events closed by a `StateEnd`. Every source that
//! fails is left out with a problem line and its bit cleared: a partial
//! state is never presented as a whole one.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use dax_trace_common::Config;
use dax_trace_common::field::MemoryKindCode;
use dax_trace_common::memory::MemoryKind;
use dax_trace_common::payload::state_bits;

use super::census::{self, Census};
use super::daxdev::{self, DaxDeviceFound};
use super::disks;
use super::kmem::KernelMemory;
use super::mountinfo::Mount;
use super::page::{PageSpace, page_file};
use super::pagemap::{self, PagemapFound};
use super::sysfs::{BlockDevice, Sysfs};
use super::waits::{self, Sleeper};
use crate::event::{
    Dev, DiskName, Event, Flag, OptU64, StateBusyPage, StateDaxDevice, StateDmTarget, StateEnd,
    StatePagemap, StateWait,
};
use crate::resolve::state_layout::StateLayout;

/// What to read and how long the census may take.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    pub census_budget: Duration,
    pub sysfs: Sysfs,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            census_budget: Duration::from_secs(1),
            sysfs: Sysfs::default(),
        }
    }
}

/// A reading: its events and what later updates compare against.
#[derive(Clone, Debug, Default)]
pub struct Reading {
    pub events: Vec<Event>,
    pub pagemaps: Vec<PagemapFound>,
    pub sleepers: Vec<Sleeper>,
    pub mounts: Vec<Mount>,
    pub dm_targets: Vec<StateDmTarget>,
    /// Sources that could not be read, with the reason.
    pub problems: Vec<String>,
    pub available: u32,
}

/// Kernel-side inputs of a reading.
pub struct Kernel<'a> {
    pub mem: &'a dyn KernelMemory,
    pub layout: &'a StateLayout,
    pub config: &'a Config,
}

/// Reads the whole state once (reason 0: the state at start).
pub fn read(kernel: &Kernel<'_>, opts: &ReadOptions) -> Reading {
    let started = Instant::now();
    let ts = crate::clock::monotonic_ns();
    let mut s = Reading {
        available: 0,
        ..Reading::default()
    };
    for (bit, why) in &kernel.layout.unavailable {
        s.problems.push(format!(
            "{}: not available here: {why}",
            crate::resolve::state_layout::source_name(*bit)
        ));
    }
    let disks = opts.sysfs.block_devices();
    let by_name: HashMap<&str, &BlockDevice> = disks.iter().map(|d| (d.name.as_str(), d)).collect();

    let space = match PageSpace::read(kernel.mem, kernel.config) {
        Ok(sp) => Some(sp),
        Err(e) => {
            s.problems.push(format!("vmemmap_base: {e}"));
            None
        }
    };
    read_pagemaps(kernel, opts, &disks, ts, &mut s);
    let dax_disks = read_dax_devices(kernel, opts, &by_name, ts, &mut s);
    disks::read_mounts(&opts.sysfs, &by_name, &dax_disks, ts, &mut s);
    disks::read_dm(&disks, &by_name, ts, &mut s);
    let mut census = Census::default();
    if let Some(space) = space {
        read_waits(kernel, &space, ts, &mut s);
        census = read_census(kernel, &space, opts.census_budget, ts, &mut s);
    }
    let count = |f: fn(&Event) -> bool| s.events.iter().filter(|e| f(e)).count() as u32;
    let end = StateEnd {
        reason: 0,
        available: s.available,
        pagemaps: count(|e| matches!(e.body, crate::event::EventBody::StatePagemap(_))),
        dax_devices: count(|e| matches!(e.body, crate::event::EventBody::StateDaxDevice(_))),
        mounts: count(|e| matches!(e.body, crate::event::EventBody::StateMount(_))),
        dm_targets: count(|e| matches!(e.body, crate::event::EventBody::StateDmTarget(_))),
        waits: count(|e| matches!(e.body, crate::event::EventBody::StateWait(_))),
        _pad: 0,
        busy_pages: census.busy,
        pages_scanned: census.scanned,
        pages_total: census.total,
        elapsed_ns: started.elapsed().as_nanos() as u64,
    };
    s.events.push(Event::own(ts, end.into()));
    s
}

fn read_pagemaps(
    kernel: &Kernel<'_>,
    opts: &ReadOptions,
    disks: &[BlockDevice],
    ts: u64,
    s: &mut Reading,
) {
    let (Some(array), Some(xa)) = (kernel.layout.pgmap_array_sym, &kernel.layout.xarray) else {
        return;
    };
    match pagemap::read_all(kernel.mem, xa, array, kernel.config) {
        Ok(found) => {
            s.available |= state_bits::PAGEMAPS;
            let dax_chars = opts.sysfs.dax_char_devices();
            for p in &found {
                let (start, end) = p.ranges.first().copied().unwrap_or((0, 0));
                let overlaps = |lo: u64, len: u64| {
                    p.ranges
                        .iter()
                        .any(|(a, b)| (a << 12) < lo + len && lo < (b << 12))
                };
                let disk = disks.iter().find(|d| {
                    d.backing
                        .as_ref()
                        .is_some_and(|(_, lo, len)| overlaps(*lo, *len))
                });
                let backing = disk
                    .and_then(|d| d.backing.as_ref().map(|b| b.0.clone()))
                    .or_else(|| {
                        dax_chars
                            .iter()
                            .find(|d| overlaps(d.start, d.size))
                            .map(|d| d.name.clone())
                    })
                    .unwrap_or_default();
                let body = StatePagemap {
                    pgmap: p.pgmap,
                    memory_type: p.memory_type,
                    fs_dax: Flag::new(p.fs_dax),
                    pfn_start: start,
                    pfn_end: end,
                    pages: p.pages(),
                    nr_range: p.ranges.len() as u32,
                    bdev: disk.map_or(Dev(0), |d| d.dev),
                    owner: p.owner,
                    disk: DiskName::from_str_lossy(disk.map_or("", |d| d.name.as_str())),
                    backing: DiskName::from_str_lossy(&backing),
                    kind: MemoryKindCode::new(MemoryKind::of_type(p.memory_type, kernel.config)),
                    _pad: 0,
                    driver: DiskName::from_str_lossy(
                        &opts
                            .sysfs
                            .range_owner(start << 12, end.saturating_sub(start) << 12)
                            .map(|o| o.driver)
                            .unwrap_or_default(),
                    ),
                };
                s.events.push(Event::own(ts, body.into()));
            }
            s.pagemaps = found;
        }
        Err(e) => s.problems.push(format!("pagemaps: {e}")),
    }
}

/// Reads the dax devices; returns the names of the disks they serve.
fn read_dax_devices(
    kernel: &Kernel<'_>,
    opts: &ReadOptions,
    by_name: &HashMap<&str, &BlockDevice>,
    ts: u64,
    s: &mut Reading,
) -> Vec<String> {
    let Some(l) = &kernel.layout.dax else {
        return Vec::new();
    };
    let found: Vec<DaxDeviceFound> = match daxdev::read_all(kernel.mem, l) {
        Ok(f) => f,
        Err(e) => {
            s.problems.push(format!("dax devices: {e}"));
            return Vec::new();
        }
    };
    s.available |= state_bits::DAX_DEVICES;
    let hosts = match (&kernel.layout.hosts, &kernel.layout.xarray) {
        (Some(h), Some(xa)) => match daxdev::read_hosts(kernel.mem, h, xa) {
            Ok(map) => {
                s.available |= state_bits::DAX_HOSTS;
                map
            }
            Err(e) => {
                s.problems.push(format!("dax-hosts: {e}"));
                HashMap::new()
            }
        },
        _ => {
            if l.host.is_some() {
                s.available |= state_bits::DAX_HOSTS;
            }
            HashMap::new()
        }
    };
    let dax_chars = opts.sysfs.dax_char_devices();
    let mut names = Vec::new();
    for d in found {
        let char_dev = dax_chars.iter().find(|c| c.dev == Some(Dev(d.rdev)));
        let disk = d.disk.clone().or_else(|| hosts.get(&d.dax_dev).cloned());
        let block = disk.as_deref().and_then(|n| by_name.get(n));
        if let Some(n) = &disk {
            names.push(n.clone());
        }
        let body = StateDaxDevice {
            dax_dev: d.dax_dev,
            holder: d.holder,
            holder_ops: d.holder_ops,
            disk: DiskName::from_str_lossy(disk.as_deref().unwrap_or("")),
            bdev: block.map_or(Dev(0), |b| b.dev),
            alive: Flag::new(d.alive),
            claims: d.claims,
            has_holders: Flag::new(l.holder_data.is_some()),
            size_bytes: block
                .map(|b| b.size_bytes)
                .or(char_dev.map(|c| c.size))
                .unwrap_or(0),
            device: DiskName::from_str_lossy(char_dev.map_or("", |c| c.name.as_str())),
            driver: DiskName::from_str_lossy(char_dev.map_or("", |c| c.driver.as_str())),
        };
        s.events.push(Event::own(ts, body.into()));
    }
    names
}

/// Whether a page is idle by the kernel's rule (see census).
pub fn page_is_idle(refcount: i64, mapcount: i64, idle_refcount: u32) -> bool {
    let mapped = if idle_refcount == 0 {
        mapcount.max(0)
    } else {
        0
    };
    refcount - mapped <= idle_refcount as i64
}

/// A `StateWait` for a sleeper, with its page's file and count.
pub fn wait_event(kernel: &Kernel<'_>, ts: u64, w: &Sleeper, ended: bool) -> Event {
    let c = kernel.config;
    let file = page_file(kernel.mem, w.page, c).unwrap_or_default();
    let refcount = kernel
        .mem
        .i32_at(w.page + c.page_refcount_off as u64)
        .unwrap_or(-1) as i64;
    let mapcount = kernel
        .layout
        .page
        .as_ref()
        .and_then(|p| kernel.mem.i32_at(w.page + p.mapcount as u64).ok())
        .map_or(0, |m| m as i64 + 1);
    let body = StateWait {
        page: w.page,
        pfn: w.pfn,
        pgmap: w.pgmap,
        ino: file.ino,
        dev: file.dev,
        waiter_tid: w.tid,
        index: OptU64::new(file.index),
        refcount: refcount.max(0) as u64,
        slept_ns: w.slept_ns.unwrap_or(0),
        idle: Flag::new(refcount >= 0 && page_is_idle(refcount, mapcount, c.idle_refcount)),
        ended: Flag::new(ended),
        uninterruptible: Flag::new(w.uninterruptible),
        _pad: 0,
    };
    Event::of_task(ts, w.tid, &w.comm, body.into())
}

fn read_waits(kernel: &Kernel<'_>, space: &PageSpace, ts: u64, s: &mut Reading) {
    let Some(w) = &kernel.layout.waits else {
        return;
    };
    if s.available & state_bits::PAGEMAPS == 0 {
        s.problems
            .push("waits: not read: the pagemaps could not be read".into());
        return;
    }
    match waits::scan(kernel.mem, w, space, &s.pagemaps) {
        Ok(found) => {
            s.available |= state_bits::WAITS;
            for sl in &found {
                s.events.push(wait_event(kernel, ts, sl, false));
            }
            s.sleepers = found;
        }
        Err(e) => s.problems.push(format!("waits: {e}")),
    }
}

fn read_census(
    kernel: &Kernel<'_>,
    space: &PageSpace,
    budget: Duration,
    ts: u64,
    s: &mut Reading,
) -> Census {
    let Some(p) = &kernel.layout.page else {
        return Census::default();
    };
    if s.available & state_bits::PAGEMAPS == 0 {
        return Census::default();
    }
    match census::run(kernel.mem, kernel.config, p, space, &s.pagemaps, budget) {
        Ok(c) => {
            s.available |= state_bits::CENSUS;
            for b in &c.listed {
                let body = StateBusyPage {
                    pgmap: b.pgmap,
                    page: b.page,
                    pfn: b.pfn,
                    refcount: b.refcount,
                    mapcount: b.mapcount,
                    mapping: b.file.mapping,
                    ino: b.file.ino,
                    dev: b.file.dev,
                    _pad: 0,
                    index: OptU64::new(b.file.index),
                };
                s.events.push(Event::own(ts, body.into()));
            }
            if c.scanned < c.total {
                s.problems.push(format!(
                    "census: budget of {:?} ran out after {} of {} pages",
                    budget, c.scanned, c.total
                ));
            }
            c
        }
        Err(e) => {
            s.problems.push(format!("census: {e}"));
            Census::default()
        }
    }
}
