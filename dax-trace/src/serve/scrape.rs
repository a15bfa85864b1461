//! The numbers one scrape shows, copied out of the state under its lock.
//!
//! Everything here is keyed by bounded labels: device names (at most
//! `CollectorConfig::max_devices` records), probe targets (the fixed
//! `POINTS` table), APIs, outcomes and kinds. Kernel pointers, pids, tids,
//! pfns and inodes never become labels; several records under one label are
//! summed, so a label set never repeats.
use std::collections::{BTreeMap, BTreeSet};

use dax_trace_common::probe::POINTS;

use crate::collector::{Collector, LatencyHistogram};
use crate::event::USERSPACE_POINT;
use crate::session::probe_report::{AttachKind, PointStatus};

use super::outcomes::{ApiOutcomeCounts, OTHER_DEVICE, device_by_bdev, device_label};
use super::shared::{Mode, ServeState};

/// Upper bounds of the wait histogram: 2^k ns for k in this range
/// (1.024 µs .. 68.7 s). Powers of two are bucket boundaries of the
/// collector's own histogram, so every count lands in exactly one bucket.
pub const WAIT_BUCKET_EXPONENTS: std::ops::RangeInclusive<u32> = 10..=36;

/// A histogram in Prometheus form: per-bucket (non-cumulative) counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Buckets {
    pub count: u64,
    pub sum_seconds: f64,
    /// (upper bound in seconds, count in this bucket); the last is +Inf.
    pub buckets: Vec<(f64, u64)>,
}

impl Buckets {
    pub fn from_latency(h: &LatencyHistogram) -> Self {
        let bounds: Vec<u64> = WAIT_BUCKET_EXPONENTS.map(|k| 1u64 << k).collect();
        let mut counts = vec![0u64; bounds.len() + 1];
        for (_lo, hi, n) in h.nonzero_buckets() {
            let slot = bounds.iter().position(|b| hi < *b).unwrap_or(bounds.len());
            counts[slot] += n;
        }
        let buckets = bounds
            .iter()
            .map(|b| *b as f64 / 1e9)
            .chain(std::iter::once(f64::INFINITY))
            .zip(counts)
            .collect();
        Self {
            count: h.count(),
            sum_seconds: h.total_ns() as f64 / 1e9,
            buckets,
        }
    }

    fn add(&mut self, other: &Buckets) {
        if self.buckets.is_empty() {
            *self = other.clone();
            return;
        }
        self.count += other.count;
        self.sum_seconds += other.sum_seconds;
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            mine.1 += theirs.1;
        }
    }
}

/// Per-device figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceFigures {
    pub claims_open: u64,
    pub busy_pages: u64,
    pub waits: Buckets,
    pub wait_errors: u64,
    pub waits_in_progress: u64,
    pub oldest_wait_seconds: f64,
    pub stuck_waits_total: u64,
    pub stuck_waits_now: u64,
    /// Pages its files let go while busy, and those of them still busy.
    pub orphaned_pages_total: u64,
    pub orphaned_pages_busy: u64,
    /// Eviction waits found blocked on a busy page.
    pub blocked_waits_total: u64,
    /// Flush requests to the host (virtio-pmem), by latency.
    pub flushes: Buckets,
    pub flush_errors: u64,
    pub page_puts: u64,
    pub page_idles: u64,
    pub idle_transitions: u64,
    pub memory_failures: u64,
    pub pagemap_pages: u64,
    pub dm_taken: u64,
    pub dm_dropped: u64,
    /// Tasks holding references on the device's pages now (owners reported
    /// by the gup entry points and not released).
    pub pin_owners: u64,
}

/// A pagemap as an info series (no pointer: the device using it names it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PagemapInfo {
    pub device: String,
    pub memory_type: String,
    pub fs_dax: String,
}

/// An attached probe as an info series.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProbeInfo {
    pub probe: String,
    pub family: String,
    pub kind: String,
}

/// Everything one scrape renders.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    pub version: String,
    pub kernel_release: String,
    pub source: String,
    pub source_ended: bool,
    pub events: u64,
    /// Seconds since the intake last folded an event (None: no event yet).
    pub last_event_age_seconds: Option<f64>,
    pub devices: BTreeMap<String, DeviceFigures>,
    pub claims: ApiOutcomeCounts,
    pub releases: ApiOutcomeCounts,
    pub faults: ApiOutcomeCounts,
    pub refused_unknown_devices: u64,
    pub unattributed_memory_failures: u64,
    pub stuck_waits_total: u64,
    /// Long-term pins of FS-DAX memory the kernel refused.
    pub longterm_pins_refused: u64,
    pub dm_members: BTreeSet<(String, String)>,
    pub pagemaps: BTreeSet<PagemapInfo>,
    pub probes: BTreeSet<ProbeInfo>,
    /// Every probe family and whether a point of it is attached.
    pub families_attached: BTreeMap<String, bool>,
    pub probe_events: BTreeMap<String, u64>,
    pub probe_drops: BTreeMap<String, u64>,
    /// Other kernel losses by (attach point, reason): failed map inserts,
    /// owners without a slot, stacks not stored.
    pub probe_losses: BTreeMap<(String, String), u64>,
    pub events_by_kind: BTreeMap<String, u64>,
    pub evicted_records: u64,
}

fn probe_name(point: u16) -> String {
    if point == USERSPACE_POINT {
        return "userspace".to_string();
    }
    POINTS
        .get(usize::from(point))
        .map_or_else(|| "unknown".to_string(), |p| p.target.to_string())
}

fn kind_name(kind: &AttachKind) -> &'static str {
    match kind {
        AttachKind::Fentry => "fentry",
        AttachKind::Kprobe => "kprobe",
        AttachKind::Tracepoint => "tracepoint",
        AttachKind::PerfEvent => "perf-event",
    }
}

/// The clock page and wait ages are measured on, in event nanoseconds.
fn now_ns(state: &ServeState) -> u64 {
    match state.mode {
        Mode::Live => crate::clock::monotonic_ns(),
        Mode::Replay => state.collector.totals().last_ts_ns,
    }
}

impl Scrape {
    /// Copies the numbers out of `state` (call with the lock held, briefly).
    pub fn take(state: &ServeState) -> Self {
        let c = &state.collector;
        let mut s = Scrape {
            version: env!("CARGO_PKG_VERSION").to_string(),
            kernel_release: state.info.kernel_release.clone(),
            source: match state.mode {
                Mode::Live => "live",
                Mode::Replay => "replay",
            }
            .to_string(),
            source_ended: state.source_ended,
            events: c.totals().events,
            last_event_age_seconds: state.last_event_at.map(|t| t.elapsed().as_secs_f64()),
            claims: state.outcomes.claims.clone(),
            releases: state.outcomes.releases.clone(),
            faults: state.outcomes.faults.clone(),
            refused_unknown_devices: c.totals().refused_unknown_devices,
            unattributed_memory_failures: c.totals().unattributed_memory_failures,
            stuck_waits_total: c.findings().stuck_waits.count,
            longterm_pins_refused: c.pins().refused_total(),
            evicted_records: c.totals().evicted_devices + c.totals().evicted_pagemaps,
            ..Scrape::default()
        };
        s.add_devices(c);
        s.add_pagemaps(c);
        s.add_pin_owners(c);
        s.add_open_orphans(c);
        s.add_open_waits(c, now_ns(state));
        s.add_probes(state);
        s.events_by_kind = c
            .totals()
            .by_kind
            .iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect();
        s
    }

    fn device(&mut self, label: String) -> &mut DeviceFigures {
        self.devices.entry(label).or_default()
    }

    fn add_devices(&mut self, c: &Collector) {
        for d in c.devices() {
            let label = device_label(d);
            let waits = Buckets::from_latency(&d.waits.latency);
            let f = self.device(label.clone());
            f.claims_open += d.open_claims.len() as u64;
            f.waits.add(&waits);
            f.wait_errors += d.waits.errors;
            f.stuck_waits_total += d.stuck_waits;
            f.orphaned_pages_total += d.orphaned_pages;
            f.flushes.add(&Buckets::from_latency(&d.flushes.latency));
            f.flush_errors += d.flushes.errors;
            f.blocked_waits_total += d.blocked_waits;
            f.dm_taken += d.dm_taken;
            f.dm_dropped += d.dm_dropped;
            for member in d.members.iter().filter_map(|id| c.device(*id)) {
                self.dm_members
                    .insert((label.clone(), device_label(member)));
            }
        }
    }

    fn add_pagemaps(&mut self, c: &Collector) {
        for p in c.pagemaps() {
            let label = p
                .devices
                .iter()
                .find_map(|id| c.device(*id))
                .map_or_else(|| OTHER_DEVICE.to_string(), device_label);
            let pages = p
                .identity
                .pfn_range
                .map_or(0, |(start, end)| end.saturating_sub(start));
            let f = self.device(label.clone());
            if p.destroyed_ns.is_none() {
                f.busy_pages += p.busy.len() as u64;
                f.stuck_waits_now += p.busy.values().filter(|b| b.stuck).count() as u64;
                f.pagemap_pages += pages;
            }
            f.page_puts += p.puts;
            f.page_idles += p.idles;
            f.idle_transitions += p.idle_transitions;
            f.memory_failures += p.memory_failures;
            if p.destroyed_ns.is_none() {
                self.pagemaps.insert(PagemapInfo {
                    device: label,
                    memory_type: p
                        .identity
                        .memory_type
                        .map_or_else(|| "unknown".to_string(), |t| t.to_string()),
                    fs_dax: p
                        .identity
                        .fs_dax
                        .map_or_else(|| "unknown".to_string(), |b| b.to_string()),
                });
            }
        }
    }

    /// Orphaned pages still busy, per device.
    fn add_open_orphans(&mut self, c: &Collector) {
        for o in c.open_orphans() {
            let label = o
                .device
                .and_then(|id| c.device(id))
                .map_or_else(|| OTHER_DEVICE.to_string(), device_label);
            self.device(label).orphaned_pages_busy += 1;
        }
    }

    /// Open owners per device of their pagemap (summed: owners never
    /// become labels).
    fn add_pin_owners(&mut self, c: &Collector) {
        for o in c.pins().open_owners() {
            let label = c
                .pagemap(o.pgmap)
                .and_then(|p| p.devices.iter().find_map(|id| c.device(*id)))
                .map_or_else(|| OTHER_DEVICE.to_string(), device_label);
            self.device(label).pin_owners += 1;
        }
    }

    fn add_open_waits(&mut self, c: &Collector, now_ns: u64) {
        for w in c.open_waits() {
            let label = device_by_bdev(c, w.dev).map_or_else(
                || {
                    if w.dev.0 == 0 {
                        OTHER_DEVICE.to_string()
                    } else {
                        w.dev.to_string()
                    }
                },
                device_label,
            );
            let age = now_ns.saturating_sub(w.begin.ts_ns) as f64 / 1e9;
            let f = self.device(label);
            f.waits_in_progress += 1;
            f.oldest_wait_seconds = f.oldest_wait_seconds.max(age);
        }
    }

    fn add_probes(&mut self, state: &ServeState) {
        for family in &state.info.probes.families {
            // Not needed on this kernel: no series, so no alert on a 0.
            if state.info.probes.not_needed(family).is_some() {
                continue;
            }
            self.families_attached
                .insert(family.family.clone(), family.attached());
            for point in &family.points {
                if let PointStatus::Attached { kind, .. } = &point.status {
                    self.probes.insert(ProbeInfo {
                        probe: point.target.clone(),
                        family: family.family.clone(),
                        kind: kind_name(kind).to_string(),
                    });
                }
            }
        }
        for (point, n) in &state.outcomes.events_by_point {
            *self.probe_events.entry(probe_name(*point)).or_default() += n;
        }
        for (_point, target, n) in state.collector.drops().lost_at() {
            *self.probe_drops.entry(target.to_string()).or_default() += n;
        }
        for (reason, _point, target, n) in state.collector.drops().other_losses() {
            *self
                .probe_losses
                .entry((target.to_string(), reason.to_string()))
                .or_default() += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_the_power_of_two_bucket_above_them() {
        let mut h = LatencyHistogram::default();
        for ns in [1_000, 1_500, 3_000_000, 200_000_000_000] {
            h.record(ns);
        }
        let b = Buckets::from_latency(&h);
        assert_eq!(b.count, 4);
        assert_eq!(b.buckets.len(), WAIT_BUCKET_EXPONENTS.count() + 1);
        let at = |bound_ns: u64| {
            b.buckets
                .iter()
                .find(|(le, _)| (*le - bound_ns as f64 / 1e9).abs() < 1e-15)
                .map(|(_, n)| *n)
        };
        assert_eq!(at(1 << 10), Some(1), "1 µs <= 1.024 µs");
        assert_eq!(at(1 << 11), Some(1), "1.5 µs <= 2.048 µs");
        assert_eq!(at(1 << 22), Some(1), "3 ms <= 4.19 ms");
        assert_eq!(b.buckets.last(), Some(&(f64::INFINITY, 1)), "200 s");
        assert!((b.sum_seconds - 200.003_002_5).abs() < 1e-6);
    }
}
