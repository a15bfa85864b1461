//! The collector as the dashboard's model: one table row per device (the
//! dax_device / block device a filesystem or dm table claims) and one per
//! pagemap no device is known to use yet.
use crate::collector::{
    ClaimOutcome, ClaimRecord, Collector, DeviceId, DeviceState, LatencyHistogram, PagemapState,
};
use crate::event::{ClaimApi, Event, WaitApi};

use crate::tui::model::DashboardModel;
use crate::tui::model::at_start::{busy_at_start, start_rows, state_lines};
use crate::tui::model::owners::busy_rows;
use crate::tui::model::view::{Detail, Histogram, HolderEntry, PagemapRow};
use dax_trace_common::memory::MemoryKind;

/// Page size the pfn ranges are counted in.
const PAGE_SIZE: u64 = 4096;
/// Busy pages listed in the detail pane (the oldest; the count is complete).
const DETAIL_BUSY_PAGES: usize = 256;
/// Upper bounds of the latency histogram buckets shown: 1-2-5 steps per
/// decade (three buckets a decade, at most 2.5x apart) from 10us to 10s.
const BUCKET_BOUNDS_NS: [u64; 19] = [
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
];
/// Row keys of devices have this bit set; pagemap rows use the pagemap
/// pointer, a kernel address, which never looks like this.
const DEVICE_KEY: u64 = 1 << 48;

fn device_key(id: DeviceId) -> u64 {
    DEVICE_KEY | u64::from(id.0)
}

fn short_ptr(p: u64) -> String {
    format!("~{:07x}", p & 0xfff_ffff)
}

fn api_name(api: ClaimApi) -> &'static str {
    match api {
        ClaimApi::FsDaxGetByBdev | ClaimApi::FsDaxGet => "fs",
        ClaimApi::DaxGetByHost => "host",
        ClaimApi::SeedFsDaxClaim => "fs(seen)",
        ClaimApi::SeedDmClaim => "dm(seen)",
        ClaimApi::FsPutDax | ClaimApi::PutDax | ClaimApi::Unknown => "?",
    }
}

impl DashboardModel for Collector {
    fn ingest(&mut self, event: &Event) {
        Collector::ingest(self, event);
    }

    fn rows(&self, _now_ns: u64) -> Vec<PagemapRow> {
        let devices = self.devices().map(|d| device_row(self, d));
        let orphans = self
            .pagemaps()
            .filter(|p| p.devices.is_empty())
            .map(pagemap_row);
        devices.chain(orphans).collect()
    }

    fn detail(&self, key: u64, now_ns: u64) -> Option<Detail> {
        if key & DEVICE_KEY != 0 && key < (DEVICE_KEY << 1) {
            let id = DeviceId((key & !DEVICE_KEY) as u32);
            self.device(id).map(|d| device_detail(self, d, now_ns))
        } else {
            self.pagemap(key).map(|p| pagemap_detail(self, p, now_ns))
        }
    }
}

fn device_row(c: &Collector, d: &DeviceState) -> PagemapRow {
    let pagemaps: Vec<&PagemapState> = d.pagemaps.iter().filter_map(|&p| c.pagemap(p)).collect();
    let lat = &d.waits.latency;
    let waited = lat.count() > 0;
    PagemapRow {
        key: device_key(d.id),
        device: if d.identity.disk.is_empty() {
            d.identity.label()
        } else {
            d.identity.disk.clone()
        },
        kind: device_kind(d, &pagemaps).to_string(),
        // The disk's size when the state at start told it, else its pagemaps'.
        size_bytes: match d.size_bytes() {
            0 => pagemaps.iter().map(|p| pagemap_bytes(p)).sum(),
            known => known,
        },
        holder: holder(d),
        // Claims held since before the trace count as claims here, so that
        // their releases balance.
        claims: d.balance.claims + d.balance.pre_existing,
        releases: d.balance.releases,
        busy_pages: busy_of_device(d, &pagemaps).count() as u64,
        waits: lat.count(),
        wait_p50_ns: waited.then(|| lat.p50_ns()),
        wait_p99_ns: waited.then(|| lat.p99_ns()),
        wait_percentiles_bound: !lat.p50().exact,
        wait_max_ns: waited.then(|| lat.max_ns()),
        faults_total: d.faults.pte + d.faults.pmd,
        faults_per_sec: 0.0,
        stuck_waits: d.stuck_waits,
        orphaned_pages: d.orphaned_pages,
        blocked_waits: d.blocked_waits,
    }
}

/// Who holds `d`: its mount (from the state) or what the held claim is,
/// else the filesystem its waits told and the claimer's comm.
fn holder(d: &DeviceState) -> String {
    let Some(h) = d.current_holder() else {
        return if d.killed.is_some() { "(gone)" } else { "-" }.to_string();
    };
    if let Some(m) = &d.mount {
        format!("{} {}", m.fstype, m.mount_point)
    } else if !h.mount.is_empty() {
        h.mount.replace(" on ", " ")
    } else if h.pre_existing {
        "(held at start)".to_string()
    } else {
        format!("{} {}", filesystem(d).unwrap_or(api_name(h.api)), h.by.comm)
    }
}

/// The filesystem on `d`, when its break-layout waits have told.
fn filesystem(d: &DeviceState) -> Option<&'static str> {
    match d.waits.longest.as_ref()?.api {
        WaitApi::Ext4BreakLayouts => Some("ext4"),
        WaitApi::XfsBreakLayouts => Some("xfs"),
        WaitApi::FuseDaxBreakLayouts => Some("fuse"),
        WaitApi::DaxBreakLayout | WaitApi::DaxBreakLayoutFinal | WaitApi::Unknown => None,
    }
}

fn device_kind(d: &DeviceState, pagemaps: &[&PagemapState]) -> &'static str {
    if !d.members.is_empty() {
        "dm"
    } else if pagemaps.iter().any(|p| p.identity.fs_dax == Some(true)) {
        "fsdax"
    } else {
        "dax"
    }
}

fn pagemap_bytes(p: &PagemapState) -> u64 {
    p.identity
        .pfn_range
        .map_or(0, |(start, end)| end.saturating_sub(start) * PAGE_SIZE)
}

/// Busy pages of `d`'s filesystem: pages of its pagemaps reported on its
/// block device (all of them when the block device is not known yet).
fn busy_of_device<'a>(
    d: &'a DeviceState,
    pagemaps: &'a [&'a PagemapState],
) -> impl Iterator<Item = &'a crate::collector::BusyPage> + 'a {
    pagemaps
        .iter()
        .flat_map(|p| p.busy.values())
        .filter(move |b| d.identity.bdev.0 == 0 || b.dev == d.identity.bdev)
}

fn pagemap_row(p: &PagemapState) -> PagemapRow {
    PagemapRow {
        key: p.identity.pgmap,
        // A device-dax pagemap is named after its device (`dax0.0`).
        device: if p.identity.backing.is_empty() {
            format!("pgmap{}", short_ptr(p.identity.pgmap))
        } else {
            p.identity.backing.clone()
        },
        kind: match (p.identity.kind, p.identity.fs_dax) {
            (Some(MemoryKind::FsDax), _) | (_, Some(true)) => "fsdax",
            (Some(MemoryKind::Generic), _) => "gen",
            (Some(MemoryKind::Private), _) => "priv",
            (Some(MemoryKind::Coherent), _) => "coh",
            (Some(MemoryKind::PciP2pdma), _) => "p2p",
            (_, Some(false)) => "devmem",
            (_, None) => "?",
        }
        .to_string(),
        size_bytes: pagemap_bytes(p),
        // A pagemap is held by the driver that made it (`device_dax`,
        // `fsdev_dax`, `nd_pmem`) until it is gone.
        holder: if p.destroyed_ns.is_some() {
            "(gone)".to_string()
        } else if p.identity.driver.is_empty() {
            "-".to_string()
        } else {
            p.identity.driver.clone()
        },
        busy_pages: p.busy.len() as u64,
        ..PagemapRow::default()
    }
}

fn device_detail(c: &Collector, d: &DeviceState, now_ns: u64) -> Detail {
    let pagemaps: Vec<&PagemapState> = d.pagemaps.iter().filter_map(|&p| c.pagemap(p)).collect();
    let name = |id: &DeviceId| {
        c.device(*id)
            .map_or_else(|| format!("device {}", id.0), |m| m.identity.label())
    };
    let mut topology = Vec::new();
    for parent in &d.parents {
        topology.push(format!("{} -> this", name(parent)));
    }
    for member in &d.members {
        topology.push(format!("this -> {}", name(member)));
    }
    if d.dm_taken > 0 {
        topology.push(format!(
            "dm table member: taken {}, put {}",
            d.dm_taken, d.dm_dropped
        ));
    }
    for p in &pagemaps {
        topology.push(pagemap_line(p));
    }
    topology.extend(state_lines(d));
    let mut busy: Vec<&crate::collector::BusyPage> = busy_of_device(d, &pagemaps).collect();
    let busy_total = busy.len();
    busy.sort_by_key(|b| (b.since_ns, b.pfn));
    let (busy_at_start, busy_at_start_total) = busy_at_start(c, d, &pagemaps);
    Detail {
        title: d.identity.label(),
        topology,
        flushes: flush_line(d),
        holders: holder_history(d.history.iter()),
        busy: busy_rows(c, busy.into_iter().take(DETAIL_BUSY_PAGES), now_ns),
        busy_total,
        busy_at_start,
        busy_at_start_total,
        histogram: histogram(&d.waits.latency),
        waits: super::waits::waits_of(c, d, now_ns),
        time: crate::human::time::Timeline::default(),
        selected_busy: 0,
        pinner: None,
    }
}

/// `20, p50 1.2ms p99 3.0ms max 4.1ms` (`≤` before bucket bounds; failed
/// ones counted).
fn flush_line(d: &DeviceState) -> Option<String> {
    let lat = &d.flushes.latency;
    if lat.count() == 0 {
        return None;
    }
    let mark = if lat.p50().exact { "" } else { "≤" };
    let mut line = format!(
        "{}, p50 {mark}{} p99 {mark}{} max {}",
        lat.count(),
        crate::human::compact::duration(lat.p50_ns()),
        crate::human::compact::duration(lat.p99_ns()),
        crate::human::compact::duration(lat.max_ns()),
    );
    if d.flushes.errors > 0 {
        line.push_str(&format!(", {} failed", d.flushes.errors));
    }
    Some(line)
}

fn pagemap_line(p: &PagemapState) -> String {
    let what = p
        .identity
        .describe()
        .map_or_else(String::new, |d| format!(": {d}"));
    match p.identity.pfn_range {
        Some((start, end)) => format!(
            "pagemap {} pfn {start:#x}-{end:#x}{what}",
            short_ptr(p.identity.pgmap)
        ),
        None => format!("pagemap {}{what}", short_ptr(p.identity.pgmap)),
    }
}

fn pagemap_detail(c: &Collector, p: &PagemapState, now_ns: u64) -> Detail {
    let mut busy: Vec<&crate::collector::BusyPage> = p.busy.values().collect();
    busy.sort_by_key(|b| (b.since_ns, b.pfn));
    let (busy_at_start, busy_at_start_total) = start_rows(c, p);
    Detail {
        title: format!("pgmap{}", short_ptr(p.identity.pgmap)),
        topology: vec![pagemap_line(p)],
        flushes: None,
        holders: Vec::new(),
        busy_total: busy.len(),
        busy: busy_rows(c, busy.into_iter().take(DETAIL_BUSY_PAGES), now_ns),
        busy_at_start,
        busy_at_start_total,
        histogram: Histogram::default(),
        waits: Vec::new(),
        time: crate::human::time::Timeline::default(),
        selected_busy: 0,
        pinner: None,
    }
}

/// Claims and releases of the device's recent history, oldest first.
fn holder_history<'a>(history: impl Iterator<Item = &'a ClaimRecord>) -> Vec<HolderEntry> {
    let mut entries = Vec::new();
    for r in history {
        let holder = if r.holder == 0 {
            "(none)".to_string()
        } else {
            short_ptr(r.holder)
        };
        entries.push(HolderEntry {
            at_ns: r.claimed.ts_ns,
            holder: holder.clone(),
            action: match (r.outcome, r.pre_existing) {
                (_, true) => "held",
                (ClaimOutcome::Granted, false) => "claim",
                (ClaimOutcome::Refused, false) => "refused",
            }
            .to_string(),
            pid: r.claimed.pid,
            comm: if r.pre_existing {
                // Held since before the trace: no claimer is known.
                if r.mount.is_empty() {
                    "(at start)".to_string()
                } else {
                    r.mount.clone()
                }
            } else {
                r.claimed.comm.to_string()
            },
        });
        if let Some(rel) = &r.released {
            entries.push(HolderEntry {
                at_ns: rel.ts_ns,
                holder,
                action: "release".to_string(),
                pid: rel.pid,
                comm: rel.comm.to_string(),
            });
        }
    }
    entries.sort_by_key(|e| e.at_ns);
    entries
}

/// The waits in the shown buckets: each sample while the collector keeps
/// them all, else its fine buckets by their lower bound.
fn histogram(lat: &LatencyHistogram) -> Histogram {
    let mut counts = vec![0u64; BUCKET_BOUNDS_NS.len() + 1];
    let slot = |ns: u64| {
        BUCKET_BOUNDS_NS
            .iter()
            .position(|&bound| ns < bound)
            .unwrap_or(BUCKET_BOUNDS_NS.len())
    };
    match lat.samples() {
        Some(samples) => {
            for &ns in samples {
                counts[slot(ns)] += 1;
            }
        }
        None => {
            for (lo, _hi, n) in lat.nonzero_buckets() {
                counts[slot(lo)] += n;
            }
        }
    }
    Histogram {
        bounds_ns: BUCKET_BOUNDS_NS.to_vec(),
        counts,
    }
}
