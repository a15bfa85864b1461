//! The state at start as a live capture reads it: right after attaching,
//! with the reader program of the loaded object, before any event is sent.
use aya::Ebpf;
use dax_trace_common::Config;

use super::kmem::BpfReader;
use super::reading::{self, Kernel};
use super::sysfs::Sysfs;
use super::{ReadOptions, Tracker};
use crate::event::Event;
use crate::probes::report::ProbeReport;
use crate::resolve::state_layout::StateLayout;

/// Reads the state at start with the reader program; what cannot be read
/// becomes a problem line of the report (a kernel without the reader's
/// facility still traces).
pub fn read_at_attach(
    ebpf: &mut Ebpf,
    config: &Config,
    layout: &StateLayout,
    census_budget: std::time::Duration,
    report: &mut ProbeReport,
) -> (Vec<Event>, Option<Tracker>) {
    let reader = match BpfReader::new(ebpf) {
        Ok(r) => r,
        Err(e) => {
            report
                .problems
                .push(format!("state at start: not read: {e}"));
            return (Vec::new(), None);
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
    let tracker = Tracker::new(
        Box::new(reader),
        layout.clone(),
        *config,
        read_opts.sysfs,
        &snap,
    );
    (snap.events, Some(tracker))
}
