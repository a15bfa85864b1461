//! The metric families, encoded from a [`Scrape`] by prometheus-client's
//! [`Collector`] interface at scrape time (no metric objects live between
//! scrapes). Names follow Prometheus conventions: `daxtrace_` prefix, base
//! units, counters end in `_total` (added by the encoder), histograms, HELP
//! on every family. docs/serve.md lists each family.
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::outcomes::ApiOutcomeCounts;
use super::process::ProcessFigures;
use super::program_families::ProgramFigures;
use super::scrape::{DeviceFigures, Scrape};

pub(super) type Labels = Vec<(&'static str, String)>;
type Fmt = Result<(), std::fmt::Error>;

/// A scrape and the process figures, as one prometheus-client collector.
#[derive(Debug)]
pub struct Families {
    pub scrape: Scrape,
    pub process: ProcessFigures,
    pub programs: ProgramFigures,
}

pub(super) fn counters(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels, u64)>,
) -> Fmt {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in series {
        m.encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
    }
    Ok(())
}

pub(super) fn gauges<V: prometheus_client::encoding::EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: impl IntoIterator<Item = (Labels, V)>,
) -> Fmt {
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in series {
        m.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}

fn infos(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = Labels>,
) -> Fmt {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Info)?;
    for labels in series {
        m.encode_info(&labels)?;
    }
    Ok(())
}

pub(super) fn per_device<'s, V>(
    s: &'s Scrape,
    value: impl Fn(&DeviceFigures) -> V + 's,
) -> impl Iterator<Item = (Labels, V)> + 's {
    s.devices
        .iter()
        .map(move |(d, f)| (vec![("device", d.clone())], value(f)))
}

fn split<'c>(
    counts: &'c ApiOutcomeCounts,
    second: &'static str,
    third: &'static str,
) -> impl Iterator<Item = (Labels, u64)> + 'c {
    counts.iter().map(move |((d, a, b), n)| {
        (
            vec![
                ("device", d.clone()),
                (second, a.to_string()),
                (third, b.to_string()),
            ],
            *n,
        )
    })
}

fn one<V>(v: V) -> [(Labels, V); 1] {
    [(Vec::new(), v)]
}

impl Families {
    fn info_families(&self, enc: &mut DescriptorEncoder) -> Fmt {
        let s = &self.scrape;
        infos(
            enc,
            "daxtrace_build",
            "daxtrace version.",
            [vec![("version", s.version.clone())]],
        )?;
        infos(
            enc,
            "daxtrace_kernel",
            "Kernel release the events come from (the recording's, for a replay).",
            [vec![("release", s.kernel_release.clone())]],
        )?;
        infos(
            enc,
            "daxtrace_source",
            "Where events come from: live (probes attached) or replay (a trace file).",
            [vec![("source", s.source.clone())]],
        )?;
        infos(
            enc,
            "daxtrace_probe_attached",
            "Attach points in use, with the kind of attachment.",
            s.probes.iter().map(|p| {
                vec![
                    ("probe", p.probe.clone()),
                    ("family", p.family.clone()),
                    ("kind", p.kind.clone()),
                ]
            }),
        )?;
        gauges(
            enc,
            "daxtrace_probe_family_attached",
            "1 when a point of the probe family is attached, 0 when the family is missing on this kernel.",
            None,
            s.families_attached
                .iter()
                .map(|(f, attached)| (vec![("family", f.clone())], i64::from(*attached))),
        )?;
        infos(
            enc,
            "daxtrace_dm_member",
            "Device-mapper topology: device maps onto member.",
            s.dm_members
                .iter()
                .map(|(d, m)| vec![("device", d.clone()), ("member", m.clone())]),
        )?;
        infos(
            enc,
            "daxtrace_pagemap",
            "Live dev_pagemaps, named by the device whose filesystem uses their pages.",
            s.pagemaps.iter().map(|p| {
                vec![
                    ("device", p.device.clone()),
                    ("memory_type", p.memory_type.clone()),
                    ("fs_dax", p.fs_dax.clone()),
                ]
            }),
        )
    }

    fn stream_families(&self, enc: &mut DescriptorEncoder) -> Fmt {
        let s = &self.scrape;
        counters(
            enc,
            "daxtrace_events",
            "Events folded, by kind.",
            s.events_by_kind
                .iter()
                .map(|(k, n)| (vec![("kind", k.clone())], *n)),
        )?;
        gauges(
            enc,
            "daxtrace_source_ended",
            "1 once the source has ended (end of a replayed file); the final state is still served.",
            None,
            one(u64::from(s.source_ended)),
        )?;
        gauges(
            enc,
            "daxtrace_last_event_age",
            "Seconds since the exporter last received an event (absent before the first).",
            Some(&Unit::Seconds),
            s.last_event_age_seconds.map(|a| (Vec::new(), a)),
        )?;
        counters(
            enc,
            "daxtrace_probe_events",
            "Events received per attach point (userspace: counters read by daxtrace).",
            s.probe_events
                .iter()
                .map(|(p, n)| (vec![("probe", p.clone())], *n)),
        )?;
        counters(
            enc,
            "daxtrace_probe_drops",
            "Events lost in the kernel (ring buffer full) per attach point.",
            s.probe_drops
                .iter()
                .map(|(p, n)| (vec![("probe", p.clone())], *n)),
        )?;
        counters(
            enc,
            "daxtrace_probe_losses",
            "What attach points could not keep, by reason: map-full (a full map), owner-overflow (a pinned page's owner slots were full), stack-lost (a kernel stack not stored).",
            s.probe_losses
                .iter()
                .map(|((p, r), n)| (vec![("probe", p.clone()), ("reason", r.clone())], *n)),
        )?;
        counters(
            enc,
            "daxtrace_events_lost",
            "Events lost in the kernel, all attach points.",
            one(s.probe_drops.values().sum::<u64>()),
        )?;
        counters(
            enc,
            "daxtrace_collector_evicted_records",
            "Device and pagemap records evicted to keep the state bounded.",
            one(s.evicted_records),
        )
    }

    fn claim_families(&self, enc: &mut DescriptorEncoder) -> Fmt {
        let s = &self.scrape;
        counters(
            enc,
            "daxtrace_claims",
            "dax_device claim attempts by device, API and outcome (granted, refused).",
            split(&s.claims, "api", "outcome"),
        )?;
        counters(
            enc,
            "daxtrace_releases",
            "dax_device releases by device, API and outcome (matched, unmatched, owner-put).",
            split(&s.releases, "api", "outcome"),
        )?;
        counters(
            enc,
            "daxtrace_claims_refused_unknown_device",
            "Refused claims of devices never seen otherwise (mounts of non-DAX disks).",
            one(s.refused_unknown_devices),
        )?;
        gauges(
            enc,
            "daxtrace_claims_open",
            "Claims held now.",
            None,
            per_device(s, |f| f.claims_open),
        )?;
        counters(
            enc,
            "daxtrace_dm_table_member_changes",
            "Times device mapper took or dropped a device as a table member.",
            s.devices.iter().flat_map(|(d, f)| {
                [("taken", f.dm_taken), ("dropped", f.dm_dropped)]
                    .map(|(c, n)| (vec![("device", d.clone()), ("change", c.to_string())], n))
            }),
        )
    }

    fn page_families(&self, enc: &mut DescriptorEncoder) -> Fmt {
        let s = &self.scrape;
        gauges(
            enc,
            "daxtrace_busy_pages",
            "Pages pinned (busy) now, as seen by break-layouts scans.",
            None,
            per_device(s, |f| f.busy_pages),
        )?;
        gauges(
            enc,
            "daxtrace_pagemap_pages",
            "Pages in the live dev_pagemaps the device's filesystem uses.",
            None,
            per_device(s, |f| f.pagemap_pages),
        )?;
        counters(
            enc,
            "daxtrace_page_puts",
            "Page reference puts on the device's pagemaps (kernel counters).",
            per_device(s, |f| f.page_puts),
        )?;
        counters(
            enc,
            "daxtrace_page_idles",
            "Puts that left a page idle on the device's pagemaps (kernel counters).",
            per_device(s, |f| f.page_idles),
        )?;
        counters(
            enc,
            "daxtrace_faults",
            "DAX faults by device, size (pte, pmd) and result (ok, nopage, fallback, retry, error).",
            split(&s.faults, "size", "result"),
        )?;
        counters(
            enc,
            "daxtrace_memory_failures",
            "Memory failures on the device's pagemaps.",
            per_device(s, |f| f.memory_failures),
        )?;
        counters(
            enc,
            "daxtrace_memory_failures_unattributed",
            "Memory failures on pfns of no known pagemap.",
            one(s.unattributed_memory_failures),
        )?;
        counters(
            enc,
            "daxtrace_longterm_pins_refused",
            "Long-term pins (FOLL_LONGTERM: RDMA, io_uring fixed buffers, vfio) of fs-dax memory refused by the kernel.",
            one(s.longterm_pins_refused),
        )?;
        gauges(
            enc,
            "daxtrace_pin_owners",
            "Tasks holding references on the device's pages now (through get_user_pages/pin_user_pages).",
            None,
            per_device(s, |f| f.pin_owners),
        )
    }

    fn wait_families(&self, enc: &mut DescriptorEncoder) -> Fmt {
        let s = &self.scrape;
        let mut m = enc.encode_descriptor(
            "daxtrace_break_layout_wait_duration",
            "Break-layouts waits (truncate, hole punch waiting for pinned pages), by duration.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (d, f) in &s.devices {
            let labels: Labels = vec![("device", d.clone())];
            m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                f.waits.sum_seconds,
                f.waits.count,
                &f.waits.buckets,
                None,
            )?;
        }
        counters(
            enc,
            "daxtrace_break_layout_wait_errors",
            "Break-layouts waits that ended with an error (e.g. interrupted).",
            per_device(s, |f| f.wait_errors),
        )?;
        gauges(
            enc,
            "daxtrace_break_layout_waits_in_progress",
            "Threads waiting in break-layouts now.",
            None,
            per_device(s, |f| f.waits_in_progress),
        )?;
        gauges(
            enc,
            "daxtrace_break_layout_oldest_wait_age",
            "How long the oldest wait in progress has waited (0: none).",
            Some(&Unit::Seconds),
            per_device(s, |f| f.oldest_wait_seconds),
        )?;
        gauges(
            enc,
            "daxtrace_stuck_pages",
            "Busy pages a waiter is stuck on now (the page went idle but the waiter slept on).",
            None,
            per_device(s, |f| f.stuck_waits_now),
        )?;
        counters(
            enc,
            "daxtrace_stuck_waits",
            "Stuck waits reported (lost wakeups).",
            per_device(s, |f| f.stuck_waits_total),
        )
    }

    fn process_families(&self, enc: &mut DescriptorEncoder) -> Fmt {
        let p = &self.process;
        let mut m = enc.encode_descriptor(
            "process_cpu",
            "Total user and system CPU time spent by the exporter.",
            Some(&Unit::Seconds),
            MetricType::Counter,
        )?;
        m.encode_counter::<NoLabelSet, _, f64>(&p.cpu_seconds, None)?;
        gauges(
            enc,
            "process_resident_memory",
            "Resident memory size.",
            Some(&Unit::Bytes),
            one(p.resident_bytes),
        )?;
        gauges(
            enc,
            "process_virtual_memory",
            "Virtual memory size.",
            Some(&Unit::Bytes),
            one(p.virtual_bytes),
        )?;
        gauges(
            enc,
            "process_start_time",
            "Start time of the process since the Unix epoch.",
            Some(&Unit::Seconds),
            one(p.start_time_seconds),
        )?;
        gauges(
            enc,
            "process_open_fds",
            "Open file descriptors.",
            None,
            one(p.open_fds),
        )?;
        gauges(
            enc,
            "process_max_fds",
            "Limit of open file descriptors.",
            None,
            one(p.max_fds),
        )
    }
}

impl Collector for Families {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.info_families(&mut enc)?;
        self.stream_families(&mut enc)?;
        self.claim_families(&mut enc)?;
        self.page_families(&mut enc)?;
        self.wait_families(&mut enc)?;
        self.orphan_families(&mut enc)?;
        self.flush_families(&mut enc)?;
        self.program_families(&mut enc)?;
        self.process_families(&mut enc)
    }
}
