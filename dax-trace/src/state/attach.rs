//! The state at start as a live capture reads it: right after attaching,
//! with the reader program of the loaded object, before any event is sent.
use aya::Ebpf;
use dax_trace_common::{Config, FsdaxRanges, PageSpan};

use super::kmem::BpfReader;
use super::page::PageSpace;
use super::reading::{self, Kernel};
use super::sysfs::Sysfs;
use super::{ReadOptions, Tracker};
use crate::event::{Event, EventBody};
use crate::resolve::state_layout::StateLayout;
use crate::session::probe_report::ProbeReport;

/// What a live capture learns by reading the kernel at attach.
pub struct AtAttach {
    /// The state at start, as events.
    pub events: Vec<Event>,
    /// Keeps the state current while tracing (None: the reader is missing).
    pub tracker: Option<Tracker>,
    /// Where the struct pages of the FS-DAX pagemaps found lie (None:
    /// `vmemmap_base` unreadable).
    pub fsdax_ranges: Option<FsdaxRanges>,
}

/// Reads the state at start with the reader program; what cannot be read
/// becomes a problem line of the report (a kernel without the reader's
/// facility still traces).
pub fn read_at_attach(
    ebpf: &mut Ebpf,
    config: &Config,
    layout: &StateLayout,
    census_budget: std::time::Duration,
    report: &mut ProbeReport,
) -> AtAttach {
    let reader = match BpfReader::new(ebpf) {
        Ok(r) => r,
        Err(e) => {
            report
                .problems
                .push(format!("state at start: not read: {e}"));
            return AtAttach {
                events: Vec::new(),
                tracker: None,
                fsdax_ranges: None,
            };
        }
    };
    let read_opts = ReadOptions {
        census_budget,
        sysfs: Sysfs::default(),
    };
    let kernel = Kernel {
        mem: &reader,
        layout,
        config,
    };
    let snap = reading::read(&kernel, &read_opts);
    report
        .problems
        .extend(snap.problems.iter().map(|p| format!("state at start: {p}")));
    // Read before the tracker takes the reader.
    let fsdax_ranges = PageSpace::read(&reader, config)
        .ok()
        .map(|space| fsdax_ranges(&space, &snap.events));
    let tracker = Tracker::new(
        Box::new(reader),
        layout.clone(),
        *config,
        read_opts.sysfs,
        &snap,
    );
    AtAttach {
        events: snap.events,
        tracker: Some(tracker),
        fsdax_ranges,
    }
}

/// The struct pages of every FS-DAX pagemap of `events`.
pub fn fsdax_ranges(space: &PageSpace, events: &[Event]) -> FsdaxRanges {
    let mut ranges = FsdaxRanges::default();
    for e in events {
        if let EventBody::StatePagemap(p) = &e.body
            && p.fs_dax.get()
            && p.pfn_end > p.pfn_start
        {
            ranges.add(PageSpan {
                lo: space.page_of(p.pfn_start),
                hi: space.page_of(p.pfn_end),
            });
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventBody, Flag};
    use dax_trace_common::payload::StatePagemap;

    fn pagemap(fs_dax: bool, pfn_start: u64, pfn_end: u64) -> Event {
        Event::own(
            1,
            EventBody::StatePagemap(StatePagemap {
                fs_dax: Flag::new(fs_dax),
                pfn_start,
                pfn_end,
                ..StatePagemap::default()
            }),
        )
    }

    #[test]
    fn the_ranges_cover_the_struct_pages_of_fsdax_pagemaps_only() {
        let space = PageSpace {
            vmemmap: 0xffff_ea00_0000_0000,
            page_size: 64,
        };
        assert_eq!(fsdax_ranges(&space, &[pagemap(false, 0, 10)]).n, 0);
        let r = fsdax_ranges(
            &space,
            &[
                pagemap(true, 0x40000, 0x60000),
                pagemap(false, 0x100000, 0x100010),
                pagemap(true, 0x80000, 0x80100),
            ],
        );
        assert_eq!(r.n, 2);
        assert!(r.covers(space.page_of(0x40000)) && r.covers(space.page_of(0x800ff)));
        assert!(!r.covers(space.page_of(0x60000)), "the gap between them");
        assert!(!r.covers(space.page_of(0x100000)), "device-dax is out");
    }
}
