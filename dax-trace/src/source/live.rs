//! Live capture: load and attach the probes, then pump the ring buffer into
//! the shared [`EventStream`]. Per-CPU counters (drops per point, puts per
//! pagemap, faults per device, size and result) are summed once per
//! `stats_interval` and sent as `Drops`, `PutStats` and `FaultCounts`
//! events, so recordings and replays see them too.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aya::maps::{MapData, PerCpuArray, PerCpuHashMap, RingBuf, StackTraceMap};
use aya::{Btf, Ebpf};
use dax_trace_common::{Config, FaultKey, FsdaxRanges, PgmapPuts, PointCounters, probe::POINTS};
use tokio::io::unix::AsyncFd;

use super::EventStream;
use super::enrich::Enricher;
use super::owner_table::{OwnerMap, OwnerTable};
use super::program_costs::ProgramCosts;
use super::pump::Pump;
use crate::event::{Event, EventBody};
use crate::probes::attach::{self, AttachRequest, LoadError};
use crate::probes::sizing::{MapSizes, SizingError, mem_available, possible_cpus};
use crate::resolve::state_layout::StateLayout;
use crate::session::probe_report::{FamilyReport, PointReport, PointStatus, ProbeReport};
use crate::session::{SessionInfo, SourceKind};
use crate::symbolize::Symbolizer;

/// Where kernel symbols are read from.
const KALLSYMS: &str = "/proc/kallsyms";

/// Tunables of a live capture.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// How often counters are read and sent as events.
    pub stats_interval: Duration,
    /// Ring buffer size in bytes instead of the compiled-in 4 MiB (checked
    /// with `probes::attach::check_ring_buffer_bytes`); small sizes make the
    /// kernel drop events, which the loss test relies on.
    pub ring_buffer_bytes: Option<u32>,
    /// Test knob: pause this long after each drain of the ring buffer, so a
    /// producer outruns the consumer whatever the machine's speed (the loss
    /// test uses it with a one-page buffer to make drops certain).
    pub drain_pause: Option<Duration>,
    /// How long the census of busy pages at attach may take.
    pub census_budget: Duration,
    /// Record kernel stacks on the kinds that carry one (`--no-stacks`: off).
    pub stacks: bool,
    /// Track owners of FS-DAX pages (at the pagemap lookups before 6.15, the
    /// gup entry points from 6.15; `--no-pins`:
    /// off; refused long-term pins are still reported).
    pub pins: bool,
    /// One `Fault` record per DAX fault (`--fault-events`), as before
    /// faults were counted in the kernel; default: `FaultCounts` once a second.
    pub fault_events: bool,
    /// Pages whose owners are kept (`--max-pinned-pages`); `None`: the
    /// default, within the memory available (see `probes::sizing`).
    pub max_pinned_pages: Option<u32>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            stats_interval: Duration::from_secs(1),
            ring_buffer_bytes: None,
            drain_pause: None,
            census_budget: Duration::from_secs(1),
            stacks: true,
            pins: true,
            fault_events: false,
            max_pinned_pages: None,
        }
    }
}

/// Live capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("resolving probes on this kernel: {0}")]
    Resolve(#[from] crate::resolve::ResolveError),
    #[error("live capture is not possible here:\n{}", bullet_list(.0))]
    Unavailable(Vec<String>),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the eBPF object has no map {0}")]
    MissingMap(&'static str),
    #[error("opening map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("no probe could be attached on this kernel:\n{0}")]
    NothingAttached(String),
    #[error("polling the ring buffer: {0}")]
    Poll(#[source] std::io::Error),
    #[error(transparent)]
    Sizing(#[from] SizingError),
}

fn bullet_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("  - {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Resolves the probes on the running kernel (BTF, kallsyms, tracefs,
/// privileges), loads the programs with this kernel's offsets, attaches
/// every planned point and starts pumping events. Must be called from within
/// a tokio runtime. Fails with a message naming what is missing (root /
/// CAP_BPF, BTF, tracefs...) when nothing can be captured.
pub fn start(opts: &LiveOptions) -> Result<EventStream, LiveError> {
    let resolution = crate::resolve::resolve_host()?;
    let blockers = resolution.blockers();
    if !blockers.is_empty() {
        // The problems name every missing facility (privileges, BTF, tracefs,
        // kprobes); the blockers lead because they alone stop the capture.
        let mut all = blockers;
        all.extend(resolution.report.problems.iter().cloned());
        all.dedup();
        return Err(LiveError::Unavailable(all));
    }
    start_with(
        &resolution.config,
        &resolution.requests,
        resolution.report,
        &resolution.state,
        opts,
    )
}

/// Loads the programs with `config`, attaches `requests`, reads the state at
/// start (sent first) and starts pumping. `report` is the resolution's dry
/// report; attach outcomes replace its entries and what the state reading
/// could not read joins its problems. Must be called from within a tokio runtime.
pub fn start_with(
    config: &Config,
    requests: &[AttachRequest],
    mut report: ProbeReport,
    state: &StateLayout,
    opts: &LiveOptions,
) -> Result<EventStream, LiveError> {
    // Read while the probes load (it takes seconds under TCG), not when the
    // first stack comes and the reader should be draining.
    let kallsyms = std::thread::Builder::new()
        .name("daxtrace-kallsyms".into())
        .spawn(|| Symbolizer::loaded(KALLSYMS));
    let btf = Btf::from_sys_fs().ok();
    let mut config = *config;
    config.stacks = u32::from(opts.stacks);
    config.track_pins = u32::from(opts.pins);
    config.fault_events = u32::from(opts.fault_events);
    let config = &config;
    let (sizes, note) = MapSizes::fit(opts.max_pinned_pages, possible_cpus(), mem_available())?;
    report.problems.extend(note);
    report.limits = sizes.limits();
    let mut ebpf = attach::load(config, &sizes, opts.ring_buffer_bytes)?;
    let outcomes = attach::attach_all(&mut ebpf, requests, btf.as_ref());
    merge_outcomes(&mut report, outcomes);
    if report.attached_count().0 == 0 {
        return Err(LiveError::NothingAttached(
            crate::session::probe_report::render_reasons(&report),
        ));
    }
    let ring = RingBuf::try_from(take(&mut ebpf, attach::RING_BUFFER_MAP)?).map_err(|source| {
        LiveError::Map {
            name: "EVENTS",
            source,
        }
    })?;
    let counters: PerCpuArray<MapData, PointCounters> =
        PerCpuArray::try_from(take(&mut ebpf, "COUNTERS")?).map_err(|source| LiveError::Map {
            name: "COUNTERS",
            source,
        })?;
    let puts: PerCpuHashMap<MapData, u64, PgmapPuts> =
        PerCpuHashMap::try_from(take(&mut ebpf, "PGMAP_PUTS")?).map_err(|source| {
            LiveError::Map {
                name: "PGMAP_PUTS",
                source,
            }
        })?;
    let fault_counts: PerCpuHashMap<MapData, FaultKey, u64> =
        PerCpuHashMap::try_from(take(&mut ebpf, "FAULT_COUNTS")?).map_err(|source| {
            LiveError::Map {
                name: "FAULT_COUNTS",
                source,
            }
        })?;
    // Attached first, then read: a claim in between is counted twice (one
    // stays open, held since before the trace: never a leak), a release in
    // between is not lost.
    let at_attach = crate::state::attach::read_at_attach(
        &mut ebpf,
        config,
        state,
        opts.census_budget,
        &mut report,
    );
    let state_events = at_attach.events;
    let tracker = at_attach.tracker;
    seed_fsdax_pagemaps(&mut ebpf, &state_events);
    if let Some(ranges) = at_attach.fsdax_ranges {
        seed_fsdax_ranges(&mut ebpf, &ranges);
    }
    let stacks = take(&mut ebpf, "STACKS")
        .ok()
        .and_then(|m| StackTraceMap::try_from(m).ok());
    // SAFETY: the RingBuf owns its map fd and keeps it open and unchanged for
    // as long as it lives, and the AsyncFd owns the RingBuf.
    let ring = unsafe { AsyncFd::register(ring) }.map_err(|e| LiveError::Poll(e.into()))?;
    let info = SessionInfo {
        source: SourceKind::Live,
        kernel_release: report.kernel_release.clone(),
        probes: report,
        monotonic_to_realtime_ns: crate::clock::monotonic_to_realtime_ns(),
    };
    let (mut stream, tx) = EventStream::channel(info);
    let symbolizer = match kallsyms.map(std::thread::JoinHandle::join) {
        Ok(Ok(symbolizer)) => symbolizer,
        // Read lazily then, on the first stack.
        _ => Symbolizer::new(KALLSYMS),
    };
    let enricher = Enricher::new(stacks, stream.stacks.clone(), symbolizer);
    let owner_table = take(&mut ebpf, crate::probes::sizing::PAGE_OWNERS_MAP)
        .ok()
        .and_then(|m| OwnerMap::try_from(m).ok())
        .map(|m| OwnerTable::new(m, sizes.max_pinned_pages));
    if owner_table.is_none() {
        log::warn!("the owner table cannot be read: its evictions are not counted");
    }
    let ebpf = Arc::new(Mutex::new(ebpf));
    stream.programs = Some(ProgramCosts::new(&ebpf));
    let pump = Pump {
        _ebpf: ebpf,
        ring,
        counters,
        puts,
        tx,
        drops_seen: HashMap::new(),
        puts_seen: HashMap::new(),
        fault_counts,
        owner_table,
        faults_sent: Default::default(),
        drain_pause: opts.drain_pause,
        tracker,
        enricher: Some(enricher),
        stop: stream.stop.clone(),
    };
    tokio::spawn(pump.run(opts.stats_interval, state_events));
    Ok(stream)
}

/// Tells the pin programs which pagemaps are FS-DAX: those of the state at
/// start (the programs add the ones created later themselves).
fn seed_fsdax_pagemaps(ebpf: &mut Ebpf, state: &[Event]) {
    let Some(map) = ebpf.map_mut("FSDAX_PGMAPS") else {
        log::warn!("the eBPF object has no FSDAX_PGMAPS map: pins are not tracked");
        return;
    };
    let Ok(mut set) = aya::maps::HashMap::<_, u64, u32>::try_from(map) else {
        log::warn!("FSDAX_PGMAPS is not a hash map: pins are not tracked");
        return;
    };
    for event in state {
        if let EventBody::StatePagemap(p) = &event.body
            && p.fs_dax.get()
            && let Err(err) = set.insert(p.pgmap, 1, 0)
        {
            log::warn!("pagemap {:#x} not tracked for pins: {err}", p.pgmap);
        }
    }
}

/// Tells the pin programs where the struct pages of the FS-DAX pagemaps at
/// start lie (the programs add the pagemaps born later). Without it pins
/// of those pagemaps are not seen, and the capture says so.
fn seed_fsdax_ranges(ebpf: &mut Ebpf, found: &FsdaxRanges) {
    let Some(map) = ebpf.map_mut("FSDAX_RANGES") else {
        log::warn!("the eBPF object has no FSDAX_RANGES map: pins are not tracked");
        return;
    };
    let mut array = match aya::maps::Array::<_, FsdaxRanges>::try_from(map) {
        Ok(a) => a,
        Err(err) => {
            log::warn!("FSDAX_RANGES is not an array: pins are not tracked ({err})");
            return;
        }
    };
    // A pagemap born between the reading and now was added already.
    let mut merged = array.get(&0, 0).unwrap_or_default();
    for span in &found.spans[..(found.n as usize).min(found.spans.len())] {
        if !merged.add(*span) {
            log::warn!("more FS-DAX pagemaps than ranges kept: the pgmap set decides");
        }
    }
    if let Err(err) = array.set(0, merged, 0) {
        log::warn!("the FS-DAX page ranges were not set, pins are not tracked: {err}");
    }
}

fn take(ebpf: &mut Ebpf, name: &'static str) -> Result<aya::maps::Map, LiveError> {
    ebpf.take_map(name).ok_or(LiveError::MissingMap(name))
}

/// Replaces the dry entries of `report` with what attaching really did, and
/// adds the diagnosis of refused trampolines to its problems.
pub fn merge_outcomes(report: &mut ProbeReport, outcomes: Vec<PointReport>) {
    for outcome in outcomes {
        let family = POINTS[outcome.point as usize].family.name();
        let slot = report
            .families
            .iter_mut()
            .flat_map(|f| f.points.iter_mut())
            .find(|p| p.point == outcome.point);
        match slot {
            Some(existing) => {
                let notes = match &existing.status {
                    PointStatus::Planned { notes, .. } => notes.clone(),
                    _ => Vec::new(),
                };
                let mut outcome = outcome;
                if let PointStatus::Missing { reason } = &mut outcome.status
                    && !notes.is_empty()
                {
                    reason.push_str("; ");
                    reason.push_str(&notes.join("; "));
                }
                if outcome.module.is_none() {
                    outcome.module = existing.module.clone();
                }
                *existing = outcome;
            }
            None => match report.families.iter_mut().find(|f| f.family == family) {
                Some(f) => f.points.push(outcome),
                None => report.families.push(FamilyReport {
                    family: family.to_string(),
                    points: vec![outcome],
                }),
            },
        }
    }
    // Refused trampolines: why, and what this kernel allows instead.
    crate::resolve::trampolines::annotate(report, || {
        crate::resolve::trampolines::TrampolineHost::detect(crate::resolve::tracefs::find_mount())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::probe_report::AttachKind;

    fn point(point: u16, status: PointStatus) -> PointReport {
        PointReport {
            point,
            target: POINTS[point as usize].target.into(),
            module: None,
            status,
        }
    }

    #[test]
    fn attach_outcomes_replace_dry_entries_and_add_missing_ones() {
        let mut report = ProbeReport {
            families: vec![FamilyReport {
                family: "claim".into(),
                points: vec![point(
                    3,
                    PointStatus::Missing {
                        reason: "dry".into(),
                    },
                )],
            }],
            ..ProbeReport::default()
        };
        let attached = PointStatus::Attached {
            kind: AttachKind::Kprobe,
            fallback_from: Some("fentry failed".into()),
        };
        merge_outcomes(
            &mut report,
            vec![point(3, attached.clone()), point(9, attached.clone())],
        );
        assert_eq!(report.families[0].points[0].status, attached);
        let release = report
            .families
            .iter()
            .find(|f| f.family == "release")
            .expect("release family added");
        assert_eq!(release.points[0].point, 9);
        assert_eq!(report.attached_count(), (2, 2));
    }
}
